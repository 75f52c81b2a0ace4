"""Where a stream resumes from: the inbox's items after the client's Last-Event-ID.

The replay is asked of the database only for a moment. When it cannot answer, the stream opens
anyway and writes what arrives live without SSE ids, so that the client's Last-Event-ID stays
where it was; the replay is tried again while the stream is open, and once the inbox answers it is
written with ids, from where the client left. Items already pushed without an id then come again
with one: a duplicate by `notification_id`, never a gap.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import Any

from pymongo.errors import PyMongoError

from services.common.database_absence import DatabaseAbsence, DatabaseAway
from services.notify.store import Inbox

#: How long opening a stream (or retrying its replay) waits for the inbox.
REPLAY_WAIT_S = 2.0
#: Items asked of the inbox at a time; a replay asks again until it has them all.
REPLAY_PAGE = 500
#: How long a live item waits for the inbox's look at what came before it.
LIVE_WAIT_S = 0.5


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
        """The items to write, in order, if the replay is due and the inbox answers; else none.

        All of them, a page at a time: a client away for long gets more than one page, and a live
        item written with a later id would otherwise move its Last-Event-ID past the rest. Should
        the inbox stop answering between pages, the pages read are written and the rest is asked
        for again, from the last one written.
        """
        if self.caught_up:
            return []
        items: list[dict[str, Any]] = []
        try:
            async for page in self._stored_after(self.last_sent, self._wait_s):
                items += page
        except DatabaseAway:
            return items
        self.caught_up = True
        return items

    async def through(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        """What to write, in order, for a live stored item: everything stored since the last item
        written, up to and with this one.

        A notification that reached this instance while the client was away was not pushed, and
        may have been stored only after the replay read the inbox; the next live item, written
        with its later id, would then move the client past it for good. So the inbox is asked
        again first, briefly. When it does not answer, the item alone (as before).
        """
        if not self.is_new(item):
            return []
        due: dict[str, dict[str, Any]] = {}
        try:
            async for page in self._stored_after(self.last_sent, LIVE_WAIT_S, through=item["event_key"]):
                due |= {entry["_id"]: entry for entry in page if entry["event_key"] <= item["event_key"]}
        except (DatabaseAway, PyMongoError):
            return [item]
        due.setdefault(item["_id"], item)
        return sorted(due.values(), key=lambda entry: entry["event_key"])

    async def _stored_after(
        self, after: str, wait_s: float, *, through: str | None = None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The inbox's items after `after`, a page at a time, until a short page (or, given
        `through`, a page reaching that key). Raises what the absence or the database raises."""
        while True:
            page = await self._absence.ask(partial(self._inbox.after, self._recipients, after, REPLAY_PAGE), wait_s)
            yield page
            if len(page) < REPLAY_PAGE or (through is not None and page[-1]["event_key"] >= through):
                return
            after = page[-1]["event_key"]

    def sent(self, item: dict[str, Any]) -> None:
        self.last_sent = item["event_key"]

    def is_new(self, item: dict[str, Any]) -> bool:
        """Whether a live stored item is past what was already written with an id."""
        return bool(item["event_key"] > self.last_sent)
