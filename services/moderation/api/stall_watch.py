"""The screening watchdog: moderators hear at once when posts wait too long for screening.

It runs in the moderation API, not in the worker, so that it still speaks when the worker is
down, stuck, or has no replica at all. It measures the worker group's lag on posts.submitted
from outside the group (`streams.lag`) and alerts `queue.stalled` when the oldest waiting post
is older than the limit, then again every further limit while it stays stuck.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Gauge

from streams.events import MODERATORS_RECIPIENT, Notification
from streams.lag import Lag

log = logging.getLogger(__name__)

CHECK_EVERY_S = 5.0


class StallWatch:
    def __init__(
        self,
        measure: Callable[[], Awaitable[Lag]],
        notify: Callable[[Notification], Awaitable[None]],
        registry: CollectorRegistry,
        *,
        stalled_after_s: float,
        check_every_s: float = CHECK_EVERY_S,
    ) -> None:
        self._measure = measure
        self._notify = notify
        self._stalled_after_s = stalled_after_s
        self.check_every_s = min(check_every_s, max(0.5, stalled_after_s / 4))
        self._lag = Gauge("haven_screening_lag_events", "Posts submitted and not yet screened", registry=registry)
        self._oldest = Gauge(
            "haven_screening_oldest_waiting_seconds", "Age of the oldest post waiting for screening", registry=registry
        )
        self.alerts_sent = 0
        self._sent: set[str] = set()

    async def run_once(self) -> Notification | None:
        """Measure once; send and return the alert when screening is stalled and this round is new."""
        lag = await self._measure()
        self._lag.set(lag.events)
        self._oldest.set(lag.oldest_waiting_s or 0)
        if lag.oldest_waiting_s is None or lag.oldest_waiting_s < self._stalled_after_s:
            return None
        # The id depends on the stuck post and the round only: every API instance that sees the
        # same stall sends the same notification, which the inbox stores once.
        round_ = int(lag.oldest_waiting_s // self._stalled_after_s)
        notification_id = f"queue.stalled:{lag.oldest_position}:{round_}"
        if notification_id in self._sent:
            return None
        alert = Notification(
            notification_id=notification_id,
            recipient_id=MODERATORS_RECIPIENT,
            kind="queue.stalled",
            data={"waiting": lag.events, "oldest_waiting_s": int(lag.oldest_waiting_s), "urgent": True},
        )
        await self._notify(alert)
        if len(self._sent) >= 1000:
            self._sent.clear()
        self._sent.add(notification_id)
        self.alerts_sent += 1
        log.warning("screening stalled: %d post(s) waiting, oldest for %.0f s", lag.events, lag.oldest_waiting_s)
        return alert

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as exc:
                # Kafka itself may be what is down; its own readiness check says so.
                log.warning("screening watchdog round failed: %s", type(exc).__name__)
            await asyncio.sleep(self.check_every_s)
