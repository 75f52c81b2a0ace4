"""Moderators are paged about an urgent post as soon as its verdict arrives, before the queue's
database has stored the item: a database that is slow or away for a minute does not keep a
person in crisis from the humans on duty.

The page carries the item's stable notification id (`queue.item:<item id>`), so the alert sent
once the item is stored, or again on a redelivery, is the same notification, not a second one.
While the database is away the queue feed retries the event; this process pages each item once
for all those retries. The feed pages ahead too: each time it fetches a partition, also again
behind an event that waits for the database, every urgent verdict in the fetch pages before any
is handled, so one held post stored first does not keep an urgent one behind it from the humans.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable

from streams.events import PostScreened

#: (item id, post id, level) -> the moderators' `queue.item` notification is published.
PageModerators = Callable[[str, str, str], Awaitable[None]]


def queue_item_id(event: PostScreened) -> str:
    return f"post:{event.post_id}:{event.revision}"


class UrgentPager:
    def __init__(self, page: PageModerators, remembered: int = 10_000) -> None:
        self._page = page
        self._remembered = remembered
        self._paged: OrderedDict[str, None] = OrderedDict()

    async def page_if_urgent(self, event: PostScreened) -> None:
        """Page now when the verdict is hold_urgent and this process has not paged the item yet."""
        if event.verdict.action != "hold_urgent":
            return
        item_id = queue_item_id(event)
        if item_id in self._paged:
            return
        await self._page(item_id, event.post_id, "urgent")
        self._paged[item_id] = None
        while len(self._paged) > self._remembered:
            self._paged.popitem(last=False)

    def already_paged(self, item_id: str) -> bool:
        return item_id in self._paged
