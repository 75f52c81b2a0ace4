"""From a crisis post to a moderator's approval, through every service, Kafka and the database."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import aiohttp
import pytest

from services.process_group import REPO_ROOT
from tests.harness import ForumClient, RunningServices, eventually

pytestmark = pytest.mark.integration

CRISIS = "I have the pills counted out and I'm going to kill myself tonight."
HELD = "I keep thinking everyone would be better off without me. I'm so tired."


def _haven(services: RunningServices, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args], cwd=REPO_ROOT, env=services.env,
        capture_output=True, text=True, timeout=120,
    )


async def _moderator(http: aiohttp.ClientSession, services: RunningServices, name: str, role: str = "moderator") -> ForumClient:
    result = await asyncio.to_thread(_haven, services, "moderators", "add", name, "--role", role)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert len(token) >= 43, "the token is alone on the last line"
    return ForumClient(http, services.moderation, token=token)


async def _queue_item(moderator: ForumClient, post_id: str) -> dict | None:
    status, queue = await moderator.request("GET", "/v1/mod/queue")
    if status != 200:
        return None
    return next((item for item in queue["items"] if item["post_id"] == post_id), None)


async def test_a_crisis_post_is_held_queued_first_messaged_approved_and_published(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    suffix = services.settings.topic_prefix.strip(".").replace("-", "_")
    moderator = await _moderator(http, services, f"sam_{suffix}")
    author = await ForumClient.join(http, services.forum, country="GB")
    other = await ForumClient.join(http, services.forum)

    status, calmer = await other.request("POST", "/v1/boards/alcohol/threads", json={"title": "Heavy week", "body": HELD})
    assert status == 202
    status, crisis = await author.request("POST", "/v1/boards/alcohol/threads", json={"title": "Tonight", "body": CRISIS})
    assert status == 202

    urgent = await eventually(lambda: _queue_item(moderator, crisis["post_id"]), timeout=45)
    assert urgent["level"] == "urgent"
    assert urgent["reasons"] and urgent["resources"]
    status, queue = await moderator.request("GET", "/v1/mod/queue")
    levels = [item["level"] for item in queue["items"]]
    assert levels.index("urgent") == 0, "the most urgent item comes first"

    status, claimed = await moderator.request("POST", f"/v1/mod/items/{urgent['item_id']}/claim")
    assert status == 200 and claimed["claimed_by"]
    status, _ = await moderator.request(
        "POST", f"/v1/mod/items/{urgent['item_id']}/message",
        json={"text": "We're here with you. Please call 999 or Samaritans on 116 123 right now."},
    )
    assert status == 202
    status, _ = await moderator.request(
        "POST", f"/v1/mod/items/{urgent['item_id']}/decision", json={"decision": "approve", "note": "reached out"}
    )
    assert status == 200

    async def published_for_others() -> dict | None:
        status, body = await other.request("GET", f"/v1/posts/{crisis['post_id']}")
        return body if status == 200 and body["status"] == "published" else None

    await eventually(published_for_others)
    assert await _queue_item(moderator, crisis["post_id"]) is None, "a decided item leaves the queue"
    status, audit = await moderator.request("GET", f"/v1/mod/audit?post_id={crisis['post_id']}")
    assert [entry["action"] for entry in audit["items"]] == ["claim", "message", "approve"]


async def test_who_may_do_what_in_the_moderation_api(services: RunningServices, http: aiohttp.ClientSession) -> None:
    suffix = services.settings.topic_prefix.strip(".").replace("-", "_")
    first = await _moderator(http, services, f"ana_{suffix}")
    second = await _moderator(http, services, f"ben_{suffix}")
    admin = await _moderator(http, services, f"cat_{suffix}", role="admin")
    member = await ForumClient.join(http, services.forum)

    status, _ = await ForumClient(http, services.moderation, token="made-up").request("GET", "/v1/mod/queue")
    assert status == 401
    status, _ = await ForumClient(http, services.moderation, token=member.token).request("GET", "/v1/mod/queue")
    assert status == 403

    author = await ForumClient.join(http, services.forum, country="US")
    status, crisis = await author.request("POST", "/v1/boards/opioids/threads", json={"title": "bye", "body": CRISIS})
    item = await eventually(lambda: _queue_item(first, crisis["post_id"]), timeout=45)
    status, _ = await first.request("POST", f"/v1/mod/items/{item['item_id']}/claim")
    assert status == 200
    status, _ = await second.request("POST", f"/v1/mod/items/{item['item_id']}/claim")
    assert status == 409
    status, problem = await second.request(
        "POST", f"/v1/mod/items/{item['item_id']}/decision", json={"decision": "remove", "note": ""}
    )
    assert status == 409 and "claim" in problem["detail"]
    status, _ = await admin.request(
        "POST", f"/v1/mod/items/{item['item_id']}/decision", json={"decision": "escalate", "note": "needs an admin"}
    )
    assert status == 200

    result = await asyncio.to_thread(_haven, services, "moderators", "disable", f"ben_{suffix}")
    assert result.returncode == 0, result.stderr

    async def refused() -> int | None:
        status, _ = await second.request("GET", "/v1/mod/queue")
        return status if status == 401 else None

    assert await eventually(refused, timeout=15) == 401
