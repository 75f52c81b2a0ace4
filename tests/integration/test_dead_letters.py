"""What a consumer can never handle is set aside at once, counted, listed and replayable."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer

from streams.topics import Topics
from tests.harness import ForumClient, RunningServices, eventually, haven

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


async def test_the_worker_sets_an_undecodable_submission_aside_and_screens_the_next_post(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    topics = Topics(services.settings.topic_prefix)
    producer = AIOKafkaProducer(bootstrap_servers=services.settings.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topics.posts_submitted, value=b"{half a post", key=b"thread-dlq")
    finally:
        await producer.stop()
    # A member's post after it, on any partition, is still screened and published.
    author = await ForumClient.join(http, services.forum, country="GB")
    status, thread = await author.request(
        "POST", "/v1/boards/sober-living/threads", json={"title": "Day 40", "body": "Forty days today, thank you all."}
    )
    assert status == 202

    async def published() -> bool | None:
        _, post = await author.request("GET", f"/v1/posts/{thread['post_id']}")
        return True if post.get("status") in ("published", "held") else None

    await eventually(published, timeout=60)

    async def worker_dead_letter() -> bool | None:
        listed = await asyncio.to_thread(haven, services, "dlq", "list", "moderation-worker")
        return True if "posts.submitted" in listed.stdout and "undecodable" in listed.stdout else None

    await eventually(worker_dead_letter, timeout=60)
