"""What the forum writes to Kafka. Every send waits for acks=all: durable when it returns.

Topics and keys come from the one table in `streams/publishing.py`.
"""

from __future__ import annotations

from streams.events import IdentityChanged, Notification, PostDeleted, PostReported, PostSubmitted
from streams.producer import RenewingProducer
from streams.publishing import EventPublisher, EventsUnavailable
from streams.topics import Topics

__all__ = ["EventsUnavailable", "ForumPublisher"]


class ForumPublisher:
    def __init__(self, producer: RenewingProducer, topics: Topics) -> None:
        self._events = EventPublisher(producer, topics)

    async def identity_changed(self, event: IdentityChanged) -> None:
        await self._events.publish(event)

    async def post_submitted(self, event: PostSubmitted) -> None:
        await self._events.publish(event)

    async def post_reported(self, event: PostReported) -> None:
        await self._events.publish(event)

    async def post_deleted(self, event: PostDeleted) -> None:
        await self._events.publish(event)

    async def identity_gone(self, identity_id: str) -> None:
        """The tombstone (a null value): compaction then drops every record of the identity."""
        await self._events.tombstone(identity_id)

    async def notification(self, event: Notification) -> None:
        await self._events.publish(event)

    async def notifications(self, events: list[Notification]) -> None:
        await self._events.publish_all(events)
