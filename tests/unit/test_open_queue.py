"""The open part of the review queue: order, cursor, and entries left behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.moderation.api.open_queue import OpenQueue, queue_key

T0 = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


class _Cursor:
    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self._docs = docs

    async def to_list(self, length: int | None) -> list[dict[str, Any]]:
        return [dict(d) for d in self._docs]


class MemoryCollection:
    """find({}) and find({_id: {$in}}) only, plus the writes OpenQueue makes."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    def find(self, query: dict[str, Any]) -> _Cursor:
        if not query:
            return _Cursor(list(self.docs.values()))
        assert list(query) == ["_id"] and list(query["_id"]) == ["$in"], query
        return _Cursor([self.docs[i] for i in query["_id"]["$in"] if i in self.docs])

    async def update_one(self, query: dict[str, Any], update: dict[str, Any], upsert: bool = False) -> None:
        doc = self.docs.setdefault(query["_id"], {"_id": query["_id"], **update.get("$setOnInsert", {})})
        for field, value in update.get("$max", {}).items():
            doc[field] = max(doc.get(field, value), value)

    async def delete_one(self, query: dict[str, Any]) -> None:
        self.docs.pop(query["_id"], None)


class FakeDb:
    def __init__(self) -> None:
        self.collections: dict[str, MemoryCollection] = {}

    def __getitem__(self, name: str) -> MemoryCollection:
        return self.collections.setdefault(name, MemoryCollection())


@pytest.fixture
def db() -> FakeDb:
    return FakeDb()


async def _open(db: FakeDb, queue: OpenQueue, item_id: str, rank: int, minutes: int, status: str = "open") -> None:
    db["review_items"].docs[item_id] = {
        "_id": item_id,
        "level_rank": rank,
        "created_at": T0 + timedelta(minutes=minutes),
        "status": status,
    }
    await queue.opened(item_id, rank, T0 + timedelta(minutes=minutes))


async def test_most_urgent_first_then_oldest_and_a_cursor_continues(db: FakeDb) -> None:
    queue = OpenQueue(db)  # type: ignore[arg-type]
    for item_id, rank, minutes in (("a", 1, 0), ("b", 3, 5), ("c", 2, 1), ("d", 3, 2), ("e", 1, -1)):
        await _open(db, queue, item_id, rank, minutes)
    items = db["review_items"]
    first = await queue.page(items, 2, None, lambda i: i["status"] == "open")
    assert [i["_id"] for i in first] == ["d", "b"]
    last = first[-1]
    rest = await queue.page(
        items, 10, queue_key(last["level_rank"], last["created_at"], last["_id"]), lambda i: i["status"] == "open"
    )
    assert [i["_id"] for i in rest] == ["c", "e", "a"]


async def test_a_decided_item_left_behind_is_skipped_and_its_entry_dropped(db: FakeDb) -> None:
    queue = OpenQueue(db)  # type: ignore[arg-type]
    await _open(db, queue, "a", 2, 0)
    await _open(db, queue, "b", 2, 1)
    db["review_items"].docs["a"]["status"] = "decided"  # decided, but the delete never happened
    page = await queue.page(db["review_items"], 5, None, lambda i: i["status"] == "open")
    assert [i["_id"] for i in page] == ["b"] and list(db["review_open"].docs) == ["b"]


async def test_a_report_raising_the_level_moves_the_item_up(db: FakeDb) -> None:
    queue = OpenQueue(db)  # type: ignore[arg-type]
    await _open(db, queue, "a", 1, 0)
    await _open(db, queue, "b", 2, 1)
    db["review_items"].docs["a"]["level_rank"] = 3
    await queue.opened("a", 3, T0 + timedelta(minutes=9))  # the first time stays
    page = await queue.page(db["review_items"], 5, None, lambda i: i["status"] == "open")
    assert [i["_id"] for i in page] == ["a", "b"] and db["review_open"].docs["a"]["c"] == T0
