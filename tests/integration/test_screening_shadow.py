"""Shadow screening on the real Kafka and database: disagreements are recorded, nothing is emitted."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from services.common.mongo import create_mongo_client
from services.moderation.screening import ScreeningInput
from services.moderation.screening.shadow import COLLECTION, run_shadow
from streams.events import PostSubmitted, Verdict, new_id
from streams.kafka import create_consumer, create_producer, ensure_topics, send_event
from streams.topics import Topics
from tests.harness import StackUnderTest, eventually
from tools.process_group import isolated_settings

pytestmark = pytest.mark.integration


def _screen(version: str, risk: str, action: str):  # type: ignore[no-untyped-def]
    def screen(items: list[ScreeningInput]) -> list[Verdict]:
        return [Verdict(id=i.id, risk=risk, action=action, categories=[], model_version=version) for i in items]  # type: ignore[arg-type]

    return screen


async def test_a_shadow_candidate_records_its_disagreements_and_emits_nothing(stack: StackUnderTest) -> None:
    settings = isolated_settings(stack.settings, label="shadow")
    await ensure_topics(settings)
    topics = Topics(settings.topic_prefix)
    shadow = asyncio.create_task(
        run_shadow(
            settings,
            _screen("live-1", "none", "publish"),
            _screen("cand-2", "high", "hold"),
            "cand-2",
            start_at="earliest",
        )
    )
    producer = create_producer(settings, client_id="shadow-test")
    await producer.start()
    mongo = create_mongo_client(settings)
    post_id = new_id()
    try:
        body = "a body the shadow must never store"
        await send_event(
            producer,
            topics.posts_submitted,
            "t1",
            PostSubmitted(
                post_id=post_id,
                thread_id="t1",
                board_slug="alcohol",
                author_id="a1",
                body=body,
            ),
        )
        collection = mongo[settings.database_name("moderation")][COLLECTION]

        async def recorded():  # type: ignore[no-untyped-def]
            return await collection.find_one({"post_id": post_id})

        record = await eventually(recorded, timeout=60.0)
        assert record["live"]["risk"] == "none" and record["candidate"]["risk"] == "high"
        assert record["candidate"]["model_version"] == "cand-2"
        assert body not in repr(record)

        # Nothing was emitted: posts.screened stays empty in this run's topics.
        consumer = create_consumer(settings, [topics.posts_screened], group_id=None, client_id="shadow-test-check")
        await consumer.start()
        try:
            batches = await consumer.getmany(timeout_ms=2000)
            assert not any(batches.values())
        finally:
            await consumer.stop()
    finally:
        shadow.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await shadow
        await producer.stop()
        await mongo.close()
