"""What a live stream is sent for a new notification: the stored item when the inbox can take it
in a moment, else the notification unstored, so that a database out of reach keeps no one waiting.

An author's crisis resources are pushed to their open stream as soon as they are screened; the
inbox is the record, not the gate. An unstored item has no event key: it goes out without an SSE
`id:`, so a client that reconnects still resumes from before it and gets the stored copy (written
by the inbox consumer once the database is back) from the inbox.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from services.common.database_absence import DatabaseAbsence, DatabaseAway
from services.notify.store import Inbox, unstored_item
from streams.events import Notification

#: How long a push waits for the inbox before it goes out unstored.
STORE_WAIT_S = 2.0


class LiveItems:
    def __init__(
        self,
        inbox: Inbox,
        *,
        store_wait_s: float = STORE_WAIT_S,
        absence: DatabaseAbsence | None = None,
        on_unstored: Callable[[], None] | None = None,
    ) -> None:
        self._inbox = inbox
        self._store_wait_s = store_wait_s
        self._absence = absence or DatabaseAbsence("the inbox")
        self._on_unstored = on_unstored
        self.pushed_unstored = 0

    async def item_for(self, notification: Notification) -> dict[str, Any]:
        try:
            # Storing is idempotent: whichever consumer comes first fixes the event key.
            return await self._absence.ask(partial(self._inbox.store, notification), self._store_wait_s)
        except DatabaseAway:
            self.pushed_unstored += 1
            if self._on_unstored is not None:
                self._on_unstored()
            return unstored_item(notification)
