"""Page read models: appends, reads both ways across buckets, and nothing but primary-key filters."""

from __future__ import annotations

from typing import Any

import pytest

from services.common.pk_lists import BUCKET, PkList, list_documents


class PrimaryKeyOnlyCollection:
    """Holds documents in memory and refuses any filter but exactly {_id: str} or {_id: {$in: [str]}}."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.reads = 0

    @staticmethod
    def _key(query: dict[str, Any]) -> str:
        assert list(query) == ["_id"] and isinstance(query["_id"], str), f"not a primary-key filter: {query}"
        return str(query["_id"])

    async def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        self.reads += 1
        doc = self.docs.get(self._key(query))
        return None if doc is None else {**doc, "e": list(doc.get("e", []))}

    def find(self, query: dict[str, Any]) -> _Found:
        assert list(query) == ["_id"] and list(query["_id"]) == ["$in"], f"not a primary-key filter: {query}"
        assert all(isinstance(key, str) for key in query["_id"]["$in"]), f"not a primary-key filter: {query}"
        self.reads += 1
        return _Found([{**self.docs[key]} for key in query["_id"]["$in"] if key in self.docs])

    async def find_one_and_update(self, query: dict[str, Any], update: dict[str, Any], **_: Any) -> dict[str, Any]:
        key = self._key(query)
        doc = self.docs.setdefault(key, {"_id": key})
        for field, by in update["$inc"].items():
            doc[field] = doc.get(field, 0) + by
        return dict(doc)

    async def update_one(self, query: dict[str, Any], update: dict[str, Any], upsert: bool = False) -> None:
        key = self._key(query)
        doc = self.docs.setdefault(key, {"_id": key})
        pushed = update["$push"]["e"]
        doc.setdefault("e", []).extend(pushed["$each"] if "$each" in pushed else [pushed])

    async def delete_one(self, query: dict[str, Any]) -> None:
        self.docs.pop(self._key(query), None)

    async def insert_many(self, docs: list[dict[str, Any]]) -> None:
        for doc in docs:
            assert doc["_id"] not in self.docs
            self.docs[doc["_id"]] = doc


class _Found:
    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs

    async def to_list(self, length: int | None) -> list[dict[str, Any]]:
        return self.docs


@pytest.fixture
def lists() -> PkList:
    return PkList(PrimaryKeyOnlyCollection())  # type: ignore[arg-type]


async def test_appends_take_consecutive_positions_across_buckets(lists: PkList) -> None:
    positions = [await lists.append("t1", {"p": f"p{n}"}) for n in range(BUCKET + 5)]
    assert positions == list(range(BUCKET + 5))
    assert await lists.length("t1") == BUCKET + 5 and await lists.length("t2") is None
    entries, covered = await lists.forward("t1", BUCKET - 3, BUCKET + 5)
    assert [e["p"] for e in entries] == [f"p{n}" for n in range(BUCKET - 2, BUCKET + 5)]
    assert covered == BUCKET + 4


async def test_reading_backward_is_newest_first_and_stops_at_the_cursor(lists: PkList) -> None:
    for n in range(3 * BUCKET):
        await lists.append("b", {"t": f"t{n}"})
    entries, first = await lists.backward("b", 3 * BUCKET - 10, max_buckets=1)
    assert [e["i"] for e in entries] == list(range(3 * BUCKET - 11, 2 * BUCKET - 1, -1))
    assert first == 2 * BUCKET
    assert await lists.backward("b", 0) == ([], 0)


async def test_a_page_read_is_one_query_for_its_buckets_however_long_the_list(lists: PkList) -> None:
    for n in range(20 * BUCKET):
        await lists.append("t", {"p": n})
    collection = lists.collection
    before = collection.reads  # type: ignore[attr-defined]
    await lists.forward("t", 10 * BUCKET + 3, 20 * BUCKET)
    await lists.backward("t", 20 * BUCKET)
    assert collection.reads - before == 2  # type: ignore[attr-defined]  # two buckets each way, one query each


async def test_bulk_loaded_and_extended_lists_read_like_appended_ones(lists: PkList) -> None:
    await lists.collection.insert_many(list_documents("t", [{"p": n} for n in range(BUCKET + 1)]))  # type: ignore[attr-defined]
    assert await lists.extend("t", [{"p": "x"}, {"p": "y"}]) == BUCKET + 1
    assert await lists.append("t", {"p": "z"}) == BUCKET + 3
    entries, _ = await lists.forward("t", BUCKET - 1, BUCKET + 4)
    assert [(e["i"], e["p"]) for e in entries] == [
        (BUCKET, BUCKET),
        (BUCKET + 1, "x"),
        (BUCKET + 2, "y"),
        (BUCKET + 3, "z"),
    ]
