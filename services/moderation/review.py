"""The review queue and its audit log (database `haven_moderation`).

Items come from held verdicts (posts.screened) and peer reports (posts.reported), upserted by a
deterministic id so a redelivered event changes nothing. A claim is a lease: while it is live,
only its holder (or an admin) may decide the item.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from services.common.identities import Identity
from streams.events import PostReported, PostScreened, new_id, utc_now

LEVELS = {"urgent": 3, "hold": 2, "report": 1, "other": 0}
LEVEL_NAMES = {rank: name for name, rank in LEVELS.items()}
OPEN_STATUSES = ("open", "escalated")
CLAIM_LEASE = timedelta(minutes=10)


class ReviewError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class ReviewQueue:
    def __init__(self, db: AsyncDatabase, claim_lease: timedelta = CLAIM_LEASE) -> None:
        self._items = db["review_items"]
        self._audit = db["audit"]
        self._lease = claim_lease

    async def ensure_indexes(self) -> None:
        await self._items.create_index([("status", ASCENDING), ("level_rank", DESCENDING), ("created_at", ASCENDING)])
        await self._items.create_index([("post_id", ASCENDING)])
        await self._audit.create_index([("post_id", ASCENDING), ("at", ASCENDING)])

    async def add_screened(self, event: PostScreened) -> str | None:
        """Queue a held post; returns the new item's level, or None when nothing new was queued."""
        if event.verdict.action not in ("hold", "hold_urgent"):
            return None
        level = "urgent" if event.verdict.action == "hold_urgent" else "hold"
        result = await self._items.update_one(
            {"_id": f"post:{event.post_id}:{event.revision}"},
            {"$setOnInsert": {
                "post_id": event.post_id, "thread_id": event.thread_id, "author_id": event.author_id,
                "revision": event.revision, "board_slug": event.board_slug, "title": event.title, "body": event.body,
                "verdict": event.verdict.model_dump(), "resources": [r.model_dump() for r in event.resources],
                "reports": [], "level_rank": LEVELS[level], "status": "open", "created_at": event.occurred_at,
            }},
            upsert=True,
        )
        return level if result.upserted_id is not None else None

    async def add_report(self, event: PostReported) -> None:
        level = "hold" if event.reason == "worried_about_author" else "report"
        report = {"report_id": event.report_id, "reason": event.reason, "note": event.note, "at": event.occurred_at}
        item_id = f"report:{event.post_id}"
        await self._items.update_one(
            {"_id": item_id},
            {"$setOnInsert": {
                "post_id": event.post_id, "thread_id": event.thread_id, "author_id": event.author_id, "revision": 1,
                "title": event.title, "body": event.body, "verdict": None, "resources": [], "reports": [],
                "status": "open", "created_at": event.occurred_at,
            }, "$max": {"level_rank": LEVELS[level]}},
            upsert=True,
        )
        await self._items.update_one(
            {"_id": item_id, "reports.report_id": {"$ne": event.report_id}}, {"$push": {"reports": report}}
        )

    async def forget_author(self, author_id: str) -> None:
        """An erased member: their words leave the queue; moderators' own audit entries stay."""
        await self._items.update_many(
            {"author_id": author_id}, {"$set": {"author_id": None, "body": None, "title": None, "erased_author": True}}
        )

    async def open_items(self, limit: int = 200) -> list[dict[str, Any]]:
        return (
            await self._items.find({"status": {"$in": list(OPEN_STATUSES)}})
            .sort([("level_rank", DESCENDING), ("created_at", ASCENDING)])
            .limit(limit)
            .to_list(None)
        )

    async def item(self, item_id: str) -> dict[str, Any]:
        doc = await self._items.find_one({"_id": item_id})
        if doc is None:
            raise ReviewError(404, "There is no such queue item.")
        return doc

    async def claim(self, item_id: str, moderator: Identity) -> dict[str, Any]:
        now = utc_now()
        doc = await self._items.find_one_and_update(
            {
                "_id": item_id, "status": {"$in": list(OPEN_STATUSES)},
                "$or": [{"claim": None}, {"claim.until": {"$lt": now}}, {"claim.moderator_id": moderator.id}],
            },
            {"$set": {"claim": {"moderator_id": moderator.id, "until": now + self._lease}}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            current = await self.item(item_id)
            if current["status"] not in OPEN_STATUSES:
                raise ReviewError(409, "This item has been decided already.")
            raise ReviewError(409, "Another moderator is handling this item.")
        await self.audit(doc, moderator, "claim")
        return doc

    async def decide(self, item_id: str, moderator: Identity, decision: str, note: str) -> dict[str, Any]:
        current = await self.item(item_id)
        if current["status"] not in OPEN_STATUSES:
            raise ReviewError(409, "This item has been decided already.")
        claim = current.get("claim")
        claimed_by_other = claim and claim["moderator_id"] != moderator.id and claim["until"] > utc_now()
        if claimed_by_other and moderator.role != "admin":
            raise ReviewError(409, "Another moderator holds the claim on this item; only an admin may decide it.")
        status = "escalated" if decision == "escalate" else "decided"
        doc = await self._items.find_one_and_update(
            {"_id": item_id, "status": {"$in": list(OPEN_STATUSES)}},
            {"$set": {"status": status, "decision": {"decision": decision, "note": note, "moderator_id": moderator.id,
                                                     "at": utc_now()}}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise ReviewError(409, "This item has been decided already.")
        await self.audit(doc, moderator, decision, note)
        return doc

    async def audit(self, item: dict[str, Any], moderator: Identity, action: str, note: str = "") -> None:
        await self._audit.insert_one({
            "_id": new_id(), "item_id": item["_id"], "post_id": item["post_id"], "moderator_id": moderator.id,
            "action": action, "note": note, "at": utc_now(),
        })

    async def audit_log(self, post_id: str | None) -> list[dict[str, Any]]:
        query = {"post_id": post_id} if post_id else {}
        return await self._audit.find(query).sort("at", ASCENDING).limit(500).to_list(None)


def item_view(item: dict[str, Any]) -> dict[str, Any]:
    claim = item.get("claim")
    return {
        "item_id": item["_id"],
        "post_id": item["post_id"],
        "thread_id": item["thread_id"],
        "level": LEVEL_NAMES[item["level_rank"]],
        "status": item["status"],
        "title": item.get("title"),
        "body": item.get("body"),
        "verdict": item.get("verdict"),
        "reasons": (item.get("verdict") or {}).get("reasons", []),
        "resources": item.get("resources", []),
        "reports": [{k: v for k, v in r.items() if k != "at"} for r in item.get("reports", [])],
        "claimed_by": claim["moderator_id"] if claim else None,
        "created_at": item["created_at"].isoformat(),
    }
