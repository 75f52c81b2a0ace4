"""The one consumer contract every Haven consumer follows (the screening worker included).

- Offsets are committed only after an event's side effects, so handlers must be idempotent
  (upsert by id): a crash between a side effect and the commit redelivers the event.
- An event that can never be handled goes to the consumer's dead-letter topic at once, with its
  reason, and the partition moves on: bytes that do not decode (`UndecodableEvent`), or a
  handler that raises `InvalidEvent`.
- Anything else a handler raises is transient (the database, Kafka, a timeout): the event is
  retried with capped exponential backoff for as long as the failure lasts. Its partition is
  paused at that event meanwhile (other partitions go on), so no position is ever skipped and
  the consumer keeps polling, staying in its group. A failing dead-letter send is transient too.
- While a partition has been retrying longer than `unready_after_s`, `problem()` says so, the
  service's /readyz fails, and `haven_consumer_retrying` shows it.
- A consumer may `prepare` each partition's fetched events as one batch (bulk writes) before
  they are handled one by one; handling then finds the work done. A failed preparation is
  logged and forgotten: the events are handled one by one as if it had never run.
- Each attempt at an event is a consumer span in the trace its producer sent it in (the
  record's `traceparent` header): what the handler publishes stays in that trace.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from aiohttp import web
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from aiokafka.structs import ConsumerRecord, TopicPartition
from opentelemetry.trace import Span, Tracer
from prometheus_client import CollectorRegistry, Counter, Gauge

from services.common.health import metrics_registry_key, readiness_checks_key
from services.common.tracing import consumer_span, failed
from streams.events import Event
from streams.kafka import send_dead_letter
from streams.producer import RenewingProducer
from streams.serialization import UndecodableEvent, decode

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)

#: Retries start quickly (a blip) and settle at one attempt every BACKOFF_CAP_S.
BACKOFF_START_S = 0.2
BACKOFF_CAP_S = 5.0
#: A partition retrying for longer than this makes the service not ready.
UNREADY_AFTER_S = 30.0
#: Records taken per fetch, over all partitions.
MAX_RECORDS = 200


class InvalidEvent(Exception):
    """Raised by a handler for an event that can never be handled, whatever is retried.

    The consumer dead-letters the event at once with this exception's message as the reason and
    moves on. Raise it only for the event's own content (an impossible reference, a value the
    handler cannot apply), never for the state of a dependency.
    """


class ConsumerMetrics:
    """The consumer metrics of one service (one Prometheus registry, every consumer in it)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.retrying = Gauge(
            "haven_consumer_retrying",
            "Partitions paused on an event whose handling is being retried",
            ["consumer"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "haven_dead_letters_total",
            "Events sent to a dead-letter topic",
            ["consumer", "reason"],
            registry=registry,
        )
        self.retries = Counter(
            "haven_consumer_retries_total",
            "Failed attempts to handle an event (each is retried)",
            ["consumer"],
            registry=registry,
        )
        self.handled = Counter(
            "haven_consumer_events_total",
            "Events handled",
            ["consumer"],
            registry=registry,
        )


_consumer_metrics_key = web.AppKey("consumer_metrics", ConsumerMetrics)


def consumer_metrics(app: web.Application) -> ConsumerMetrics:
    """The app's ConsumerMetrics, created on first use (a registry takes each metric once)."""
    if _consumer_metrics_key not in app:
        app[_consumer_metrics_key] = ConsumerMetrics(app[metrics_registry_key])
    return app[_consumer_metrics_key]


def watch_consumer(app: web.Application, check_name: str, loop: EventConsumerLoop[Event]) -> None:
    """Make the app's /readyz fail while `loop` is stuck retrying an event."""

    async def problem() -> str | None:
        return loop.problem()

    app[readiness_checks_key][check_name] = problem


@dataclass
class _Retrying:
    since: float
    delay: float
    resume_at: float
    attempts: int = 0


class EventConsumerLoop(Generic[E]):
    def __init__(
        self,
        *,
        name: str,
        consumer: AIOKafkaConsumer,
        producer: RenewingProducer,
        dead_letter_topic: str,
        decoders: dict[str, type[Event]],
        handle: Callable[[str, Event], Awaitable[None]],
        metrics: ConsumerMetrics | None = None,
        unready_after_s: float = UNREADY_AFTER_S,
        backoff_start_s: float = BACKOFF_START_S,
        backoff_cap_s: float = BACKOFF_CAP_S,
        clock: Callable[[], float] = time.monotonic,
        commits: bool = True,
        tracer: Tracer | None = None,
        tombstone: Callable[[bytes], Event] | None = None,
        prepare: Callable[[list[tuple[str, Event]]], Awaitable[None]] | None = None,
    ) -> None:
        self._name = name
        self._consumer = consumer
        self._producer = producer
        self._dead_letter_topic = dead_letter_topic
        self._decoders = decoders
        self._handle = handle
        self._metrics = metrics
        self._unready_after_s = unready_after_s
        self._backoff_start_s = backoff_start_s
        self._backoff_cap_s = backoff_cap_s
        self._clock = clock
        self._commits = commits
        self._tracer = tracer
        #: What a null value (a tombstone on a compacted topic) means, from its key; without it a
        #: tombstone cannot be decoded and is dead-lettered like any other undecodable record.
        self._tombstone = tombstone
        self._prepare = prepare
        self._retrying: dict[TopicPartition, _Retrying] = {}
        self.processed = 0

    async def run(self) -> None:
        while True:
            self._resume_due_partitions()
            batches = await self._consumer.getmany(timeout_ms=200, max_records=MAX_RECORDS)
            offsets: dict[TopicPartition, int] = {}
            for partition, records in batches.items():
                if partition in self._consumer.paused():
                    continue  # fetched before its pause; fetched again from the failed event later
                # One partition after another: on FerretDB a document update is a read, then a
                # write, so two handlers writing one document (a board's list) at once could
                # lose a write. Throughput comes from `prepare` taking each fetch as a batch.
                offset = await self._process_partition(partition, records)
                if offset is not None:
                    offsets[partition] = offset
            await self._commit(offsets)

    def problem(self) -> str | None:
        """What is wrong for readiness: a partition retrying for longer than allowed, or None."""
        now = self._clock()
        stuck = [tp for tp, state in self._retrying.items() if now - state.since > self._unready_after_s]
        if not stuck:
            return None
        oldest = max(now - self._retrying[tp].since for tp in stuck)
        return f"{self._name}: {len(stuck)} partition(s) retrying an event for {oldest:.0f} s"

    @property
    def retrying_partitions(self) -> int:
        return len(self._retrying)

    async def _process_partition(self, partition: TopicPartition, records: list[ConsumerRecord]) -> int | None:
        """The offset to commit for the partition once its records are done, or None."""
        if self._prepare is not None:
            await self._prepare_batch(self._prepare, records)
        for index, record in enumerate(records):
            if not await self._process(record):
                self._hold_at(partition, record.offset)
                return record.offset if index else None
        self._recovered(partition)
        next_offset: int = records[-1].offset + 1  # aiokafka is untyped; a record's offset is an int
        return next_offset

    async def _prepare_batch(
        self, prepare: Callable[[list[tuple[str, Event]]], Awaitable[None]], records: list[ConsumerRecord]
    ) -> None:
        events: list[tuple[str, Event]] = []
        for record in records:
            if record.value is None:
                continue
            try:
                events.append((record.topic, decode(self._decoders[record.topic], record.value)))
            except UndecodableEvent:
                continue  # dead-lettered when its turn comes
        try:
            await prepare(events)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.info(
                "%s: preparing %d events failed (%s); handling them one by one",
                self._name,
                len(events),
                type(exc).__name__,
            )

    async def _process(self, record: ConsumerRecord) -> bool:
        """True when the record is done with (handled or dead-lettered); False to retry it later."""
        attributes = {
            "haven.consumer": self._name,
            "messaging.destination.partition.id": str(record.partition),
            "messaging.kafka.offset": record.offset,
        }
        with consumer_span(self._tracer, record.topic, record.headers, attributes) as span:
            return await self._process_in(record, span)

    async def _process_in(self, record: ConsumerRecord, span: Span) -> bool:
        model = self._decoders[record.topic]
        try:
            if record.value is None and record.key and self._tombstone is not None:
                event = self._tombstone(record.key)
            else:
                event = decode(model, record.value)
        except UndecodableEvent as exc:
            span.set_attribute("haven.outcome", "undecodable")
            return await self._dead_letter(record, "undecodable", str(exc))
        span.set_attribute("haven.event.type", type(event).__name__)
        post_id = getattr(event, "post_id", None)
        if isinstance(post_id, str):
            span.set_attribute("haven.post.id", post_id)
        try:
            await self._handle(record.topic, event)
        except asyncio.CancelledError:
            raise
        except InvalidEvent as exc:
            span.set_attribute("haven.outcome", "invalid")
            return await self._dead_letter(record, "invalid", str(exc) or "invalid event")
        except Exception as exc:
            failed(span, exc)
            self._failed(record, exc)
            return False
        self.processed += 1
        if self._metrics is not None:
            self._metrics.handled.labels(self._name).inc()
        return True

    async def _dead_letter(self, record: ConsumerRecord, reason: str, detail: str) -> bool:
        try:
            await send_dead_letter(self._producer, self._dead_letter_topic, self._name, record, f"{reason}: {detail}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The dead-letter topic is out of reach: keep the event where it is and try again.
            self._failed(record, exc)
            return False
        if self._metrics is not None:
            self._metrics.dead_letters.labels(self._name, reason).inc()
        return True

    def _failed(self, record: ConsumerRecord, exc: BaseException) -> None:
        if self._metrics is not None:
            self._metrics.retries.labels(self._name).inc()
        tp = TopicPartition(record.topic, record.partition)
        state = self._retrying.get(tp)
        attempts = state.attempts + 1 if state else 1
        delay = state.delay if state else self._backoff_start_s
        # The first failure and then about every minute: a long outage does not flood the log.
        if attempts == 1 or attempts % max(1, int(60 / max(self._backoff_cap_s, 1.0))) == 0:
            log.warning(
                "%s: handling %s[%d]@%d failed (%s), attempt %d; retrying in %.1f s",
                self._name,
                record.topic,
                record.partition,
                record.offset,
                type(exc).__name__,
                attempts,
                delay,
            )

    def _hold_at(self, partition: TopicPartition, offset: int) -> None:
        """Pause the partition at the failed event; it is fetched again once its backoff is over."""
        if partition not in self._consumer.assignment():
            return  # revoked meanwhile: its new owner fetches the event from the last commit
        now = self._clock()
        state = self._retrying.get(partition)
        if state is None:
            state = _Retrying(since=now, delay=self._backoff_start_s, resume_at=now)
            self._retrying[partition] = state
        state.attempts += 1
        state.resume_at = now + state.delay
        state.delay = min(state.delay * 2, self._backoff_cap_s)
        self._consumer.seek(partition, offset)
        self._consumer.pause(partition)
        self._update_gauge()

    def _recovered(self, partition: TopicPartition) -> None:
        state = self._retrying.pop(partition, None)
        if state is not None:
            log.info(
                "%s: %s[%d] recovered after %d attempts in %.1f s",
                self._name,
                partition.topic,
                partition.partition,
                state.attempts,
                self._clock() - state.since,
            )
            self._update_gauge()

    def _resume_due_partitions(self) -> None:
        assigned = self._consumer.assignment()
        now = self._clock()
        for partition in list(self._retrying):
            if partition not in assigned:
                # Revoked in a rebalance: its new owner starts from the committed offset.
                del self._retrying[partition]
                continue
            if self._retrying[partition].resume_at <= now and partition in self._consumer.paused():
                self._consumer.resume(partition)
        self._update_gauge()

    def _update_gauge(self) -> None:
        if self._metrics is not None:
            self._metrics.retrying.labels(self._name).set(len(self._retrying))

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        if not self._commits or not offsets:
            return
        delay = self._backoff_start_s
        while True:
            # A partition revoked while its batch was handled is its new owner's, which redelivers
            # from the last commit; aiokafka refuses any commit that names it, however often tried.
            assigned = self._consumer.assignment()
            offsets = {partition: offset for partition, offset in offsets.items() if partition in assigned}
            if not offsets:
                return
            try:
                await self._consumer.commit(offsets)
                return
            except IllegalStateError:
                continue  # revoked between the look and the commit: the others are committed
            except CommitFailedError:
                # The partition was revoked: its next owner redelivers from the last commit, and
                # handlers are idempotent, so nothing is lost.
                log.info("%s: commit refused after a rebalance; the events will be redelivered", self._name)
                return
            except KafkaError as exc:
                log.warning("%s: commit failed (%s); retrying in %.1f s", self._name, type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff_cap_s)
