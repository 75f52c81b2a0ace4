"""An erasure the database broke off tells the member to try again, and trying again with the same
token finishes it: the identity and its token link go, the posts are erased, the tombstone goes out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.common.problems import problem_middleware
from services.common.tokens import hash_token
from services.forum import member_views
from services.forum.keys import publisher_key, store_key
from services.forum.store import ForumStore
from streams.events import IdentityChanged
from tests.unit.memory_mongo import MemoryDatabase

TOKEN = "t" * 43


class RecordingPublisher:
    def __init__(self) -> None:
        self.erased: list[str] = []
        self.tombstones: list[str] = []

    async def identity_changed(self, event: IdentityChanged) -> None:
        assert event.erased
        self.erased.append(event.id)

    async def identity_gone(self, identity_id: str) -> None:
        self.tombstones.append(identity_id)


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
async def db() -> MemoryDatabase:
    db = MemoryDatabase()
    store = ForumStore(db)  # type: ignore[arg-type]
    await store.insert_identity({"_id": "m-1", "token_hash": hash_token(TOKEN), "handle": "Calm Otter"})
    post = {"thread_id": "t-1", "status": "published", "revision": 1, "is_thread_start": False}
    await store.insert_post({**post, "_id": "p-1", "author_id": "m-1", "author_handle": "Calm Otter", "body": "Day 3."})
    quote = {"post_id": "p-1", "author_handle": "Calm Otter", "excerpt": "Day 3."}
    await store.insert_post({**post, "_id": "p-2", "author_id": "m-2", "body": "Keep going.", "reply_quote": quote})
    return db


@pytest.fixture
async def client(db: MemoryDatabase, publisher: RecordingPublisher) -> AsyncIterator[TestClient[Any, Any]]:
    app = web.Application(middlewares=[problem_middleware])
    app[store_key] = ForumStore(db)  # type: ignore[arg-type]
    app[publisher_key] = publisher  # type: ignore[assignment]
    member_views.setup_routes(app)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def _erase(client: TestClient[Any, Any]) -> int:
    response = await client.delete("/v1/me?erase_posts=true", headers={"Authorization": f"Bearer {TOKEN}"})
    return response.status


@pytest.mark.parametrize("deletions_before", [0, 1])
async def test_an_erasure_the_database_broke_off_between_its_deletions_is_finished_by_erasing_again(
    client: TestClient[Any, Any], db: MemoryDatabase, publisher: RecordingPublisher, deletions_before: int
) -> None:
    db.goes_away_after(deletions_before, in_collections={"identities", "identity_tokens"})
    assert await _erase(client) == 503
    assert publisher.tombstones == []
    assert await _erase(client) == 204
    assert db["identities"].docs == {} and db["identity_tokens"].docs == {}
    assert publisher.tombstones == ["m-1"]
    erased = db["posts"].docs["p-1"]
    assert (erased["status"], erased["body"], erased["author_handle"]) == ("deleted", None, None)
    assert db["posts"].docs["p-2"]["reply_quote"]["excerpt"] is None
    assert await _erase(client) == 401, "once finished, the token is gone"
