"""When Kafka cannot take a submission, the forum says so (503) and keeps nothing half-done."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from services.moderation.resources import ResourceDirectory
from streams.events import PostSubmitted
from streams.serialization import decode
from streams.settings import Settings
from streams.topics import Topics
from tests.harness import ForumClient, StackUnderTest, eventually, read_topic_of
from tools.localstack.components import StackPaths
from tools.localstack.stack import start_kafka, stop
from tools.process_group import free_port_pair, isolated_settings, start_service_processes

pytestmark = pytest.mark.integration


@pytest.fixture
async def forum_on_its_own_broker(stack: StackUnderTest, tmp_path: Path) -> AsyncIterator[tuple[str, object]]:
    """A forum whose Kafka broker this test can stop without disturbing anyone else."""
    kafka_port = free_port_pair()  # the controller listens on the next port
    own = stack.settings.with_overrides(kafka_bootstrap=f"127.0.0.1:{kafka_port}", state_dir=tmp_path / "state")
    # FerretDB is shared: only a broker of its own is started here.
    await start_kafka(own, StackPaths.from_settings(own))
    settings = isolated_settings(own, label="outage")
    group = await start_service_processes(settings, tmp_path / "logs", names=("forum",))
    try:
        yield group.url("forum"), own
    finally:
        group.stop()
        stop(own)


async def test_posting_while_kafka_is_down_answers_503_with_retry_after_and_stores_nothing(
    forum_on_its_own_broker: tuple[str, object],
) -> None:
    forum_url, own_settings = forum_on_its_own_broker
    async with aiohttp.ClientSession() as http:
        member = await ForumClient.join(http, forum_url, country="IE")
        stop(own_settings)  # type: ignore[arg-type]

        async with http.post(
            f"{forum_url}/v1/boards/newcomers/threads",
            headers={"Authorization": f"Bearer {member.token}"},
            json={"title": "Is anyone up?", "body": "Can't sleep. Day 2."},
            timeout=aiohttp.ClientTimeout(total=60),
        ) as response:
            assert response.status == 503
            assert response.headers["Content-Type"].startswith("application/problem+json")
            assert int(response.headers["Retry-After"]) > 0
            problem = await response.json(content_type=None)
        assert "try again" in problem["detail"]
        # Nothing reached the screener, so the answer brings the member's own country's lines.
        assert problem["crisis_lines"] == [line.model_dump() for line in ResourceDirectory.load().standing_lines("IE")]

        status, threads = await member.request("GET", "/v1/boards/newcomers/threads")
        assert status == 200 and threads["items"] == []


async def test_a_newcomer_who_cannot_join_while_kafka_is_down_gets_the_lines_of_the_country_they_gave(
    forum_on_its_own_broker: tuple[str, object],
) -> None:
    forum_url, own_settings = forum_on_its_own_broker
    stop(own_settings)  # type: ignore[arg-type]
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{forum_url}/v1/identities", json={"country": "NZ"}, timeout=aiohttp.ClientTimeout(total=60)
        ) as response:
            assert response.status == 503
            assert int(response.headers["Retry-After"]) > 0
            problem = await response.json(content_type=None)
    assert problem["crisis_lines"] == [line.model_dump() for line in ResourceDirectory.load().standing_lines("NZ")]


async def test_a_submission_refused_while_kafka_was_down_can_be_sent_again_with_its_key(
    forum_on_its_own_broker: tuple[str, object],
) -> None:
    forum_url, own_settings = forum_on_its_own_broker
    headers_key = {"Idempotency-Key": "retry-after-outage-1"}
    async with aiohttp.ClientSession() as http:
        member = await ForumClient.join(http, forum_url)
        stop(own_settings)  # type: ignore[arg-type]
        status, _ = await member.request(
            "POST",
            "/v1/boards/newcomers/threads",
            headers=headers_key,
            json={"title": "Still here", "body": "Day 9."},
            timeout=aiohttp.ClientTimeout(total=60),
        )
        assert status == 503
        await start_kafka(own_settings, StackPaths.from_settings(own_settings))  # type: ignore[arg-type]
        status, body = await eventually(lambda: _accepted(member, headers_key), timeout=90, interval=2)
        assert status == 202 and body["status"] == "pending"
        again_status, again = await member.request(
            "POST",
            "/v1/boards/newcomers/threads",
            headers=headers_key,
            json={"title": "Still here", "body": "Day 9."},
        )
        assert (again_status, again["post_id"]) == (202, body["post_id"])


async def _accepted(member: ForumClient, headers: dict[str, str]) -> tuple[int, dict] | None:  # type: ignore[type-arg]
    status, body = await member.request(
        "POST",
        "/v1/boards/newcomers/threads",
        headers=headers,
        json={"title": "Still here", "body": "Day 9."},
        timeout=aiohttp.ClientTimeout(total=30),
    )
    return (status, body) if status == 202 else None


@pytest.fixture
async def forum_and_topics_on_its_own_broker(
    stack: StackUnderTest, tmp_path: Path
) -> AsyncIterator[tuple[str, Settings, Settings]]:
    """As above, with the forum's own settings (its topic prefix) as well."""
    kafka_port = free_port_pair()
    own = stack.settings.with_overrides(kafka_bootstrap=f"127.0.0.1:{kafka_port}", state_dir=tmp_path / "state")
    await start_kafka(own, StackPaths.from_settings(own))
    settings = isolated_settings(own, label="outage")
    group = await start_service_processes(settings, tmp_path / "logs", names=("forum",))
    try:
        yield group.url("forum"), own, group.settings
    finally:
        group.stop()
        stop(own)


async def test_an_edit_kafka_did_not_take_reaches_it_under_its_own_revision_once_it_is_back(
    forum_and_topics_on_its_own_broker: tuple[str, Settings, Settings],
) -> None:
    forum_url, own, settings = forum_and_topics_on_its_own_broker
    async with aiohttp.ClientSession() as http:
        member = await ForumClient.join(http, forum_url)
        status, created = await member.request(
            "POST", "/v1/boards/newcomers/threads", json={"title": "Night", "body": "Day 4. Rough one."}
        )
        assert status == 202
        stop(own)
        status, _ = await member.request(
            "PATCH",
            f"/v1/posts/{created['post_id']}",
            json={"body": "Day 4. Rough one, but I made it to the meeting."},
            timeout=aiohttp.ClientTimeout(total=60),
        )
        assert status == 202, "the edit is stored and will be sent: the answer says so"
        await start_kafka(own, StackPaths.from_settings(own))
        topic = Topics(settings.topic_prefix).posts_submitted

        def edits(records: list[Any]) -> set[tuple[int, str]]:
            events = (decode(PostSubmitted, r.value) for r in records if r.value)
            return {(e.revision, e.body) for e in events if e.kind == "edit"}

        records = await read_topic_of(settings, topic, lambda records: bool(edits(records)), timeout=90)
        assert edits(records) == {(2, "Day 4. Rough one, but I made it to the meeting.")}, (
            "the edit reaches Kafka under its own revision (else its post would wait for ever)"
        )
        status, _ = await member.request(
            "PATCH", f"/v1/posts/{created['post_id']}", json={"body": "Day 4. Made it to the meeting."}
        )
        assert status == 202
        records = await read_topic_of(settings, topic, lambda records: len(edits(records)) >= 2, timeout=60)
        assert edits(records) == {
            (2, "Day 4. Rough one, but I made it to the meeting."),
            (3, "Day 4. Made it to the meeting."),
        }, "no revision is used for two texts: a verdict is applied by revision"
