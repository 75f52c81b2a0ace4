"""The inbox: every notification, durably, per recipient (database `haven_notify`).

Each stored notification gets an `event_key` that sorts in arrival order per service: the
time it was stored plus its id. It is the SSE `id:` and the inbox cursor, so a client that
reconnects with Last-Event-ID gets exactly what it missed.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.common.pk_guard import GuardedUpdates
from services.notify.inbox_lists import SLACK, InboxLists, merge_newest, merge_oldest
from services.notify.words_by_post import WordsByPost
from streams.events import MODERATORS_RECIPIENT as MODERATORS
from streams.events import Event, Notification, utc_now


def _event_key(notification_id: str) -> str:
    return f"{time.time_ns():020d}-{notification_id}"


class Inbox:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._items = db["inbox"]
        # Ids of erased identities (nothing else): a notification for one that is still on its
        # way (a verdict, a reply) is not stored after the inbox was purged.
        self._erased = db["erased_recipients"]
        # Ids of posts their authors deleted (nothing else): a note or message about one that is
        # still on its way is stored without its words.
        self._deleted_posts = db["deleted_posts"]
        # Pages, replays and marking read go through each recipient's list by primary key, so
        # their cost does not grow with everyone else's notifications (see inbox_lists.py).
        self.lists = InboxLists(db)
        # A deleted post's notes and messages are found by primary key too (see words_by_post.py).
        self.words_by_post = WordsByPost(db, WORDS_BY_KIND)
        self._guarded = GuardedUpdates()
        # The store and push consumers of one process both store: one at a time, because on
        # FerretDB two appends to one recipient's list at once could lose an entry.
        self._writing = asyncio.Lock()

    async def ensure_indexes(self) -> None:
        await self._items.create_index([("recipient_id", ASCENDING), ("event_key", ASCENDING)])
        await self._items.create_index([("post_id", ASCENDING), ("kind", ASCENDING)])

    async def store(self, notification: Notification) -> dict[str, Any]:
        """Store once (idempotent by notification id) and return the stored item.

        Several notify instances store the same notification: the first one wins and the others
        get its item back, so every instance pushes it with the same event key.
        """
        async with self._writing:
            return await self._store(notification)

    async def store_many(self, notifications: list[Notification]) -> dict[str, dict[str, Any]]:
        """`store` for a fetched batch, in a handful of round trips; the stored items by id.

        Up to three `{_id: {$in}}` reads (erased recipients, deleted posts, items stored before), one insert, one list
        append per recipient and one bulk update, whatever the batch's size.
        """
        async with self._writing:
            unique = list({n.notification_id: n for n in notifications}.values())
            recipients = list({n.recipient_id for n in unique if n.recipient_id != MODERATORS})
            erased = {d["_id"] for d in await self._erased.find({"_id": {"$in": recipients}}, {"_id": 1}).to_list(None)}
            posts = list({n.post_id for n in unique if n.post_id and n.kind in WORDS_BY_KIND})
            deleted = (
                {d["_id"] for d in await self._deleted_posts.find({"_id": {"$in": posts}}, {"_id": 1}).to_list(None)}
                if posts
                else set()
            )
            stored = {
                d["_id"]: d
                for d in await self._items.find({"_id": {"$in": [n.notification_id for n in unique]}}).to_list(None)
            }
            items: dict[str, dict[str, Any]] = {}
            fresh: list[dict[str, Any]] = []
            unlisted: list[dict[str, Any]] = []
            for notification in unique:
                item = stored.get(notification.notification_id)
                if item is None:
                    item = _item(notification)
                    if notification.post_id in deleted:
                        item = without_words(item)
                    if notification.recipient_id not in erased:
                        fresh.append(item)
                elif item.get("listed") is False:  # stored, then a crash before it was listed
                    unlisted.append(item)
                items[notification.notification_id] = item
            if fresh:
                await self.words_by_post.add(fresh)
                try:
                    await self._items.insert_many([{**item, "listed": False} for item in fresh], ordered=True)
                except BulkWriteError:
                    # Another instance stored some first: theirs win, one by one as `store` does.
                    for item in fresh:
                        items[item["_id"]] = await self._store(_notification_of(item))
                    fresh = []
            await self._forget_words_if_deleted(fresh)
            await self.lists.add_many(fresh + unlisted)
            if fresh or unlisted:
                await self._items.bulk_write(
                    [UpdateOne({"_id": i["_id"]}, {"$set": {"listed": True}}) for i in fresh + unlisted], ordered=False
                )
            await self._purge_if_erased_meanwhile(fresh)
            return items

    async def _store(self, notification: Notification) -> dict[str, Any]:
        item = _item(notification)
        carries_words = notification.kind in WORDS_BY_KIND and notification.post_id
        if carries_words and await self._deleted_posts.find_one({"_id": notification.post_id}):
            item = without_words(item)
        if notification.recipient_id != MODERATORS and await self._erased.find_one({"_id": notification.recipient_id}):
            return item  # pushed to whatever is still connected for them, never kept
        existing = await self._items.find_one({"_id": notification.notification_id})
        if existing is not None:
            if existing.get("listed") is False:  # stored, then a crash before it was listed
                await self._list(existing)
            return existing
        await self.words_by_post.add([item])
        try:
            await self._items.insert_one({**item, "listed": False})
        except DuplicateKeyError:
            # Another instance stored it first and may stop before listing it: list it here too
            # (an item listed twice is read once).
            existing = await self._items.find_one({"_id": notification.notification_id})
            if existing is None:
                return item
            if existing.get("listed") is False:
                await self._list(existing)
            return existing
        await self._forget_words_if_deleted([item])
        await self._list(item)
        await self._purge_if_erased_meanwhile([item])
        return item

    async def _list(self, item: dict[str, Any]) -> None:
        await self.lists.add(item)
        await self._items.update_one({"_id": item["_id"]}, {"$set": {"listed": True}})

    async def _items_by_id(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # One `{_id: {$in}}` query: served by the _id index (MongoDB; Haven's FerretDB build).
        found = {d["_id"]: d for d in await self._items.find({"_id": {"$in": [e["n"] for e in entries]}}).to_list(None)}
        return [found[e["n"]] for e in entries if e["n"] in found]  # purged meanwhile: gone

    async def after(self, recipients: list[str], event_key: str, limit: int = 500) -> list[dict[str, Any]]:
        if await self.lists.ready():
            per_recipient = [await self.lists.oldest_after(r, event_key, limit + SLACK) for r in recipients]
            return await self._items_by_id(merge_oldest(per_recipient, limit))
        return (
            await self._items.find({"recipient_id": {"$in": recipients}, "event_key": {"$gt": event_key}})
            .sort("event_key", ASCENDING)
            .limit(limit)
            .to_list(None)
        )

    async def page(
        self, recipients: list[str], cursor: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        if await self.lists.ready():
            per_recipient = [await self.lists.newest(r, cursor, limit + 1 + SLACK) for r in recipients]
            entries = merge_newest(per_recipient, limit + 1)
            items = await self._items_by_id(entries)
            next_cursor = entries[limit - 1]["k"] if len(entries) > limit else None
            return items[:limit], next_cursor
        query: dict[str, Any] = {"recipient_id": {"$in": recipients}}
        if cursor:
            query["event_key"] = {"$lt": cursor}
        items = await self._items.find(query).sort("event_key", DESCENDING).limit(limit + 1).to_list(None)
        next_cursor = items[limit - 1]["event_key"] if len(items) > limit else None
        return items[:limit], next_cursor

    async def mark_read(self, recipient_id: str, ids: list[str] | None) -> int:
        if await self.lists.ready():
            # "Mark all read" starts where the last one ended: items are never unread again, so
            # each item costs one write once, not one on every click.
            upto = None
            if ids is None:
                ids, upto = await self.lists.ids_from(recipient_id, await self.lists.all_read_before(recipient_id))
            unique, marked = list(dict.fromkeys(ids)), 0
            for start in range(0, len(unique), 64):
                done = await asyncio.gather(
                    *(
                        self._guarded.update_one(
                            self._items, i, {"recipient_id": recipient_id, "read": False}, {"$set": {"read": True}}
                        )
                        for i in unique[start : start + 64]
                    )
                )
                marked += sum(done)
            if upto is not None:
                await self.lists.note_all_read_before(recipient_id, upto)
            return marked
        query: dict[str, Any] = {"recipient_id": recipient_id, "read": False}
        if ids is not None:
            query["_id"] = {"$in": ids}
        result = await self._items.update_many(query, {"$set": {"read": True}})
        return result.modified_count

    async def forget_words(self, post_id: str) -> None:
        """The author deleted the post: a moderator's note or message about it may quote it, so
        their words go, now and for one that arrives later. Ids, kinds and resources stay."""
        async with self._writing:
            await self._deleted_posts.update_one({"_id": post_id}, {"$setOnInsert": {"at": utc_now()}}, upsert=True)
            await self._strip_words(post_id)

    async def _forget_words_if_deleted(self, stored: list[dict[str, Any]]) -> None:
        # Another instance may have handled the deletion between our check and our insert: look
        # again now that the items are in, and take the words out if it did.
        posts = list({i["post_id"] for i in stored if i["post_id"] and i["kind"] in WORDS_BY_KIND})
        if posts:
            for found in await self._deleted_posts.find({"_id": {"$in": posts}}, {"_id": 1}).to_list(None):
                await self._strip_words(found["_id"])

    async def _purge_if_erased_meanwhile(self, stored: list[dict[str, Any]]) -> None:
        # Another instance may have erased a recipient between our check and our writes (its
        # purge runs where the identity's partition is read): look again now that the items are
        # in and listed, and purge again if it did. A purge that starts after this look deletes
        # what we wrote itself, since it marks the member first.
        recipients = list({i["recipient_id"] for i in stored if i["recipient_id"] != MODERATORS})
        if recipients:
            for found in await self._erased.find({"_id": {"$in": recipients}}, {"_id": 1}).to_list(None):
                await self._purge(found["_id"])

    async def _strip_words(self, post_id: str) -> None:
        if not await self.words_by_post.ready():  # items from before the lists: reads every item on FerretDB
            for kind, field in WORDS_BY_KIND.items():
                await self._items.update_many({"post_id": post_id, "kind": kind}, {"$set": {f"data.{field}": ""}})
            return
        # The field to blank depends on the kind: one update per kind present, by primary key.
        ids = await self.words_by_post.item_ids(post_id)
        found = await self._items.find({"_id": {"$in": ids}}, {"kind": 1}).to_list(None) if ids else []
        ids_by_kind: dict[str, list[str]] = {}
        for item in found:
            if item["kind"] in WORDS_BY_KIND:
                ids_by_kind.setdefault(item["kind"], []).append(item["_id"])
        for kind, same_kind in ids_by_kind.items():
            await self._items.update_many({"_id": {"$in": same_kind}}, {"$set": {f"data.{WORDS_BY_KIND[kind]}": ""}})

    async def purge(self, recipient_id: str) -> None:
        """An erased identity: its inbox goes now, and what arrives for it later is not kept."""
        async with self._writing:
            await self._purge(recipient_id)

    async def _purge(self, recipient_id: str) -> None:
        await self._erased.update_one({"_id": recipient_id}, {"$setOnInsert": {"at": utc_now()}}, upsert=True)
        await self._items.delete_many({"recipient_id": recipient_id})
        await self.lists.drop(recipient_id)


class StoredBatch:
    """One consumer's fetched batch, stored together (`prepare`), then taken one by one in order."""

    def __init__(self, inbox: Inbox) -> None:
        self._inbox = inbox
        self._items: dict[str, dict[str, Any]] = {}

    async def prepare(self, events: list[tuple[str, Event]]) -> None:
        notifications = [event for _, event in events if isinstance(event, Notification)]
        self._items = {}
        if len(notifications) > 1:
            self._items = await self._inbox.store_many(notifications)

    async def stored(self, notification: Notification) -> dict[str, Any]:
        item = self._items.pop(notification.notification_id, None)
        return item if item is not None else await self._inbox.store(notification)


def _notification_of(item: dict[str, Any]) -> Notification:
    return Notification(
        notification_id=item["_id"],
        recipient_id=item["recipient_id"],
        kind=item["kind"],
        post_id=item["post_id"],
        data=item["data"],
        occurred_at=item["occurred_at"],
    )


#: Notification kinds that carry a moderator's words about a post, and the field that holds them.
WORDS_BY_KIND = {"post.removed": "note", "message": "text"}


def without_words(item: dict[str, Any]) -> dict[str, Any]:
    field = WORDS_BY_KIND.get(item["kind"])
    if field is None or field not in item["data"]:
        return item
    return {**item, "data": {**item["data"], field: ""}}


def unstored_item(notification: Notification) -> dict[str, Any]:
    """The item as pushed when the inbox could not take it: no event key (it has no place yet)."""
    return {**_item(notification), "event_key": None}


def _item(notification: Notification) -> dict[str, Any]:
    return {
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
