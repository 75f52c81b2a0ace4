"""Going on without a database that stopped answering, and asking it again only now and then.

Used where work can go on without the database (the worker's screening records, notify's live
pushes and stream replays, the token checks answered from remembered identities): each try at a
database that is gone costs the driver's timeouts, which the work waiting behind it should not pay
on every event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pymongo.errors import ConnectionFailure

log = logging.getLogger(__name__)

T = TypeVar("T")

#: After a failed try, how long to go on without asking the database again.
RETRY_AFTER_S = 5.0


class DatabaseAway(Exception):
    """The database did not answer in time, or is being left alone after it did not."""


class DatabaseAbsence:
    def __init__(
        self, what: str, *, retry_after_s: float = RETRY_AFTER_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._what = what
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._away_until: float | None = None

    @property
    def away(self) -> bool:
        """Whether the last try failed (cleared by the next one that succeeds)."""
        return self._away_until is not None

    async def ask(self, attempt: Callable[[], Awaitable[T]], wait_s: float) -> T:
        """`attempt()`'s result if the database answers within `wait_s`; else raises DatabaseAway.
        While the last failure is recent, raises at once without calling `attempt`."""
        if self._away_until is not None and self._clock() < self._away_until:
            raise DatabaseAway(self._what)
        try:
            result = await asyncio.wait_for(attempt(), wait_s)
        except (ConnectionFailure, TimeoutError) as exc:
            if self._away_until is None:
                log.warning("%s out of reach (%s); going on without it", self._what, type(exc).__name__)
            self._away_until = self._clock() + self._retry_after_s
            raise DatabaseAway(self._what) from exc
        if self._away_until is not None:
            log.warning("%s reachable again", self._what)
            self._away_until = None
        return result
