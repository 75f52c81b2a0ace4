"""Guarded updates: the guard check, and which filters reach the server."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo import UpdateOne
from pymongo.results import BulkWriteResult, UpdateResult

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
        ({"reports": [{"report_id": "r1"}, {"report_id": "r2"}]}, {"reports.report_id": {"$ne": "r2"}}, False),
        ({"reports": [{"report_id": "r1"}]}, {"reports.report_id": {"$ne": "r2"}}, True),
        ({"reports": []}, {"reports.report_id": {"$ne": "r2"}}, True),
        ({"claim": {"moderator_id": "m1"}}, {"claim.moderator_id": "m1"}, True),
        ({"claim": None}, {"claim.moderator_id": "m1"}, False),
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

    async def update_one(self, query: dict[str, Any], update: dict[str, Any]) -> UpdateResult:
        self.filters.append(query)
        matched = matches(self.doc, query)
        if matched:
            self.doc.update(update["$set"])
        return UpdateResult({"n": int(matched), "nModified": int(matched)}, acknowledged=True)

    async def bulk_write(self, requests: list[UpdateOne], ordered: bool = True) -> BulkWriteResult:
        matched = 0
        for request in requests:
            result = await self.update_one(request._filter, request._doc)
            matched += result.matched_count
        return BulkWriteResult({"nMatched": matched, "nModified": matched, "upserted": []}, acknowledged=True)


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


async def test_checked_writes_on_ferretdb_go_by_id_in_one_bulk_command(posts: RecordingCollection) -> None:
    guarded = GuardedUpdates(server_has_indexed_filters=False)
    written = await guarded.write_checked(posts, [("p1", {"status": "pending"}, {"$set": {"status": "held"}})])  # type: ignore[arg-type]
    assert written == [True] and posts.doc["status"] == "held"
    assert posts.filters == [{"_id": "p1"}]


async def test_checked_writes_on_ferretdb_report_none_written_when_a_document_is_gone(
    posts: RecordingCollection,
) -> None:
    guarded = GuardedUpdates(server_has_indexed_filters=False)
    writes = [("p1", {}, {"$set": {"status": "held"}}), ("gone", {}, {"$set": {"status": "held"}})]
    assert await guarded.write_checked(posts, writes) == [False, False]  # type: ignore[arg-type]


async def test_checked_writes_on_mongodb_keep_their_guards_and_say_which_held(posts: RecordingCollection) -> None:
    guarded = GuardedUpdates(server_has_indexed_filters=True)
    writes = [
        ("p1", {"revision": 1}, {"$set": {"status": "held"}}),  # the post moved on since it was read
        ("p1", {"revision": 2}, {"$set": {"status": "published"}}),
    ]
    assert await guarded.write_checked(posts, writes) == [False, True]  # type: ignore[arg-type]
    assert posts.doc["status"] == "published"
    assert posts.filters == [{"_id": "p1", "revision": 1}, {"_id": "p1", "revision": 2}]
