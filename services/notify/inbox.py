"""The inbox: every notification, durably, per recipient (database `haven_notify`).

Each stored notification gets an `event_key` that sorts in arrival order per service: the
time it was stored plus its id. It is the SSE `id:` and the inbox cursor, so a client that
reconnects with Last-Event-ID gets exactly what it missed.
"""

from __future__ import annotations

import time
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError
from pymongo.asynchronous.database import AsyncDatabase

from streams.events import MODERATORS_RECIPIENT as MODERATORS
from streams.events import Notification, utc_now


def _event_key(notification_id: str) -> str:
    return f"{time.time_ns():020d}-{notification_id}"


class Inbox:
    def __init__(self, db: AsyncDatabase) -> None:
        self._items = db["inbox"]
        # Ids of erased identities (nothing else): a notification for one that is still on its
        # way (a verdict, a reply) is not stored after the inbox was purged.
        self._erased = db["erased_recipients"]

    async def ensure_indexes(self) -> None:
        await self._items.create_index([("recipient_id", ASCENDING), ("event_key", ASCENDING)])

    async def store(self, notification: Notification) -> dict[str, Any]:
        """Store once (idempotent by notification id) and return the stored item.

        Several notify instances store the same notification: the first one wins and the others
        get its item back, so every instance pushes it with the same event key.
        """
        item = {
            "_id": notification.notification_id,
            "event_key": _event_key(notification.notification_id),
            "recipient_id": notification.recipient_id,
            "kind": notification.kind,
            "post_id": notification.post_id,
            "data": notification.data,
            "occurred_at": notification.occurred_at,
            "stored_at": utc_now(),
            "read": False,
        }
        if notification.recipient_id != MODERATORS and await self._erased.find_one({"_id": notification.recipient_id}):
            return item  # pushed to whatever is still connected for them, never kept
        existing = await self._items.find_one({"_id": notification.notification_id})
        if existing is not None:
            return existing
        try:
            await self._items.insert_one(item)
        except DuplicateKeyError:
            return await self._items.find_one({"_id": notification.notification_id}) or item
        return item

    async def after(self, recipients: list[str], event_key: str, limit: int = 500) -> list[dict[str, Any]]:
        return (
            await self._items.find({"recipient_id": {"$in": recipients}, "event_key": {"$gt": event_key}})
            .sort("event_key", ASCENDING)
            .limit(limit)
            .to_list(None)
        )

    async def page(self, recipients: list[str], cursor: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        query: dict[str, Any] = {"recipient_id": {"$in": recipients}}
        if cursor:
            query["event_key"] = {"$lt": cursor}
        items = await self._items.find(query).sort("event_key", DESCENDING).limit(limit + 1).to_list(None)
        next_cursor = items[limit - 1]["event_key"] if len(items) > limit else None
        return items[:limit], next_cursor

    async def mark_read(self, recipient_id: str, ids: list[str] | None) -> int:
        query: dict[str, Any] = {"recipient_id": recipient_id, "read": False}
        if ids is not None:
            query["_id"] = {"$in": ids}
        result = await self._items.update_many(query, {"$set": {"read": True}})
        return result.modified_count

    async def purge(self, recipient_id: str) -> None:
        """An erased identity: its inbox goes now, and what arrives for it later is not kept."""
        await self._erased.update_one({"_id": recipient_id}, {"$setOnInsert": {"at": utc_now()}}, upsert=True)
        await self._items.delete_many({"recipient_id": recipient_id})


def public_view(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": item["event_key"],
        "notification_id": item["_id"],
        "kind": item["kind"],
        "post_id": item.get("post_id"),
        "data": item.get("data", {}),
        "occurred_at": item["occurred_at"].isoformat() if hasattr(item.get("occurred_at"), "isoformat") else item.get("occurred_at"),
        "read": item.get("read", False),
    }
