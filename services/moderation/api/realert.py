"""Urgent items nobody has claimed in time alert every moderator and admin again."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from services.moderation.api.publisher import ModerationPublisher
from services.moderation.api.sla import SlaMetrics
from services.moderation.api.store import ModerationStore
from streams.events import utc_now

log = logging.getLogger(__name__)


class UrgentRealerter:
    def __init__(
        self, review: ModerationStore, publisher: ModerationPublisher, sla: SlaMetrics, after: timedelta
    ) -> None:
        self._review = review
        self._publisher = publisher
        self._sla = sla
        self._after = after
        # Look often enough that an item is re-alerted within a few percent of `after`.
        self.check_every_s = min(15.0, max(0.5, after.total_seconds() / 4))

    async def run_once(self) -> int:
        items = await self._review.take_unclaimed_urgent(self._after)
        now = utc_now()
        for index, item in enumerate(items):
            waited_s = int((now - item["created_at"]).total_seconds())
            try:
                await self._publisher.urgent_unclaimed(item, waited_s)
            except Exception:
                # This item and those after it are marked but were not sent: unmarked, the next
                # round (seconds away) tries them again, instead of a whole `after` later.
                for unsent in items[index:]:
                    await self._review.release_realert(unsent["_id"])
                raise
            self._sla.realerted()
        if items:
            log.warning("re-alerted %d urgent item(s) nobody has claimed", len(items))
        return len(items)

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                # Kafka or the database is away for a moment: try again on the next round.
                log.exception("urgent re-alert round failed")
            await asyncio.sleep(self.check_every_s)
