"""One table says where every event goes and under which key."""

from __future__ import annotations

import asyncio

import pytest

from streams import events
from streams.publishing import ROUTES, EventPublisher, EventsUnavailable
from streams.settings import Settings
from streams.topics import Topics, topic_specs


class RecordingProducer:
    def __init__(self, *, hang: bool = False) -> None:
        self.sent: list[tuple[str, bytes, bytes | None]] = []
        self._hang = hang

    async def send_and_wait(self, topic: str, value: bytes | None, key: bytes, headers: object = None) -> None:
        if self._hang:
            await asyncio.sleep(3600)
        self.sent.append((topic, key, value))

    async def send(self, topic: str, value: bytes | None, key: bytes, headers: object = None) -> asyncio.Future[None]:
        """aiokafka's send: enqueued here, acked at once (unless send_and_wait refuses or hangs)."""
        await self.send_and_wait(topic, value, key, headers)
        acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        acked.set_result(None)
        return acked


def test_every_event_a_service_sends_has_one_route_to_a_topic_haven_creates() -> None:
    sendable = {
        cls
        for cls in vars(events).values()
        if isinstance(cls, type) and issubclass(cls, events.Event) and cls not in (events.Event, events.DeadLetter)
    }
    assert sendable == set(ROUTES)
    created = {spec.name for spec in topic_specs(Settings())}
    assert {Topics("haven.").name(route.topic) for route in ROUTES.values()} <= created


async def test_events_of_one_thread_share_a_key_and_notifications_go_by_recipient() -> None:
    producer = RecordingProducer()
    publisher = EventPublisher(producer, Topics("t."))  # type: ignore[arg-type]
    await publisher.publish(
        events.PostReported(report_id="r", post_id="p", thread_id="th-1", reporter_id="a", author_id="b", reason="spam")
    )
    await publisher.publish(events.Notification(recipient_id="member-9", kind="reply", post_id="p"))
    await publisher.tombstone("member-9")
    assert [(topic, key) for topic, key, _ in producer.sent] == [
        ("t.posts.reported", b"th-1"),
        ("t.notifications", b"member-9"),
        ("t.identities", b"member-9"),
    ]
    assert producer.sent[-1][2] is None


async def test_a_broker_that_does_not_answer_is_reported_not_waited_for_forever() -> None:
    publisher = EventPublisher(RecordingProducer(hang=True), Topics("t."), timeout_s=0.05)  # type: ignore[arg-type]
    with pytest.raises(EventsUnavailable):
        await publisher.publish(events.Notification(recipient_id="m", kind="reply", post_id="p"))
