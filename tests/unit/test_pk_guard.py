"""Guarded updates: the guard check, and which filters reach the server."""

from __future__ import annotations

from typing import Any

import pytest

from services.common.pk_guard import GuardedUpdates, matches


@pytest.mark.parametrize(
    ("doc", "guard", "expected"),
    [
        ({"status": "pending", "revision": 2}, {"status": "pending", "revision": 2}, True),
        ({"status": "pending", "revision": 3}, {"status": "pending", "revision": 2}, False),
        ({"status": "held"}, {"status": {"$in": ["held", "pending"]}}, True),
        ({"status": "removed"}, {"status": {"$in": ["held", "pending"]}}, False),
        ({"status": "removed"}, {"status": {"$nin": ["removed", "deleted"]}}, False),
        ({"pending_body": None}, {"pending_body": {"$ne": None}}, False),
        ({}, {"pending_body": {"$ne": None}}, False),
        ({}, {"post_times_version": None}, True),
        ({"post_times_version": 4}, {"post_times_version": None}, False),
    ],
)
def test_guards_read_like_mongodb_filters(doc: dict[str, Any], guard: dict[str, Any], expected: bool) -> None:
    assert matches(doc, guard) is expected


def test_an_operator_it_cannot_check_is_refused_not_ignored() -> None:
    with pytest.raises(ValueError):
        matches({"at": 3}, {"at": {"$gt": 1}})


class RecordingCollection:
    """Records every filter; holds one document."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = dict(doc)
        self.filters: list[dict[str, Any]] = []

    async def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        self.filters.append(query)
        return dict(self.doc) if matches(self.doc, query) else None

    async def find_one_and_update(
        self, query: dict[str, Any], update: dict[str, Any], **_: Any
    ) -> dict[str, Any] | None:
        self.filters.append(query)
        if not matches(self.doc, query):
            return None
        self.doc.update(update["$set"])
        return dict(self.doc)


@pytest.fixture
def posts() -> RecordingCollection:
    return RecordingCollection({"_id": "p1", "status": "pending", "revision": 2})


async def test_on_ferretdb_every_filter_is_a_primary_key(posts: RecordingCollection) -> None:
    guarded = GuardedUpdates(server_has_indexed_filters=False)
    done = await guarded.find_one_and_update(
        posts,
        "p1",
        {"status": "pending", "revision": 2},  # type: ignore[arg-type]
        {"$set": {"status": "published"}},
    )
    assert done is not None and done["status"] == "published"
    assert posts.filters == [{"_id": "p1"}, {"_id": "p1"}]


async def test_on_ferretdb_a_failed_guard_writes_nothing(posts: RecordingCollection) -> None:
    guarded = GuardedUpdates(server_has_indexed_filters=False)
    assert await guarded.update_one(posts, "p1", {"revision": 1}, {"$set": {"status": "published"}}) is False  # type: ignore[arg-type]
    assert posts.doc["status"] == "pending" and posts.filters == [{"_id": "p1"}]


async def test_on_mongodb_the_guard_goes_with_the_id_in_one_atomic_call(posts: RecordingCollection) -> None:
    guarded = GuardedUpdates(server_has_indexed_filters=True)
    assert await guarded.update_one(posts, "p1", {"status": "pending"}, {"$set": {"status": "held"}})  # type: ignore[arg-type]
    assert posts.filters == [{"_id": "p1", "status": "pending"}]
