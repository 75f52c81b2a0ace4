"""A moderator's claim, decision or message while Kafka or the database is away: a 503 to retry,
and a retry that never sends the author the same message twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry
from pymongo.errors import AutoReconnect

from services.common.identities import Identity
from services.common.problems import problem_middleware
from services.moderation.api import views
from services.moderation.api.keys import identities_key, publisher_key, sla_key, store_key
from services.moderation.api.sla import SlaMetrics
from streams.events import new_id, utc_now
from streams.publishing import EventsUnavailable

TOKEN = "moderator-token"
ADA = Identity(id="mod-ada", kind="moderator", role="moderator", name="Ada")
ITEM = {
    "_id": "i-1",
    "post_id": "p-1",
    "thread_id": "t-1",
    "author_id": "m-1",
    "level_rank": 3,
    "status": "open",
    "created_at": utc_now(),
    "claim": None,
}


class FakeIdentities:
    async def by_token(self, token: str) -> Identity | None:
        return ADA if token == TOKEN else None


class FakeReviewDesk:
    """Only what the claim, decision and message views use; `audit` can fail like a database going away."""

    def __init__(self) -> None:
        self.audited: list[str] = []
        self.audits_failing = 0

    async def claim(self, item_id: str, moderator: Identity) -> tuple[dict[str, Any], bool]:
        return dict(ITEM), False

    async def decide(self, item_id: str, moderator: Identity, decision: str, note: str) -> tuple[dict[str, Any], bool]:
        decided = {"decision": decision, "note": note, "moderator_id": moderator.id, "at": utc_now()}
        return {**ITEM, "status": "decided", "decision": decided}, False

    async def to_message(self, item_id: str, moderator: Identity) -> dict[str, Any]:
        return dict(ITEM)

    async def audit(self, item: dict[str, Any], moderator: Identity, action: str, note: str = "") -> str:
        if self.audits_failing:
            self.audits_failing -= 1
            raise AutoReconnect("the database went away")
        self.audited.append(entry_id := new_id())
        return entry_id


class RecordingPublisher:
    def __init__(self) -> None:
        self.kafka_away = False
        self.messages: list[tuple[str | None, str]] = []

    def _send(self) -> None:
        if self.kafka_away:
            raise EventsUnavailable("TimeoutError")

    async def to_moderators(self, kind: str, item: dict[str, Any], moderator: Identity) -> None:
        self._send()

    async def decision(self, item: dict[str, Any], moderator: Identity, decision: str, note: str) -> None:
        self._send()

    async def message_to_author(self, item: dict[str, Any], text: str, notification_id: str | None = None) -> None:
        self._send()
        self.messages.append((notification_id, text))


@pytest.fixture
def desk() -> FakeReviewDesk:
    return FakeReviewDesk()


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
async def client(desk: FakeReviewDesk, publisher: RecordingPublisher) -> AsyncIterator[TestClient[Any, Any]]:
    app = web.Application(middlewares=[problem_middleware])
    app[identities_key] = FakeIdentities()  # type: ignore[misc]
    app[store_key] = desk  # type: ignore[misc]
    app[publisher_key] = publisher  # type: ignore[misc]
    app[sla_key] = SlaMetrics(CollectorRegistry())
    views.setup_routes(app)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def _post(client: TestClient[Any, Any], action: str, body: dict[str, str]) -> ClientResponse:
    return await client.post(f"/v1/mod/items/i-1/{action}", json=body, headers={"Authorization": f"Bearer {TOKEN}"})


@pytest.mark.parametrize(
    ("action", "body"),
    [("claim", {}), ("decision", {"decision": "remove"}), ("message", {"text": "We are here for you."})],
)
async def test_kafka_away_answers_503_with_retry_after(
    client: TestClient[Any, Any], publisher: RecordingPublisher, action: str, body: dict[str, str]
) -> None:
    publisher.kafka_away = True
    response = await _post(client, action, body)
    assert response.status == 503
    assert response.headers["Retry-After"] == "5"


async def test_a_message_resent_after_its_audit_failed_reaches_the_author_once(
    client: TestClient[Any, Any], desk: FakeReviewDesk, publisher: RecordingPublisher
) -> None:
    desk.audits_failing = 1
    first = await _post(client, "message", {"text": "We are here for you."})
    assert first.status == 503
    again = await _post(client, "message", {"text": "We are here for you."})
    assert again.status == 202
    assert publisher.messages == [(desk.audited[0], "We are here for you.")], "sent once, under its audit entry's id"
