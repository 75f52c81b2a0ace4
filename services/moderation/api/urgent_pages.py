"""Moderators are paged about an urgent post as soon as its verdict arrives, before the queue's
database has stored the item: a database that is slow or away for a minute does not keep a
person in crisis from the humans on duty.

The page carries the item's stable notification id (`queue.item:<item id>`), so the alert sent
once the item is stored, or again on a redelivery, is the same notification, not a second one.
While the database is away the queue feed retries the event; this process pages each item once
for all those retries. The feed pages ahead too: each time it fetches a partition, also again
behind an event that waits for the database, every urgent verdict in the fetch pages before any
is handled, so one held post stored first does not keep an urgent one behind it from the humans.

A verdict read again (an operator rewinding the feed to rebuild the queue, a new process after a
crash) is not paged when the queue has already alerted the moderators of its item: the pager asks
the database first, for at most `ALERTED_CHECK_S`. A database that does not answer in time is
taken as away, and the page goes out; a repeated page is a nuisance, a missing one is not. Once
it has not answered, pages go out without asking for a few seconds (`DatabaseAbsence`), so a
burst of urgent verdicts during an outage does not wait a second each.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable

from services.common.database_absence import DatabaseAbsence
from streams.events import Event, PostScreened

#: (item id, post id, level) -> the moderators' `queue.item` notification is published.
PageModerators = Callable[[str, str, str], Awaitable[None]]
#: item ids -> those the queue has stored and already alerted the moderators of.
AlreadyAlerted = Callable[[list[str]], Awaitable[set[str]]]

#: How long a page waits for the database to say whether the item was alerted before.
ALERTED_CHECK_S = 1.0


def queue_item_id(event: PostScreened) -> str:
    return f"post:{event.post_id}:{event.revision}"


class UrgentPager:
    def __init__(
        self,
        page: PageModerators,
        already_alerted: AlreadyAlerted,
        *,
        remembered: int = 10_000,
        check_within_s: float = ALERTED_CHECK_S,
    ) -> None:
        self._page = page
        self._already_alerted = already_alerted
        self._remembered = remembered
        self._check_within_s = check_within_s
        self._absence = DatabaseAbsence("the review queue")
        #: item id -> whether this process paged it (False: the queue had alerted it before).
        self._settled: OrderedDict[str, bool] = OrderedDict()

    async def page_urgent(self, events: Iterable[Event]) -> None:
        """Page now about each hold_urgent verdict's item that this process has not settled yet
        and the queue has not already alerted the moderators of."""
        waiting: dict[str, PostScreened] = {}
        for event in events:
            if isinstance(event, PostScreened) and event.verdict.action == "hold_urgent":
                item_id = queue_item_id(event)
                if item_id not in self._settled:
                    waiting.setdefault(item_id, event)
        if not waiting:
            return
        alerted_before = await self._alerted_before(list(waiting))
        for item_id, event in waiting.items():
            if item_id in alerted_before:
                self._settle(item_id, paged=False)
                continue
            await self._page(item_id, event.post_id, "urgent")
            self._settle(item_id, paged=True)

    def already_paged(self, item_id: str) -> bool:
        return self._settled.get(item_id, False)

    async def _alerted_before(self, item_ids: list[str]) -> set[str]:
        try:
            return await self._absence.ask(lambda: self._already_alerted(item_ids), self._check_within_s)
        except Exception:  # DatabaseAway or any failure to answer: page (CancelledError is not caught)
            return set()

    def _settle(self, item_id: str, *, paged: bool) -> None:
        self._settled[item_id] = paged
        while len(self._settled) > self._remembered:
            self._settled.popitem(last=False)
