"""The consumer contract: invalid events are dead-lettered at once, transient failures are
retried for as long as they last with the partition paused, and no position is ever skipped."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import IllegalStateError
from aiokafka.structs import ConsumerRecord, TopicPartition
from prometheus_client import CollectorRegistry

from services.common.consuming import ConsumerMetrics, EventConsumerLoop, InvalidEvent
from streams.events import Event, Notification
from streams.serialization import encode

TOPIC = "t.notifications"
TP0 = TopicPartition(TOPIC, 0)
TP1 = TopicPartition(TOPIC, 1)


def _record(partition: int, offset: int, value: bytes | None) -> ConsumerRecord:
    return ConsumerRecord(
        topic=TOPIC,
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=value,
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=len(value or b""),
        headers=(),
    )


def _note(n: int) -> bytes:
    return encode(Notification(notification_id=f"n{n}", recipient_id="r", kind="reply", post_id=f"p{n}"))


class FakeConsumer:
    """A partition log per TopicPartition, with Kafka's position, pause and commit semantics."""

    def __init__(self, logs: dict[TopicPartition, list[bytes | None]]) -> None:
        self.logs = logs
        self.position = {tp: 0 for tp in logs}
        self.committed: dict[TopicPartition, int] = {}
        self._paused: set[TopicPartition] = set()
        self.revoked: set[TopicPartition] = set()

    async def getmany(self, timeout_ms: int = 0, max_records: int = 100) -> dict[TopicPartition, list[ConsumerRecord]]:
        await asyncio.sleep(0)
        out = {}
        for tp, log in self.logs.items():
            if tp in self._paused or tp in self.revoked or self.position[tp] >= len(log):
                continue
            start = self.position[tp]
            out[tp] = [_record(tp.partition, i, log[i]) for i in range(start, len(log))]
            self.position[tp] = len(log)
        return out

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if offsets.keys() & self.revoked:
            raise IllegalStateError("Partition is not assigned")  # as aiokafka checks before sending
        for tp, offset in offsets.items():
            assert offset >= self.committed.get(tp, 0), "commits never go backwards"
            self.committed[tp] = offset

    def seek(self, tp: TopicPartition, offset: int) -> None:
        if tp in self.revoked:
            raise IllegalStateError("Partition is not assigned")
        self.position[tp] = offset

    def pause(self, *tps: TopicPartition) -> None:
        self._paused.update(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self._paused.difference_update(tps)

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)

    def assignment(self) -> set[TopicPartition]:
        return set(self.logs) - self.revoked


class RecordingProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []
        self.failures_left = 0

    async def send_and_wait(self, topic: str, value: bytes, key: bytes, headers: object = None) -> None:
        if self.failures_left:
            self.failures_left -= 1
            raise ConnectionError("broker away")
        self.sent.append((topic, value))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _loop(
    consumer: FakeConsumer,
    producer: RecordingProducer,
    handle,
    clock: Clock | None = None,  # type: ignore[no-untyped-def]
    metrics: ConsumerMetrics | None = None,
    prepare=None,
) -> EventConsumerLoop[Event]:
    return EventConsumerLoop(
        name="test",
        consumer=consumer,
        producer=producer,
        dead_letter_topic="t.dlq.test",  # type: ignore[arg-type]
        decoders={TOPIC: Notification},
        handle=handle,
        metrics=metrics,
        prepare=prepare,
        backoff_start_s=0.0,
        backoff_cap_s=0.0,
        unready_after_s=30,
        clock=clock or Clock(),
    )


