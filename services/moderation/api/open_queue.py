"""The open part of the review queue, kept apart from the ever-growing item history.

`review_items` keeps every item ever opened, decided ones included (the record of each decision),
so a listing that filters it by status reads more with every held or reported post. The queue
needs only the open ones: `review_open` holds one small document per open item,
`{_id: item id, r: level rank, c: created at}`, written when an item opens or its level rises and
deleted when it is decided. Its size is the moderators' backlog, not the forum's history. A page
asks for the next `limit` entries in queue order after the cursor (sorted and limited by the
database: on MongoDB an index walk of `limit` entries; FerretDB 1.24 sorts the backlog itself,
and only the page comes back), and fetches their items with one `{_id: {$in}}`.

Each entry is its own document, so concurrent writers (the consumer opening items, moderators
deciding them) never rewrite each other's entries. An entry left behind (an event redelivered
after its decision, a crash before the delete) is dropped by the next listing that meets it,
which checks every item's own status. Entries for items opened before this collection existed
are written by `build`, once, on the first listing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

MARKER_ID = "review_open"
#: Queue order over the entries; `ensure_indexes` gives MongoDB the index that walks it.
ENTRY_ORDER = [("r", DESCENDING), ("c", ASCENDING), ("_id", ASCENDING)]


def queue_key(rank: int, created_at: datetime, item_id: str) -> tuple[int, datetime, str]:
    """Sorts like QUEUE_ORDER: most urgent first, oldest first, then by id."""
    return (-rank, created_at, item_id)


class OpenQueue:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._db = db
        self.entries = db["review_open"]
        self._built = False

    async def ensure_indexes(self) -> None:
        await self.entries.create_index(ENTRY_ORDER)

    async def opened(self, item_id: str, rank: int, created_at: datetime) -> None:
        """The item is open at (at least) this level. Idempotent."""
        await self.entries.update_one(
            {"_id": item_id}, {"$max": {"r": rank}, "$setOnInsert": {"c": created_at}}, upsert=True
        )

    async def closed(self, item_id: str) -> None:
        await self.entries.delete_one({"_id": item_id})

    async def build(self, items: Any, open_statuses: Collection[str]) -> None:
        """Entries for every open item (once per database; repeating it is harmless)."""
        if self._built or await self._db["migrations"].find_one({"_id": MARKER_ID}) is not None:
            self._built = True
            return
        async for item in items.find({"status": {"$in": list(open_statuses)}}, {"level_rank": 1, "created_at": 1}):
            await self.opened(item["_id"], item["level_rank"], item["created_at"])
        await self._db["migrations"].update_one({"_id": MARKER_ID}, {"$set": {"at": datetime.now(UTC)}}, upsert=True)
        self._built = True

    async def waiting_since(self, rank: int, cutoff: datetime) -> list[str]:
        """Ids of the entries at exactly this level opened at or before `cutoff`, oldest first
        (some may name items decided since: callers check each item)."""
        entries = self.entries.find({"r": rank, "c": {"$lte": cutoff}}, {"_id": 1}).sort(ENTRY_ORDER)
        return [entry["_id"] async for entry in entries]

    async def page(
        self,
        items: Any,
        limit: int,
        after: tuple[int, datetime, str] | None,
        is_open: Callable[[dict[str, Any]], bool],
    ) -> list[dict[str, Any]]:
        """Up to `limit` open items in queue order, after the position `after` (a `queue_key`)."""
        found: list[dict[str, Any]] = []
        position = after
        while len(found) < limit:
            wanted = limit - len(found)
            chunk = [
                queue_key(e["r"], e["c"], e["_id"])
                for e in await self.entries.find(_after(position)).sort(ENTRY_ORDER).limit(wanted).to_list(None)
            ]
            if not chunk:
                break
            position = chunk[-1]
            docs = {d["_id"]: d for d in await items.find({"_id": {"$in": [e[2] for e in chunk]}}).to_list(None)}
            for entry in chunk:
                doc = docs.get(entry[2])
                if doc is not None and is_open(doc):
                    found.append(doc)
                else:
                    await self.closed(entry[2])  # decided (or gone) since: the entry was left behind
            if len(chunk) < wanted:
                break
        # The items' own levels and times decide the final order (an entry's may lag a moment).
        return sorted(found, key=lambda d: queue_key(d["level_rank"], d["created_at"], d["_id"]))


def _after(position: tuple[int, datetime, str] | None) -> dict[str, Any]:
    """The entries after a `queue_key` in queue order (a filter for ENTRY_ORDER)."""
    if position is None:
        return {}
    negative_rank, created_at, item_id = position
    rank = -negative_rank
    return {
        "$or": [
            {"r": {"$lt": rank}},
            {"r": rank, "c": {"$gt": created_at}},
            {"r": rank, "c": created_at, "_id": {"$gt": item_id}},
        ]
    }
