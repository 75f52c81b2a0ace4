"""Reports and deletions find a post's queue items through its list of item ids, complete whether
the items came before or after the lists existed. Runs the moderation store against the real
FerretDB, as it serves them (guards checked on the document read by key)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.common.identities import Identity
from services.moderation.api.store import ModerationStore
from streams.events import PostReported, new_id
from tests.harness import StackUnderTest, throwaway_database

pytestmark = pytest.mark.integration

ADA = Identity("m-ada", "moderator", "moderator", "ada")


@pytest.fixture
async def db(stack: StackUnderTest) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    async with throwaway_database(stack, "post_items") as database:
        yield database


def _report(post_id: str) -> PostReported:
    return PostReported(
        report_id=new_id(),
        post_id=post_id,
        thread_id="t-1",
        reporter_id=f"u-{new_id()[:6]}",
        author_id="u-1",
        reason="other",
        note="they quote the post",
        body="the words of the post",
    )


async def _item_from_before_the_lists(db: AsyncDatabase[dict[str, Any]], post_id: str, status: str) -> str:
    """An item written as an older version wrote it: no entry in any post's list."""
    item_id = f"report:{post_id}"
    await db["review_items"].insert_one(
        {
            "_id": item_id,
            "post_id": post_id,
            "thread_id": "t-1",
            "author_id": "u-1",
            "revision": 1,
            "title": None,
            "body": "the words of the post",
            "verdict": None,
            "resources": [],
            "reports": [{"report_id": "r-old", "reason": "other", "note": "old note", "at": datetime.now(UTC)}],
            "level_rank": 1,
            "status": status,
            "created_at": datetime.now(UTC),
        }
    )
    return item_id


async def test_an_item_from_before_the_lists_is_joined_before_and_after_they_are_built(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    older = await _item_from_before_the_lists(db, "p-old", "open")
    before_build = ModerationStore(db)
    assert await before_build.add_report(_report("p-old")) is None, "found by the query until the lists are built"

    await before_build.build_audit_trails_once()
    assert await db["review_items_by_post"].find_one({"_id": "p-old"}) == {"_id": "p-old", "items": [older]}
    after_build = ModerationStore(db)
    assert await after_build.post_items.ready()
    assert await after_build.add_report(_report("p-old")) is None, "found through the post's list"
    assert len((await after_build.item(older))["reports"]) == 3


async def test_a_report_after_the_decision_and_a_deletion_reach_every_item_of_the_post(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    decided = await _item_from_before_the_lists(db, "p-new", "open")
    store = ModerationStore(db)
    await store.build_audit_trails_once()
    await store.claim(decided, ADA)
    await store.decide(decided, ADA, "remove", "names the bridge from the post")

    later = _report("p-new")
    assert await store.add_report(later) == "report"
    reopened = f"report:p-new:{later.report_id}"
    assert (await store.item(reopened))["status"] == "open"
    assert sorted((await db["review_items_by_post"].find_one({"_id": "p-new"}))["items"]) == [decided, reopened]

    await store.forget_post("p-new")
    for item_id in (decided, reopened):
        item = await store.item(item_id)
        assert item["body"] is None and all(report["note"] == "" for report in item["reports"])
    notes = [entry["note"] async for entry in db["audit"].find({"post_id": "p-new"})]
    assert len(notes) >= 3 and set(notes) == {""}, "claim, decision and reopening: no note keeps words"
