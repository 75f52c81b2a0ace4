"""The screening watchdog alerts moderators once per stalled round, and stays quiet otherwise."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from services.moderation.api import app as moderation_app
from services.moderation.api.stall_watch import StallWatch
from streams.events import Notification
from streams.lag import Lag


class LagSequence:
    def __init__(self, *lags: Lag) -> None:
        self._lags = list(lags)

    async def __call__(self) -> Lag:
        return self._lags.pop(0)


class RecordingNotify:
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    async def __call__(self, notification: Notification) -> None:
        self.sent.append(notification)


async def test_stalled_screening_alerts_once_per_round_and_not_before() -> None:
    lags = LagSequence(
        Lag(0, None),
        Lag(3, 20.0, "1:7"),
        Lag(3, 61.0, "1:7"),
        Lag(3, 75.0, "1:7"),
        Lag(3, 125.0, "1:7"),
    )
    notify = RecordingNotify()
    registry = CollectorRegistry()
    watch = StallWatch(lags, notify, registry, stalled_after_s=60)
    for _ in range(5):
        await watch.run_once()
    assert [n.kind for n in notify.sent] == ["queue.stalled", "queue.stalled"]
    assert notify.sent[0].data["oldest_waiting_s"] == 61 and notify.sent[0].recipient_id == "moderators"
    assert notify.sent[0].notification_id != notify.sent[1].notification_id
    assert registry.get_sample_value("haven_screening_oldest_waiting_seconds") == 125.0


def test_the_watchdog_watches_the_workers_consumer_group() -> None:
    from services.moderation.worker import app as worker

    assert moderation_app.WORKER_CONSUMER_NAME == worker.CONSUMER_NAME
