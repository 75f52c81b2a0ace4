"""An erasure the database broke off before the identity was gone tells the member to try again,
and trying again with the same token finishes it; one broken off after it finishes anyway. Either
way the identity and its token link go, the posts are erased, the tombstone goes out."""

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
    app[store_key] = store = ForumStore(db)  # type: ignore[arg-type]
    store.every_token_linked = True  # as on any forum after its start-up: an unlinked token is refused
    app[publisher_key] = publisher  # type: ignore[assignment]
    member_views.setup_routes(app)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def _erase(client: TestClient[Any, Any]) -> int:
    response = await client.delete("/v1/me?erase_posts=true", headers={"Authorization": f"Bearer {TOKEN}"})
    return response.status


def _erased_for_good(db: MemoryDatabase, publisher: RecordingPublisher) -> None:
    assert db["identities"].docs == {}
    assert publisher.tombstones == ["m-1"]
    erased = db["posts"].docs["p-1"]
    assert (erased["status"], erased["body"], erased["author_handle"]) == ("deleted", None, None)
    assert db["posts"].docs["p-2"]["reply_quote"]["excerpt"] is None


async def test_an_erasure_the_database_broke_off_before_the_identity_went_is_finished_by_erasing_again(
    client: TestClient[Any, Any], db: MemoryDatabase, publisher: RecordingPublisher
) -> None:
    db.goes_away_after(0, in_collections={"identities"})
    assert await _erase(client) == 503
    assert publisher.tombstones == []
    assert await _erase(client) == 204
    _erased_for_good(db, publisher)
    assert db["identity_tokens"].docs == {}
    assert await _erase(client) == 401, "once finished, the token is gone"


async def test_an_erasure_whose_token_link_the_database_did_not_take_is_finished_all_the_same(
    client: TestClient[Any, Any], db: MemoryDatabase, publisher: RecordingPublisher
) -> None:
    db.goes_away_after(0, in_collections={"identity_tokens"})
    assert await _erase(client) == 204, "the member cannot retry (their identity is gone), so it must not ask them to"
    _erased_for_good(db, publisher)
    assert await _erase(client) == 401
    assert db["identity_tokens"].docs == {}, "the link left behind goes when the token is next tried"
