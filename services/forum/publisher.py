"""What the forum writes to Kafka. Every send waits for acks=all: durable when it returns."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from streams.events import IdentityChanged, Notification, PostDeleted, PostReported, PostSubmitted
from streams.kafka import send_event
from streams.topics import Topics


#: How long a request waits for Kafka's acknowledgement before answering 503. The producer would
#: otherwise keep retrying for as long as the broker is away, and the member would wait with it.
SEND_TIMEOUT_S = 8.0


class EventsUnavailable(RuntimeError):
    """Kafka did not acknowledge the event: the caller must not report success."""


class ForumPublisher:
    def __init__(self, producer: AIOKafkaProducer, topics: Topics) -> None:
        self._producer = producer
        self._topics = topics

    async def _send(self, topic: str, key: str, event) -> None:  # type: ignore[no-untyped-def]
        try:
            await asyncio.wait_for(send_event(self._producer, topic, key, event), SEND_TIMEOUT_S)
        except (KafkaError, TimeoutError) as exc:
            raise EventsUnavailable(type(exc).__name__) from exc

    async def identity_changed(self, event: IdentityChanged) -> None:
        await self._send(self._topics.identities, event.id, event)

    async def post_submitted(self, event: PostSubmitted) -> None:
        await self._send(self._topics.posts_submitted, event.thread_id, event)

    async def post_reported(self, event: PostReported) -> None:
        await self._send(self._topics.posts_reported, event.thread_id, event)

    async def post_deleted(self, event: PostDeleted) -> None:
        await self._send(self._topics.posts_deleted, event.thread_id, event)

    async def identity_gone(self, identity_id: str) -> None:
        """The tombstone (a null value): compaction then drops every record of the identity."""
        try:
            await asyncio.wait_for(
                self._producer.send_and_wait(self._topics.identities, value=None, key=identity_id.encode("utf-8")),
                SEND_TIMEOUT_S,
            )
        except (KafkaError, TimeoutError) as exc:
            raise EventsUnavailable(type(exc).__name__) from exc

    async def notification(self, event: Notification) -> None:
        await self._send(self._topics.notifications, event.recipient_id, event)
