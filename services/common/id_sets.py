"""Sets of document ids kept under a key, read and written by primary key.

"The review items about this post", "the replies quoting this post", "the notes about this post":
each is asked of a growing collection by a field beside `_id`, which MongoDB serves from an index
but FerretDB answers by reading the whole collection. An `IdSets` keeps such a set as one document
per key, `{_id: key, <field>: [ids]}`, so the question costs one primary-key read. Callers add an
id before writing the document it names: a crash in between leaves an id that names nothing
(readers skip it), never a document its key cannot find.

Documents written before a set existed are listed by `build`, once per database (recorded in
`migrations`); until then `ready()` is False and callers ask their query as before. A document an
older version writes after the build is in no set, so stop older instances before the first
start of a version that reads the sets.

Adds go one at a time in each process: on FerretDB `$addToSet` is a read then a write, so two adds
under one key at the same moment could lose an id. With several instances on FerretDB that can
still happen; on MongoDB adds are atomic.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

_WRITES_AT_ONCE = 500


class IdSets:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], collection: str, *, field: str) -> None:
        self.collection = db[collection]
        self._field = field
        self._migrations = db["migrations"]
        self._marker_id = collection
        self._ready = False
        self._writing = asyncio.Lock()

    async def ready(self) -> bool:
        """Whether every document written before the sets existed is listed (see `build`)."""
        if not self._ready:
            self._ready = await self._migrations.find_one({"_id": self._marker_id}) is not None
        return self._ready

    async def add(self, ids_by_key: Mapping[str, Iterable[str]]) -> None:
        """Idempotent. Call before writing the documents these ids name."""
        sets = [(key, listed) for key, ids in ids_by_key.items() if (listed := list(ids))]
        for start in range(0, len(sets), _WRITES_AT_ONCE):
            writes = [
                UpdateOne({"_id": key}, {"$addToSet": {self._field: {"$each": ids}}}, upsert=True)
                for key, ids in sets[start : start + _WRITES_AT_ONCE]
            ]
            async with self._writing:
                await self.collection.bulk_write(writes, ordered=False)

    async def ids(self, keys: list[str]) -> list[str]:
        """The ids listed under any of these keys (some may name documents gone since)."""
        if not keys:
            return []
        found = await self.collection.find({"_id": {"$in": keys}}).to_list(None)
        return sorted({doc_id for listed in found for doc_id in listed.get(self._field) or []})

    async def build(self, listed: AsyncIterator[tuple[str, str]], *, force: bool = False) -> int:
        """List the `(key, id)` pairs of the documents already written, once per database unless
        forced; returns how many keys. `listed` is read only when the build runs. Safe beside this
        process's live adders (adds are idempotent and go one at a time)."""
        if not force and await self.ready():
            return 0
        by_key: dict[str, list[str]] = {}
        async for key, doc_id in listed:
            by_key.setdefault(key, []).append(doc_id)
        await self.add(by_key)
        await self._migrations.update_one({"_id": self._marker_id}, {"$set": {"at": datetime.now(UTC)}}, upsert=True)
        self._ready = True
        return len(by_key)
