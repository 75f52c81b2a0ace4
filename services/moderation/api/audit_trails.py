"""Each queue item's audit trail as a list read by primary key (see services/common/pk_lists.py).

The console asks for an item's trail every time a moderator opens, claims or decides an item.
Asked of the audit log by `item_id`, that is an index walk on MongoDB but a read of the whole log
on FerretDB (it uses an index only for `_id`), and the log only grows. So every entry's id is
also appended to its item's list, before the entry itself is written: a crash in between leaves
an id that names nothing (skipped), never an entry its trail cannot find. A repeated append (a
redelivered event re-writing a fixed-id entry) names the same entry twice, which readers drop.

Entries written before these lists existed are listed by `build`, once per database (the
moderation API runs it at start-up); until it has run, trails are read with the query.

Writes to the trails go one at a time in each process: on FerretDB an append is a read then a
write, so two at once (moderators opening one urgent item together) could lose an id. With several
API instances on FerretDB that can still happen; on MongoDB appends are atomic.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.common.pk_lists import PkList

MARKER_ID = "audit_trails"


class AuditTrails:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._migrations = db["migrations"]
        self.lists = PkList(db["audit_trails"])
        self._ready = False
        self._writing = asyncio.Lock()

    async def ready(self) -> bool:
        if not self._ready:
            self._ready = await self._migrations.find_one({"_id": MARKER_ID}) is not None
        return self._ready

    async def add(self, item_id: str, entry_id: str) -> None:
        async with self._writing:
            await self.lists.append(item_id, {"a": entry_id})

    async def entry_ids(self, item_id: str, newest: int) -> list[str]:
        """The ids of the item's newest `newest` entries (at most; some may name nothing)."""
        length = await self.lists.length(item_id)
        ids: list[str] = []
        before = length or 0
        while before > 0 and len(set(ids)) < newest:
            entries, before = await self.lists.backward(item_id, before, max_buckets=4)
            ids += [entry["a"] for entry in entries]
        return list(dict.fromkeys(ids))

    async def build(self, audit: AsyncCollection[dict[str, Any]]) -> int:
        """List every entry already in the log (once per database); returns how many items.

        Safe beside this process's live writers (one write at a time): they append their own
        entries, and one listed twice is read once.
        """
        if await self.ready():
            return 0
        by_item: dict[str, list[dict[str, Any]]] = {}
        async for entry in audit.find({}, {"item_id": 1}):
            if entry.get("item_id"):
                by_item.setdefault(entry["item_id"], []).append({"a": entry["_id"]})
        for item_id, entries in by_item.items():
            async with self._writing:
                await self.lists.extend(item_id, entries)
        await self._migrations.update_one({"_id": MARKER_ID}, {"$set": {"at": datetime.now(UTC)}}, upsert=True)
        self._ready = True
        return len(by_item)
