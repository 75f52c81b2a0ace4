"""The one way Haven writes events: each event type has one topic and one key, in this table.

| event              | topic                | key            | why that key                                  |
| ------------------ | -------------------- | -------------- | --------------------------------------------- |
| IdentityChanged    | identities           | identity id    | compaction keeps the latest state per id      |
| PostSubmitted      | posts.submitted      | thread id      | a thread's posts stay in order                |
| PostScreened       | posts.screened       | thread id      | verdicts of a thread stay in order            |
| PostReported       | posts.reported       | thread id      | reports follow their thread                   |
| PostDeleted        | posts.deleted        | thread id      | a deletion follows the thread's other events  |
| ModerationDecided  | moderation.decisions | thread id      | decisions follow their thread                 |
| Notification       | notifications        | recipient id   | one recipient's notifications stay in order   |
| DeadLetter         | dlq.<consumer>       | topic:partition| letters of one partition stay in order        |

Producers (who writes what) are in docs/architecture.md and streams/access.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import KafkaError
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from streams import topics as names
from streams.events import (
    Event,
    IdentityChanged,
    ModerationDecided,
    Notification,
    PostDeleted,
    PostReported,
    PostScreened,
    PostSubmitted,
)
from streams.kafka import PUBLISH_TIMEOUT_S
from streams.producer import RenewingProducer
from streams.serialization import encode
from streams.topics import Topics
from streams.trace_context import TRACER_NAME, kafka_headers


@dataclass(frozen=True)
class Route:
    topic: str
    key: Callable[[Any], str]


ROUTES: dict[type[Event], Route] = {
    IdentityChanged: Route(names.IDENTITIES, lambda e: e.id),
    PostSubmitted: Route(names.POSTS_SUBMITTED, lambda e: e.thread_id),
    PostScreened: Route(names.POSTS_SCREENED, lambda e: e.thread_id),
    PostReported: Route(names.POSTS_REPORTED, lambda e: e.thread_id),
    PostDeleted: Route(names.POSTS_DELETED, lambda e: e.thread_id),
    ModerationDecided: Route(names.MODERATION_DECISIONS, lambda e: e.thread_id),
    Notification: Route(names.NOTIFICATIONS, lambda e: e.recipient_id),
}


class EventsUnavailable(RuntimeError):
    """Kafka did not acknowledge the event in time: the caller must not report success."""


class EventPublisher:
    """Sends an event to its topic under its key and waits for acks=all.

    Durable when `publish` returns. Raises `EventsUnavailable` when the broker refuses or does not
    answer within `timeout_s`, which is a little longer than the producer's own request timeout,
    so that in the usual case the producer's own verdict (delivered, or expired unsent) is what
    the caller hears.

    Each send is a producer span ("send <topic>") in the current trace, and the message carries
    that span's W3C `traceparent` header, so its consumers continue the same trace. Spans name
    the event type and, for post events, the post id; never a member id, key, body or token.
    """

    def __init__(
        self,
        producer: RenewingProducer,
        topics: Topics,
        *,
        timeout_s: float = PUBLISH_TIMEOUT_S,
        tracer: Tracer | None = None,
    ) -> None:
        self._producer = producer
        self._topics = topics
        self._timeout_s = timeout_s
        # The global API by default: a no-op until the entry point configures a provider.
        self._tracer = tracer or trace.get_tracer(TRACER_NAME)

    def destination(self, event: Event) -> tuple[str, str]:
        route = ROUTES[type(event)]
        return self._topics.name(route.topic), route.key(event)

    async def publish(self, event: Event) -> None:
        await (await self.enqueue(event)).delivered()

    async def publish_all(self, events: Sequence[Event]) -> None:
        """Send all, in order, and wait for their acknowledgements together: durable when this returns."""
        await all_delivered([await self.enqueue(event) for event in events])

    async def enqueue(self, event: Event) -> PendingSend:
        """Hand the event to the producer, in call order, without waiting for its acks.

        Events enqueued one after another keep their order within a partition; wait for them
        together with `PendingSend.delivered`. Durable only once delivered.
        """
        topic, key = self.destination(event)
        attributes: dict[str, str] = {"haven.event.type": type(event).__name__}
        post_id = getattr(event, "post_id", None)
        if isinstance(post_id, str):
            attributes["haven.post.id"] = post_id
        return await self._enqueue(ROUTES[type(event)].topic, topic, key.encode("utf-8"), encode(event), attributes)

    async def tombstone(self, identity_id: str) -> None:
        """A null value on `identities`: compaction then drops every record of the identity."""
        pending = await self._enqueue(
            names.IDENTITIES,
            self._topics.identities,
            identity_id.encode("utf-8"),
            None,
            {"haven.event.type": "tombstone"},
        )
        await pending.delivered()

    async def _enqueue(
        self, logical_topic: str, topic: str, key: bytes, value: bytes | None, attributes: dict[str, str]
    ) -> PendingSend:
        # Named after the topic without the deployment's prefix: one span name per topic everywhere.
        span = self._tracer.start_span(
            f"send {logical_topic}",
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "send",
                "messaging.destination.name": topic,
                **attributes,
            },
            # The SDK would record the exception's message, which no one has checked for content.
            record_exception=False,
            set_status_on_exception=False,
        )
        pending = PendingSend(span, self._timeout_s)
        with trace.use_span(span, end_on_exit=False):
            headers = kafka_headers()
        await pending.track(self._producer.send(topic, value=value, key=key, headers=headers))
        return pending


class PendingSend:
    """One event handed to the producer: its span ends, and failures surface, when delivered."""

    def __init__(self, span: trace.Span, timeout_s: float) -> None:
        self._span = span
        self._timeout_s = timeout_s
        self._acked: asyncio.Future[Any] | None = None

    # asyncio.timeout rather than wait_for: wait_for gives up the event loop at least once even
    # when the result is already there, and a batch of N sends then waited N turns of a busy loop.

    async def track(self, enqueued: Awaitable[asyncio.Future[Any]]) -> None:
        try:
            async with asyncio.timeout(self._timeout_s):
                self._acked = await enqueued
        except BaseException as exc:
            self._failed(exc)

    async def delivered(self) -> None:
        """Wait for acks=all; raises EventsUnavailable when the broker refused or did not answer."""
        if self._acked is None:
            return  # failed while enqueuing: already raised from track
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._acked
        except BaseException as exc:
            self._failed(exc)
        self._span.end()

    def _failed(self, exc: BaseException) -> None:
        self._span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        self._span.end()
        if isinstance(exc, KafkaError | TimeoutError):
            raise EventsUnavailable(type(exc).__name__) from exc
        raise exc


async def all_delivered(sends: Sequence[PendingSend]) -> None:
    """Every send acknowledged; the first failure is raised once all have finished."""
    outcomes = await asyncio.gather(*(send.delivered() for send in sends), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
