"""Editing a post spends the member's post budget, and gives the slot back when the edit fails."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.common.problems import problem_middleware
from services.common.tokens import hash_token
from services.forum import post_actions
from services.forum.crisis_lines import standing_lines_key
from services.forum.keys import hotline_numbers_key, limits_key, member_turns_key, publisher_key, store_key
from services.forum.limits import MemberTurns, RateLimits
from services.forum.publisher import EventsUnavailable
from streams.events import PostSubmitted

TOKEN = "t" * 43
MEMBER = {"_id": "m-1", "handle": "Calm Otter", "token_hash": hash_token(TOKEN), "country": None, "language": None}


class FakeForumStore:
    """Only what the edit path uses; post times are compare-and-set like the real store."""

    def __init__(self) -> None:
        self.member: dict[str, Any] = {**MEMBER, "recent_post_times": [], "post_times_version": None}
        self.unsent: list[str] = []
        self.posts = {
            f"p-{n}": {
                "_id": f"p-{n}",
                "author_id": "m-1",
                "thread_id": "t-1",
                "board_slug": "alcohol",
                "status": "published",
                "revision": 1,
                "body": "Day one.",
            }
            for n in range(10)
        }
        self.conflict = False

    async def identity_by_token_hash(self, token_hash: str) -> dict[str, Any] | None:
        return dict(self.member) if token_hash == self.member["token_hash"] else None

    async def identity(self, identity_id: str) -> dict[str, Any] | None:
        return dict(self.member)

    async def replace_post_times(self, identity: dict[str, Any], times: list[datetime]) -> bool:
        if identity.get("post_times_version") != self.member["post_times_version"]:
            return False
        self.member["recent_post_times"] = times
        self.member["post_times_version"] = (self.member["post_times_version"] or 0) + 1
        return True

    async def forget_post_time(self, identity_id: str, at: datetime) -> None:
        self.member["recent_post_times"] = [t for t in self.member["recent_post_times"] if t != at]

    async def post(self, post_id: str) -> dict[str, Any] | None:
        return self.posts.get(post_id)

    async def start_edit(self, post: dict[str, Any], body: str, redacted: list[str]) -> dict[str, Any] | None:
        if self.conflict:
            return None
        post["revision"] += 1
        return dict(post)

    async def remember_unsent_edit(self, post_id: str, revision: int) -> None:
        self.unsent.append(post_id)


class RecordingPublisher:
    def __init__(self) -> None:
        self.sent: list[PostSubmitted] = []
        self.down = False

    async def post_submitted(self, event: PostSubmitted) -> None:
        if self.down:
            raise EventsUnavailable("kafka is down")
        self.sent.append(event)


@pytest.fixture
def store() -> FakeForumStore:
    return FakeForumStore()


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
async def client(store: FakeForumStore, publisher: RecordingPublisher) -> AsyncIterator[TestClient[Any, Any]]:
    app = web.Application(middlewares=[problem_middleware])
    app[store_key] = store  # type: ignore[assignment]
    app[publisher_key] = publisher  # type: ignore[assignment]
    app[limits_key] = RateLimits(posts_per_minute=3, posts_per_hour=5)
    app[member_turns_key] = MemberTurns()
    app[hotline_numbers_key] = frozenset()
    app[standing_lines_key] = lambda country: []
    post_actions.setup_routes(app)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def _edit(client: TestClient[Any, Any], post_id: str) -> tuple[int, web.Response]:
    response = await client.patch(
        f"/v1/posts/{post_id}", json={"body": "Day one, edited."}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    return response.status, response  # type: ignore[return-value]


async def test_edits_past_the_minute_limit_get_429_with_retry_after_and_are_not_screened(
    client: TestClient[Any, Any], store: FakeForumStore, publisher: RecordingPublisher
) -> None:
    statuses = [(await _edit(client, f"p-{n}"))[0] for n in range(3)]
    assert statuses == [202, 202, 202]
    status, response = await _edit(client, "p-3")
    assert status == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert "3 times a minute" in (await response.json(content_type=None))["detail"]
    assert len(publisher.sent) == 3, "a refused edit is never sent for screening"
    assert len(store.member["recent_post_times"]) == 3


async def test_an_edit_kafka_could_not_take_yet_is_kept_to_be_sent_and_spends_its_slot(
    client: TestClient[Any, Any], store: FakeForumStore, publisher: RecordingPublisher
) -> None:
    publisher.down = True
    statuses = [(await _edit(client, "p-0"))[0] for _ in range(4)]
    assert statuses == [202, 202, 202, 429], "stored and sent later: an edit, and it counts"
    assert store.unsent == ["p-0", "p-0", "p-0"]
    assert publisher.sent == []


async def test_an_edit_that_lost_a_race_gives_its_slot_back(
    client: TestClient[Any, Any], store: FakeForumStore
) -> None:
    store.conflict = True
    assert [(await _edit(client, "p-0"))[0] for _ in range(4)] == [409] * 4
    assert store.member["recent_post_times"] == []
