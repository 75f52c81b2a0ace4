"""Which post revisions the worker has screened, so a redelivered post is not screened twice.

The records save work; they do not gate it. While the database is out of reach the worker goes on
screening and emitting (an author's resources must not wait for a database), keeps the records it
could not write in memory, and writes them once the database answers again. A post redelivered in
between may be screened and emitted a second time, which every consumer of its events absorbs:
verdicts apply by revision, notifications are stored by id.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Iterable
from functools import partial
from itertools import islice
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from services.common.database_absence import DatabaseAbsence, DatabaseAway

log = logging.getLogger(__name__)

#: How long a batch waits for the database, at most, to look up its records and to write them. A
#: database that is gone costs the driver's server-selection timeout (5 s), a frozen one its socket
#: timeout (15 s); a batch (and the author waiting for resources) should not pay either.
READ_WAIT_S = 2.0
WRITE_WAIT_S = 5.0
#: Records kept for writing later, at most (about 100 bytes each). Past it the oldest are
#: forgotten: their posts, if redelivered, are screened again.
MAX_UNWRITTEN = 100_000
WRITE_CHUNK = 1_000
#: How often records kept in memory are tried again when no batch comes to write them.
RETRY_UNWRITTEN_EVERY_S = 10.0


class ScreeningRecords:
    def __init__(
        self,
        collection: AsyncCollection[dict[str, Any]],
        *,
        absence: DatabaseAbsence | None = None,
        max_unwritten: int = MAX_UNWRITTEN,
    ) -> None:
        self._collection = collection
        self._absence = absence or DatabaseAbsence("screening records")
        self._max_unwritten = max_unwritten
        self._unwritten: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.forgotten = 0

    @property
    def unwritten(self) -> int:
        return len(self._unwritten)

    @property
    def database_away(self) -> bool:
        return self._absence.away

    async def unscreened(self, keys: Iterable[str]) -> set[str]:
        """The keys with no record: every key not remembered here when the database cannot say."""
        fresh = {key for key in keys if key not in self._unwritten}
        if not fresh:
            return fresh

        # One `{_id: {$in}}` for the batch: an `_id` index hit on MongoDB and on Haven's FerretDB
        # build (its patch; a stock FerretDB 1.24 would read the whole collection for it).
        def lookup() -> Awaitable[list[dict[str, Any]]]:
            return self._collection.find({"_id": {"$in": sorted(fresh)}}, {"_id": 1}).to_list(None)

        try:
            found = await self._absence.ask(lookup, READ_WAIT_S)
        except (DatabaseAway, PyMongoError) as exc:
            # The records only save work: whatever the database answers (away, or refusing: a
            # changed password, a server error), the posts are screened and their authors helped.
            if not isinstance(exc, DatabaseAway):
                log.warning("screening records could not be read (%s); screening without them", type(exc).__name__)
            return fresh
        return fresh - {doc["_id"] for doc in found}

    async def remember(self, records: dict[str, dict[str, Any]]) -> None:
        """Record these screenings (key -> fields), now if the database answers, else later."""
        for key, fields in records.items():
            self._unwritten[key] = fields
            self._unwritten.move_to_end(key)
        while len(self._unwritten) > self._max_unwritten:
            self._unwritten.popitem(last=False)
            self.forgotten += 1
        while self._unwritten:
            chunk = list(islice(self._unwritten.items(), WRITE_CHUNK))
            writes = [UpdateOne({"_id": key}, {"$set": fields}, upsert=True) for key, fields in chunk]
            try:
                await self._absence.ask(partial(self._collection.bulk_write, writes, ordered=False), WRITE_WAIT_S)
            except (DatabaseAway, PyMongoError) as exc:
                if not isinstance(exc, DatabaseAway):
                    log.warning("screening records could not be written (%s); kept for later", type(exc).__name__)
                return
            for key, _ in chunk:
                self._unwritten.pop(key, None)


async def keep_writing_unwritten(records: ScreeningRecords, every_s: float = RETRY_UNWRITTEN_EVERY_S) -> None:
    """Run for the agent's lifetime: records kept while the database was away are written once it is
    back, even when no post arrives (a restart in between would forget them)."""
    while True:
        await asyncio.sleep(every_s)
        if records.unwritten:
            await records.remember({})
