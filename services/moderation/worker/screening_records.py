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
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import ConnectionFailure

log = logging.getLogger(__name__)

#: How long a batch waits for the database, at most, to look up its records and to write them. A
#: database that is gone costs the driver's server-selection timeout (5 s), a frozen one its socket
#: timeout (15 s); a batch (and the author waiting for resources) should not pay either.
READ_WAIT_S = 2.0
WRITE_WAIT_S = 5.0
#: After the database failed to answer, how long to screen without asking it again.
RETRY_DATABASE_AFTER_S = 5.0
#: Records kept for writing later, at most (about 100 bytes each). Past it the oldest are
#: forgotten: their posts, if redelivered, are screened again.
MAX_UNWRITTEN = 100_000
WRITE_CHUNK = 1_000


class ScreeningRecords:
    def __init__(
        self,
        collection: AsyncCollection[dict[str, Any]],
        *,
        retry_database_after_s: float = RETRY_DATABASE_AFTER_S,
        max_unwritten: int = MAX_UNWRITTEN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._collection = collection
        self._retry_after_s = retry_database_after_s
        self._max_unwritten = max_unwritten
        self._clock = clock
        self._away_until: float | None = None
        self._unwritten: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.forgotten = 0

    @property
    def unwritten(self) -> int:
        return len(self._unwritten)

    @property
    def database_away(self) -> bool:
        return self._away_until is not None

    async def unscreened(self, keys: Iterable[str]) -> set[str]:
        """The keys with no record: every key not remembered here when the database cannot say."""
        fresh = {key for key in keys if key not in self._unwritten}
        if not fresh or self._waiting():
            return fresh
        try:
            # One `{_id: {$in}}` for the batch: an `_id` index hit on MongoDB and on Haven's FerretDB
            # build (its patch; a stock FerretDB 1.24 would read the whole collection for it).
            found = await asyncio.wait_for(
                self._collection.find({"_id": {"$in": sorted(fresh)}}, {"_id": 1}).to_list(None), READ_WAIT_S
            )
        except (ConnectionFailure, TimeoutError) as exc:
            self._went_away(exc)
            return fresh
        self._came_back()
        return fresh - {doc["_id"] for doc in found}

    async def remember(self, records: dict[str, dict[str, Any]]) -> None:
        """Record these screenings (key -> fields), now if the database answers, else later."""
        for key, fields in records.items():
            self._unwritten[key] = fields
            self._unwritten.move_to_end(key)
        while len(self._unwritten) > self._max_unwritten:
            self._unwritten.popitem(last=False)
            self.forgotten += 1
        if self._waiting():
            return
        try:
            while self._unwritten:
                chunk = list(self._unwritten.items())[:WRITE_CHUNK]
                writes = [UpdateOne({"_id": key}, {"$set": fields}, upsert=True) for key, fields in chunk]
                await asyncio.wait_for(self._collection.bulk_write(writes, ordered=False), WRITE_WAIT_S)
                for key, _ in chunk:
                    self._unwritten.pop(key, None)
        except (ConnectionFailure, TimeoutError) as exc:
            self._went_away(exc)
            return
        self._came_back()

    def _waiting(self) -> bool:
        return self._away_until is not None and self._clock() < self._away_until

    def _went_away(self, exc: Exception) -> None:
        if self._away_until is None:
            log.warning(
                "screening records out of reach (%s); screening goes on, records kept in memory",
                type(exc).__name__,
            )
        self._away_until = self._clock() + self._retry_after_s

    def _came_back(self) -> None:
        if self._away_until is not None:
            log.warning("screening records reachable again; %d waiting to be written", len(self._unwritten))
        self._away_until = None
