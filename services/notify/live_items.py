"""What a live stream is sent for a new notification: the stored item when the inbox can take it
in a moment, else the notification unstored, so that a database out of reach keeps no one waiting.

An author's crisis resources are pushed to their open stream as soon as they are screened; the
inbox is the record, not the gate. An unstored item has no event key: it goes out without an SSE
`id:`, so a client that reconnects still resumes from before it and gets the stored copy (written
by the inbox consumer once the database is back) from the inbox.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from pymongo.errors import ConnectionFailure

from services.notify.store import Inbox, unstored_item
from streams.events import Notification

log = logging.getLogger(__name__)

#: How long a push waits for the inbox before it goes out unstored.
STORE_WAIT_S = 2.0
#: After the inbox failed to answer, how long to push unstored without asking it again.
RETRY_DATABASE_AFTER_S = 5.0


class LiveItems:
    def __init__(
        self,
        inbox: Inbox,
        *,
        store_wait_s: float = STORE_WAIT_S,
        retry_database_after_s: float = RETRY_DATABASE_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
        on_unstored: Callable[[], None] | None = None,
    ) -> None:
        self._inbox = inbox
        self._on_unstored = on_unstored
        self._store_wait_s = store_wait_s
        self._retry_after_s = retry_database_after_s
        self._clock = clock
        self._away_until: float | None = None
        self.pushed_unstored = 0

    async def item_for(self, notification: Notification) -> dict[str, Any]:
        if self._away_until is not None and self._clock() < self._away_until:
            return self._unstored(notification)
        try:
            # Storing is idempotent: whichever consumer comes first fixes the event key.
            item = await asyncio.wait_for(self._inbox.store(notification), self._store_wait_s)
        except (ConnectionFailure, TimeoutError) as exc:
            if self._away_until is None:
                log.warning("inbox out of reach (%s); pushing to live streams unstored", type(exc).__name__)
            self._away_until = self._clock() + self._retry_after_s
            return self._unstored(notification)
        if self._away_until is not None:
            log.warning("inbox reachable again; %d notifications were pushed unstored", self.pushed_unstored)
            self._away_until = None
        return item

    def _unstored(self, notification: Notification) -> dict[str, Any]:
        self.pushed_unstored += 1
        if self._on_unstored is not None:
            self._on_unstored()
        return unstored_item(notification)
