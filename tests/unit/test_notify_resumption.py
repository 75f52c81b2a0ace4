"""A member's stream opens while the databases are gone: live items go out without ids, and once
the inbox answers, the replay from the client's Last-Event-ID follows with ids."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pymongo.errors import AutoReconnect

from services.common.database_absence import RETRY_AFTER_S, DatabaseAbsence
from services.common.identities import IdentityCache
from services.common.problems import problem_middleware
from services.common.tokens import hash_token, new_token
from services.notify import views
from services.notify.hub import Hub
from services.notify.keys import heartbeat_key, hub_key, identities_key, inbox_absence_key, store_key
from services.notify.resumption import Resumption
from streams.events import IdentityChanged


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Database:
    """The notify database as both collaborators see it: tokens and the inbox, away together."""

    def __init__(self) -> None:
        self.away = False
        self.tokens: dict[str, dict[str, Any]] = {}
        self.items: list[dict[str, Any]] = []

    def _answer(self) -> None:
        if self.away:
            raise AutoReconnect("connection refused")

    async def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        self._answer()
        return self.tokens.get(query["_id"])

    async def update_one(self, query: dict[str, Any], update: dict[str, Any], upsert: bool = False) -> None:
        self.tokens.setdefault(query["_id"], {"_id": query["_id"]}).update(update["$set"])

    async def after(self, recipients: list[str], event_key: str, limit: int = 500) -> list[dict[str, Any]]:
        self._answer()
        return [i for i in self.items if i["recipient_id"] in recipients and i["event_key"] > event_key][:limit]


def item(key: str, recipient: str = "a1") -> dict[str, Any]:
    return {"_id": f"n-{key}", "event_key": key, "recipient_id": recipient, "kind": "resources", "post_id": "p1"}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def database() -> Database:
    return Database()


@pytest.fixture
async def client(database: Database, clock: Clock) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application(middlewares=[problem_middleware])
    views.setup_routes(app)
    app[hub_key] = Hub()
    app[store_key] = database  # type: ignore[assignment]
    app[identities_key] = IdentityCache(database, clock=clock)  # type: ignore[arg-type]
    app[inbox_absence_key] = DatabaseAbsence("the inbox", clock=clock)
    app[heartbeat_key] = 30.0
    async with TestClient(TestServer(app)) as client:
        yield client


async def frames(response: Any, count: int) -> list[dict[str, str]]:
    """The next `count` events on the stream, as their fields."""
    found: list[dict[str, str]] = []
    event: dict[str, str] = {}
    while len(found) < count:
        line = (await asyncio.wait_for(response.content.readline(), 10)).decode().rstrip("\n")
        if line.startswith(":"):
            continue
        if line:
            name, _, value = line.partition(": ")
            event[name] = value
        elif event:
            found.append(event)
            event = {}
    return found


async def known_member(client: TestClient[web.Request, web.Application], database: Database) -> str:
    token = new_token()
    await client.app[identities_key].apply(IdentityChanged(id="a1", token_hash=hash_token(token), kind="user"))
    assert await client.app[identities_key].by_token(token) is not None  # read once, while the database answers
    return token


async def test_a_stream_reopened_while_the_database_is_gone_gets_live_items_then_the_replay_with_ids(
    client: TestClient[web.Request, web.Application], database: Database, clock: Clock
) -> None:
    token = await known_member(client, database)
    database.items = [item("k-001"), item("k-002")]
    database.away = True
    response = await client.get(
        "/v1/stream", headers={"Authorization": f"Bearer {token}", "Last-Event-ID": "k-001"}, timeout=None
    )
    assert response.status == 200
    assert (await response.content.readline()) == b": connected\n"
    client.app[hub_key].publish(item("k-003"))
    [live] = await frames(response, 1)
    assert "id" not in live and live["event"] == "resources", "no id while the replay is owed"
    database.items.append(item("k-003"))
    database.away = False
    clock.now += RETRY_AFTER_S
    replayed = await frames(response, 2)
    assert [f["id"] for f in replayed] == ["k-002", "k-003"], "from where the client left, nothing skipped"
    client.app[hub_key].publish(item("k-003"))  # already written with its id: not again
    client.app[hub_key].publish(item("k-004"))
    [after] = await frames(response, 1)
    assert after["id"] == "k-004"
    response.close()


async def test_a_token_never_read_here_gets_a_503_while_the_database_is_gone(
    client: TestClient[web.Request, web.Application], database: Database
) -> None:
    database.away = True
    response = await client.get("/v1/stream", headers={"Authorization": f"Bearer {new_token()}"})
    assert response.status == 503
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert client.app[hub_key].open_streams == 0


async def test_a_resumption_without_a_last_event_id_owes_no_replay(database: Database, clock: Clock) -> None:
    database.away = True
    resumption = Resumption(database, DatabaseAbsence("the inbox", clock=clock), ["a1"], "")  # type: ignore[arg-type]
    assert resumption.caught_up and await resumption.catch_up() == []


async def test_a_replay_that_cannot_be_read_is_owed_until_the_inbox_answers(database: Database, clock: Clock) -> None:
    database.items = [item("k-001"), item("k-002")]
    database.away = True
    resumption = Resumption(database, DatabaseAbsence("the inbox", clock=clock), ["a1"], "k-001")  # type: ignore[arg-type]
    assert await resumption.catch_up() == [] and not resumption.caught_up
    database.away = False
    assert await resumption.catch_up() == [], "asked again only after the pause"
    clock.now += RETRY_AFTER_S
    assert [i["event_key"] for i in await resumption.catch_up()] == ["k-002"]
    assert resumption.caught_up
