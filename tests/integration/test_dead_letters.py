"""What a consumer can never handle is set aside at once, counted, listed and replayable."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer

from streams.topics import Topics
from tests.harness import RunningServices, eventually, haven

pytestmark = pytest.mark.integration


async def _dead_letters(services: RunningServices, http: aiohttp.ClientSession) -> float | None:
    async with http.get(f"{services.forum}/metrics") as response:
        text = await response.text()
    for line in text.splitlines():
        if line.startswith('haven_dead_letters_total{consumer="forum",reason="undecodable"}'):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_an_undecodable_event_is_dead_lettered_counted_listed_and_replayable(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=services.settings.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            Topics(services.settings.topic_prefix).moderation_decisions, value=b"{not an event", key=b"thread-x"
        )
    finally:
        await producer.stop()

    count = await eventually(lambda: _dead_letters(services, http), timeout=60)
    assert count >= 1

    listed = await asyncio.to_thread(haven, services, "dlq", "list", "forum")
    assert listed.returncode == 0, listed.stderr
    assert "moderation.decisions" in listed.stdout and "undecodable" in listed.stdout
    assert "not an event" not in listed.stdout, "payloads are never printed"

    replayed = await asyncio.to_thread(haven, services, "dlq", "replay", "forum")
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed" in replayed.stderr

    async def counted_again() -> float | None:
        value = await _dead_letters(services, http)
        return value if value is not None and value > count else None

    # Still undecodable after the replay: it comes back to the dead-letter topic, nothing crashes.
    await eventually(counted_again, timeout=60)
    again = await asyncio.to_thread(haven, services, "dlq", "replay", "forum")
    assert again.returncode == 0
