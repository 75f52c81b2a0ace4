"""The Kafka readiness check keeps one client while the broker answers and starts a fresh one
after a failure or a check that ran out of time."""

from __future__ import annotations

import asyncio

import pytest

from streams.kafka_probe import KafkaProbe
from streams.settings import Settings


class Client:
    def __init__(self, answers: list[str]) -> None:
        self._answers = answers
        self.started = self.closed = False

    async def start(self) -> None:
        self.started = True

    async def list_topics(self) -> list[str]:
        answer = self._answers.pop(0) if self._answers else "ok"
        if answer == "fail":
            raise ConnectionError("broker away")
        if answer == "hang":
            await asyncio.sleep(60)
        return ["posts.submitted"]

    async def close(self) -> None:
        self.closed = True


def _probe(*answers: list[str]) -> tuple[KafkaProbe, list[Client]]:
    made: list[Client] = []
    scripts = list(answers)

    def new_client() -> Client:
        made.append(Client(scripts.pop(0) if scripts else []))
        return made[-1]

    return KafkaProbe(Settings(), new_client=new_client), made


async def test_checks_share_one_client_while_the_broker_answers() -> None:
    probe, made = _probe()

    assert [await probe.ready() for _ in range(5)] == [True] * 5

    assert probe.clients_started == 1 and len(made) == 1 and not made[0].closed


async def test_a_failed_check_closes_its_client_and_the_next_check_starts_a_fresh_one() -> None:
    probe, made = _probe(["ok", "fail"], [])

    assert [await probe.ready(), await probe.ready(), await probe.ready()] == [True, False, True]

    assert probe.clients_started == 2
    assert made[0].closed and not made[1].closed


async def test_a_check_that_ran_out_of_time_does_not_leave_its_client_in_use() -> None:
    probe, made = _probe(["hang"], [])

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(probe.ready(), 0.05)
    assert await probe.ready()

    assert probe.clients_started == 2
    await probe.close()
    assert made[0].closed and made[1].closed
