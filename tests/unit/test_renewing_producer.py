"""A producer whose sequence the broker lost is replaced, and the next send goes through."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, OutOfOrderSequenceNumber

from streams.producer import RenewingProducer


class FakeAioProducer:
    """Answers each send with the next outcome: None for an ack, else that exception."""

    def __init__(self, outcomes: list[BaseException | None]) -> None:
        self.outcomes = outcomes
        self.sent: list[str] = []
        self.started = self.stopped = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def send(self, topic: str, **_: Any) -> asyncio.Future[Any]:
        self.sent.append(topic)
        delivery: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is None:
            delivery.set_result("ack")
        else:
            delivery.set_exception(outcome)
        return delivery


def _renewing(first: FakeAioProducer) -> tuple[RenewingProducer, list[FakeAioProducer]]:
    made: list[FakeAioProducer] = []

    def make() -> Any:
        made.append(first if not made else FakeAioProducer([]))
        return made[-1]

    return RenewingProducer(make), made


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_lost_sequence_starts_a_fresh_producer_and_stops_the_old_one() -> None:
    lost = FakeAioProducer([OutOfOrderSequenceNumber()] * 3)
    producer, made = _renewing(lost)
    await producer.start()
    with pytest.raises(OutOfOrderSequenceNumber):
        await producer.send_and_wait("t")  # the caller hears it and retries, as publishers do
    await _settle()
    assert producer.renewals == 1 and lost.stopped
    assert await producer.send_and_wait("t") == "ack"
    assert made[1].sent == ["t"] and made[1].started


async def test_other_failures_keep_the_producer() -> None:
    slow = FakeAioProducer([KafkaTimeoutError()])
    producer, made = _renewing(slow)
    await producer.start()
    with pytest.raises(KafkaTimeoutError):
        await producer.send_and_wait("t")
    await _settle()
    assert (producer.renewals, len(made), slow.stopped) == (0, 1, False)
    assert await producer.send_and_wait("t") == "ack"


async def test_many_lost_answers_at_once_renew_once() -> None:
    lost = FakeAioProducer([OutOfOrderSequenceNumber()] * 5)
    producer, made = _renewing(lost)
    await producer.start()
    deliveries = [await producer.send("t") for _ in range(5)]
    await asyncio.gather(*deliveries, return_exceptions=True)
    await _settle()
    assert producer.renewals == 1 and len(made) == 2
