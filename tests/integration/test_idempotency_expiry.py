"""Idempotency keys are remembered for a day, then forgotten (the collection does not grow for
ever). Runs the records against the real FerretDB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from services.forum.idempotency import KEPT_FOR, Answered, Claimed, IdempotencyRecords
from streams.events import utc_now
from tests.harness import StackUnderTest, throwaway_database

pytestmark = pytest.mark.integration


@pytest.fixture
async def records(stack: StackUnderTest) -> AsyncIterator[IdempotencyRecords]:
    async with throwaway_database(stack, "idempotency") as db:
        kept = IdempotencyRecords(db["idempotency_keys"])
        await kept.ensure_indexes()
        yield kept


async def test_a_key_older_than_a_day_is_forgotten_and_a_recent_one_kept(records: IdempotencyRecords) -> None:
    old, recent = await records.begin("m-1", "old-key", "d1"), await records.begin("m-1", "recent-key", "d2")
    assert isinstance(old, Claimed) and isinstance(recent, Claimed)
    await records.finish(old, {"post_id": "p-old"})
    await records.finish(recent, {"post_id": "p-recent"})
    await records._records.update_one(
        {"_id": old.record_id}, {"$set": {"at": utc_now() - KEPT_FOR - timedelta(hours=1)}}
    )
    assert await records.forget_older_than() == 1
    assert await records.begin("m-1", "recent-key", "d2") == Answered({"post_id": "p-recent"})
    assert isinstance(await records.begin("m-1", "old-key", "another request"), Claimed), "a forgotten key is new"
