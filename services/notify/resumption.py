"""Where a stream resumes from: the inbox's items after the client's Last-Event-ID.

The replay is asked of the database only for a moment. When it cannot answer, the stream opens
anyway and writes what arrives live without SSE ids, so that the client's Last-Event-ID stays
where it was; the replay is tried again while the stream is open, and once the inbox answers it is
written with ids, from where the client left. Items already pushed without an id then come again
with one: a duplicate by `notification_id`, never a gap.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from services.common.database_absence import DatabaseAbsence, DatabaseAway
from services.notify.store import Inbox

#: How long opening a stream (or retrying its replay) waits for the inbox.
REPLAY_WAIT_S = 2.0


class Resumption:
    def __init__(
        self,
        inbox: Inbox,
        absence: DatabaseAbsence,
        recipients: list[str],
        last_event_id: str,
        *,
        wait_s: float = REPLAY_WAIT_S,
    ) -> None:
        self._inbox = inbox
        self._absence = absence
        self._recipients = recipients
        self._wait_s = wait_s
        self.last_sent = last_event_id
        #: Whether the replay was written (or none was asked for): until then, frames carry no id.
        self.caught_up = not last_event_id

    async def catch_up(self) -> list[dict[str, Any]]:
        """The items to write, in order, if the replay is due and the inbox answers; else none."""
        if self.caught_up:
            return []
        try:
            items = await self._absence.ask(partial(self._inbox.after, self._recipients, self.last_sent), self._wait_s)
        except DatabaseAway:
            return []
        self.caught_up = True
        return items

    def sent(self, item: dict[str, Any]) -> None:
        self.last_sent = item["event_key"]

    def is_new(self, item: dict[str, Any]) -> bool:
        """Whether a live stored item is past what was already written with an id."""
        return bool(item["event_key"] > self.last_sent)
