"""The open part of the review queue: order, cursor, and entries left behind. Runs against the
real FerretDB: the page is one sorted, limited query at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.moderation.api.open_queue import OpenQueue, queue_key
from tests.harness import StackUnderTest, throwaway_database

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


@pytest.fixture
async def db(stack: StackUnderTest) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    async with throwaway_database(stack, "open_queue") as database:
        yield database


def _is_open(item: dict[str, Any]) -> bool:
    return bool(item["status"] == "open")


async def _open(
    db: AsyncDatabase[dict[str, Any]], queue: OpenQueue, item_id: str, rank: int, minutes: int, status: str = "open"
) -> None:
    at = T0 + timedelta(minutes=minutes)
    await db["review_items"].insert_one({"_id": item_id, "level_rank": rank, "created_at": at, "status": status})
    await queue.opened(item_id, rank, at)


async def _entries(db: AsyncDatabase[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {doc["_id"]: doc for doc in await db["review_open"].find({}).to_list(None)}


async def test_most_urgent_first_then_oldest_and_a_cursor_continues(db: AsyncDatabase[dict[str, Any]]) -> None:
    queue = OpenQueue(db)
    for item_id, rank, minutes in (("a", 1, 0), ("b", 3, 5), ("c", 2, 1), ("d", 3, 2), ("e", 1, -1)):
        await _open(db, queue, item_id, rank, minutes)
    items = db["review_items"]
    first = await queue.page(items, 2, None, _is_open)
    assert [i["_id"] for i in first] == ["d", "b"]
    last = first[-1]
    rest = await queue.page(items, 10, queue_key(last["level_rank"], last["created_at"], last["_id"]), _is_open)
    assert [i["_id"] for i in rest] == ["c", "e", "a"]


async def test_items_opened_at_the_same_moment_page_by_id_without_repeats(db: AsyncDatabase[dict[str, Any]]) -> None:
    queue = OpenQueue(db)
    for item_id in ("m", "k", "n", "l"):
        await _open(db, queue, item_id, 2, 0)
    items, seen, after = db["review_items"], [], None
    for _ in range(5):
        page = await queue.page(items, 1, after, _is_open)
        if not page:
            break
        seen += [i["_id"] for i in page]
        after = queue_key(page[-1]["level_rank"], page[-1]["created_at"], page[-1]["_id"])
    assert seen == ["k", "l", "m", "n"]


async def test_a_decided_item_left_behind_is_skipped_and_its_entry_dropped(db: AsyncDatabase[dict[str, Any]]) -> None:
    queue = OpenQueue(db)
    for n in range(5):
        await _open(db, queue, f"gone-{n}", 2, n)
    await _open(db, queue, "b", 2, 9)
    # Decided, but the deletes never happened: more of them than the page's limit.
    await db["review_items"].update_many({"_id": {"$regex": "^gone-"}}, {"$set": {"status": "decided"}})
    page = await queue.page(db["review_items"], 2, None, _is_open)
    assert [i["_id"] for i in page] == ["b"] and list(await _entries(db)) == ["b"]


async def test_a_report_raising_the_level_moves_the_item_up(db: AsyncDatabase[dict[str, Any]]) -> None:
    queue = OpenQueue(db)
    await _open(db, queue, "a", 1, 0)
    await _open(db, queue, "b", 2, 1)
    await db["review_items"].update_one({"_id": "a"}, {"$set": {"level_rank": 3}})
    await queue.opened("a", 3, T0 + timedelta(minutes=9))  # the first time stays
    page = await queue.page(db["review_items"], 5, None, _is_open)
    assert [i["_id"] for i in page] == ["a", "b"] and (await _entries(db))["a"]["c"] == T0
