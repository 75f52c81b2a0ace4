"""An author's deletion that the database broke off is finished by deleting again: no copy of the
words (old revisions, quotes in others' replies, the thread's title) is left behind for good."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.common.pk_guard import GuardedUpdates
from services.common.problems import problem_middleware
from services.common.tokens import hash_token
from services.forum import post_actions
from services.forum.keys import publisher_key, store_key
from services.forum.store import REMOVED_TITLE, ForumStore
from streams.events import PostDeleted
from tests.unit.memory_mongo import MemoryDatabase

TOKEN = "t" * 43
WORDS = "I told my boss about the drinking today"


class RecordingPublisher:
    def __init__(self) -> None:
        self.deleted: list[PostDeleted] = []

    async def post_deleted(self, event: PostDeleted) -> None:
        self.deleted.append(event)


@pytest.fixture
async def db() -> MemoryDatabase:
    db = MemoryDatabase()
    store = ForumStore(db)  # type: ignore[arg-type]
    await store.insert_identity({"_id": "m-1", "token_hash": hash_token(TOKEN), "handle": "Calm Otter"})
    await store.insert_thread(
        {"_id": "t-1", "title": "Day one, " + WORDS, "first_post_id": "p-1", "status": "published"}
    )
    post = {"thread_id": "t-1", "status": "published", "revision": 2, "pending_body": None}
    await store.insert_post(
        {
            **post,
            "_id": "p-1",
            "author_id": "m-1",
            "author_handle": "Calm Otter",
            "body": WORDS,
            "is_thread_start": True,
        }
    )
    await store.revisions.insert_one({"_id": "p-1:1", "post_id": "p-1", "revision": 1, "body": WORDS})
    quote = {"post_id": "p-1", "author_handle": "Calm Otter", "excerpt": WORDS}
    await store.insert_post(
        {**post, "_id": "p-2", "author_id": "m-2", "body": "Proud of you.", "is_thread_start": False}
        | {"reply_quote": quote}
    )
    return db


@pytest.fixture
async def client(db: MemoryDatabase) -> AsyncIterator[TestClient[Any, Any]]:
    app = web.Application(middlewares=[problem_middleware])
    app[store_key] = ForumStore(db)  # type: ignore[arg-type]
    app[publisher_key] = RecordingPublisher()  # type: ignore[assignment]
    post_actions.setup_routes(app)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def _delete(client: TestClient[Any, Any]) -> int:
    response = await client.delete("/v1/posts/p-1", headers={"Authorization": f"Bearer {TOKEN}"})
    return response.status


@pytest.mark.parametrize("writes_before", [0, 1, 2, 3])
async def test_a_deletion_the_database_broke_off_is_finished_by_deleting_again(
    client: TestClient[Any, Any], db: MemoryDatabase, writes_before: int
) -> None:
    db.goes_away_after(writes_before)
    assert await _delete(client) == 503
    assert await _delete(client) == 204
    deleted = db["posts"].docs["p-1"]
    assert (deleted["status"], deleted["body"]) == ("deleted", None)
    assert db["post_revisions"].docs == {}
    assert db["posts"].docs["p-2"]["reply_quote"] == {
        "post_id": "p-1",
        "author_handle": None,
        "excerpt": None,
        "removed": True,
    }
    assert db["threads"].docs["t-1"]["title"] == REMOVED_TITLE


async def test_deleting_a_deleted_post_again_changes_nothing_more(
    client: TestClient[Any, Any], db: MemoryDatabase
) -> None:
    assert await _delete(client) == 204
    assert await _delete(client) == 204
    assert db["posts"].docs["p-1"]["body"] is None and db["threads"].docs["t-1"]["title"] == REMOVED_TITLE


async def test_a_post_deleted_whole_is_not_announced_or_searched_again(
    client: TestClient[Any, Any], db: MemoryDatabase
) -> None:
    assert await _delete(client) == 204
    db.goes_away_after(0)  # a repeat that wrote anything would now fail
    assert await _delete(client) == 204
    assert len(client.app[publisher_key].deleted) == 1


async def test_an_edit_that_read_the_post_before_its_deletion_keeps_no_old_version(
    client: TestClient[Any, Any], db: MemoryDatabase
) -> None:
    store = ForumStore(db, guarded=GuardedUpdates(server_has_indexed_filters=False))  # type: ignore[arg-type]
    read_by_the_edit = await store.post("p-1")
    assert read_by_the_edit is not None
    assert await _delete(client) == 204
    assert await store.start_edit(read_by_the_edit, "New words.", []) is None, "refused: the post is deleted"
    assert db["post_revisions"].docs == {}, "the words the edit kept would outlive the deletion"


async def test_someone_elses_deleted_post_still_looks_missing(client: TestClient[Any, Any], db: MemoryDatabase) -> None:
    db["posts"].docs["p-2"]["status"] = "deleted"
    response = await client.delete("/v1/posts/p-2", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status == 404