async def _run_until(loop: EventConsumerLoop[Event], done, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    task = asyncio.create_task(loop.run())
    try:
        async with asyncio.timeout(timeout):
            while not done():
                await asyncio.sleep(0.001)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_transient_failure_is_retried_until_it_passes_and_nothing_is_skipped() -> None:
    consumer = FakeConsumer({TP0: [_note(1), _note(2), _note(3)]})
    handled: list[str] = []
    outage = {"left": 25}

    async def handle(topic: str, event: Event) -> None:
        assert isinstance(event, Notification)
        if event.notification_id == "n2" and outage["left"]:
            outage["left"] -= 1
            raise TimeoutError("database away")
        handled.append(event.notification_id)

    producer = RecordingProducer()
    loop = _loop(consumer, producer, handle)
    await _run_until(loop, lambda: consumer.committed.get(TP0) == 3)
    assert handled == ["n1", "n2", "n3"]
    assert producer.sent == [], "a transient failure is never dead-lettered, however long it lasts"


async def test_other_partitions_go_on_while_one_is_retrying() -> None:
    consumer = FakeConsumer({TP0: [_note(1)], TP1: [_note(2), _note(3)]})
    handled: list[str] = []

    async def handle(topic: str, event: Event) -> None:
        assert isinstance(event, Notification)
        if event.notification_id == "n1":
            raise TimeoutError("this one keeps failing")
        handled.append(event.notification_id)

    loop = _loop(consumer, RecordingProducer(), handle)
    await _run_until(loop, lambda: consumer.committed.get(TP1) == 2)
    assert handled == ["n2", "n3"]
    assert consumer.committed.get(TP0, 0) == 0
    assert loop.retrying_partitions == 1


async def test_undecodable_and_invalid_events_are_dead_lettered_at_once_with_their_reason() -> None:
    consumer = FakeConsumer({TP0: [b"not json", _note(2), _note(3)]})
    registry = CollectorRegistry()
    metrics = ConsumerMetrics(registry)

    async def handle(topic: str, event: Event) -> None:
        assert isinstance(event, Notification)
        if event.notification_id == "n2":
            raise InvalidEvent("refers to a post that cannot exist")

    producer = RecordingProducer()
    loop = _loop(consumer, producer, handle, metrics=metrics)
    await _run_until(loop, lambda: consumer.committed.get(TP0) == 3)
    assert [topic for topic, _ in producer.sent] == ["t.dlq.test", "t.dlq.test"]
    assert b"undecodable" in producer.sent[0][1]
    assert b"cannot exist" in producer.sent[1][1]
    assert registry.get_sample_value("haven_dead_letters_total", {"consumer": "test", "reason": "undecodable"}) == 1
    assert registry.get_sample_value("haven_dead_letters_total", {"consumer": "test", "reason": "invalid"}) == 1


async def test_a_failing_dead_letter_send_keeps_the_event_and_the_rest_of_the_batch() -> None:
    consumer = FakeConsumer({TP0: [b"garbage", _note(2)]})
    handled: list[str] = []

    async def handle(topic: str, event: Event) -> None:
        assert isinstance(event, Notification)
        handled.append(event.notification_id)

    producer = RecordingProducer()
    producer.failures_left = 3
    loop = _loop(consumer, producer, handle)
    await _run_until(loop, lambda: consumer.committed.get(TP0) == 2)
    assert len(producer.sent) == 1, "the dead letter is written once it can be"
    assert handled == ["n2"], "the event after it is not skipped"


async def test_readiness_fails_only_after_retrying_longer_than_allowed() -> None:
    consumer = FakeConsumer({TP0: [_note(1)]})
    clock = Clock()
    registry = CollectorRegistry()

    async def handle(topic: str, event: Event) -> None:
        raise TimeoutError("database away")

    loop = _loop(consumer, RecordingProducer(), handle, clock=clock, metrics=ConsumerMetrics(registry))
    await _run_until(loop, lambda: loop.retrying_partitions == 1)
    assert loop.problem() is None
    assert registry.get_sample_value("haven_consumer_retrying", {"consumer": "test"}) == 1
    clock.now += 31
    problem = loop.problem()
    assert problem is not None and "retrying" in problem


async def test_a_tombstone_means_what_the_loop_is_told_and_is_dead_lettered_otherwise() -> None:
    handled: list[str] = []

    async def handle(topic: str, event: Event) -> None:
        assert isinstance(event, Notification)
        handled.append(event.notification_id)

    understood = FakeConsumer({TP0: [None]})
    loop = EventConsumerLoop(
        name="test",
        consumer=understood,
        producer=RecordingProducer(),
        dead_letter_topic="t.dlq.test",  # type: ignore[arg-type]
        decoders={TOPIC: Notification},
        handle=handle,
        backoff_start_s=0.0,
        backoff_cap_s=0.0,
        tombstone=lambda key: Notification(notification_id=f"gone:{key.decode()}", recipient_id="r", kind="reply"),
    )
    await _run_until(loop, lambda: understood.committed.get(TP0) == 1)
    assert handled == ["gone:k"]

    producer = RecordingProducer()
    not_understood = FakeConsumer({TP0: [None]})
    await _run_until(_loop(not_understood, producer, handle), lambda: not_understood.committed.get(TP0) == 1)
    assert [topic for topic, _ in producer.sent] == ["t.dlq.test"]


async def test_a_fetched_batch_is_prepared_together_then_handled_one_by_one_in_order() -> None:
    consumer = FakeConsumer({TP0: [_note(1), b"garbage", _note(2), _note(3)]})
    prepared: list[list[str]] = []
    handled: list[str] = []

    async def prepare(events: list[tuple[str, Event]]) -> None:
        prepared.append([e.notification_id for _, e in events if isinstance(e, Notification)])

    async def handle(topic: str, event: Event) -> None:
        assert isinstance(event, Notification)
        handled.append(event.notification_id)

    loop = _loop(consumer, RecordingProducer(), handle, prepare=prepare)
    await _run_until(loop, lambda: consumer.committed.get(TP0) == 4)
    assert prepared == [["n1", "n2", "n3"]], "what does not decode is left for its turn (the dead-letter topic)"
    assert handled == ["n1", "n2", "n3"]


async def test_a_failed_preparation_leaves_the_events_to_be_handled_one_by_one() -> None:
    consumer = FakeConsumer({TP0: [_note(1), _note(2)]})
    handled: list[str] = []

    async def prepare(events: list[tuple[str, Event]]) -> None:
        raise TimeoutError("database away for the batch")

    async def handle(topic: str, event: Event) -> None:
        assert isinstance(event, Notification)
        handled.append(event.notification_id)

    producer = RecordingProducer()
    loop = _loop(consumer, producer, handle, prepare=prepare)
    await _run_until(loop, lambda: consumer.committed.get(TP0) == 2)
    assert handled == ["n1", "n2"]
    assert producer.sent == []


@pytest.mark.parametrize("handler_fails", [False, True])
async def test_a_partition_revoked_while_its_batch_is_handled_leaves_the_others_going(handler_fails: bool) -> None:
    consumer = FakeConsumer({TP0: [_note(1)], TP1: [_note(2)]})
    handled: list[str] = []

    async def handle(topic: str, event: Event) -> None:
        assert isinstance(event, Notification)
        if event.notification_id == "n1":
            consumer.revoked.add(TP0)  # a rebalance completes while the handler waits on its database
            if handler_fails:
                raise TimeoutError("database away")
        handled.append(event.notification_id)

    loop = _loop(consumer, RecordingProducer(), handle)
    await _run_until(loop, lambda: consumer.committed.get(TP1) == 1)
    consumer.logs[TP1].append(_note(3))
    await _run_until(loop, lambda: consumer.committed.get(TP1) == 2)
    assert handled[-2:] == ["n2", "n3"]
    assert TP0 not in consumer.committed, "the revoked partition is its new owner's to commit"
    assert loop.retrying_partitions == 0
