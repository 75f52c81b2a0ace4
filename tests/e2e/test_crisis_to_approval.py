"""From a crisis post to a moderator's approval, through every service, Kafka and the database."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.harness import (
    ForumClient,
    RunningServices,
    add_moderator,
    eventually,
    haven,
    open_event_stream,
    queue_item,
    queue_items,
    unique_name,
)

pytestmark = pytest.mark.integration

CRISIS = "I have the pills counted out and I'm going to kill myself tonight."
CALM = "Day 30 today. Made pancakes with my kid and actually tasted them."


async def _published(reader: ForumClient, post_id: str) -> dict | None:
    status, body = await reader.request("GET", f"/v1/posts/{post_id}")
    return body if status == 200 and body["status"] == "published" else None


async def test_a_crisis_post_is_held_queued_first_messaged_approved_and_published(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    moderator = await add_moderator(http, services, unique_name(services, "sam"))
    author = await ForumClient.join(http, services.forum, country="GB")
    other = await ForumClient.join(http, services.forum)
    authors_stream = await open_event_stream(http, services.notify, author.token)
    try:
        status, calmer = await other.request(
            "POST", "/v1/boards/alcohol/threads", json={"title": "Day 30", "body": CALM}
        )
        assert status == 202
        await eventually(lambda: _published(author, calmer["post_id"]), timeout=45)
        status, _ = await author.request("POST", f"/v1/posts/{calmer['post_id']}/reports", json={"reason": "spam"})
        assert status in (201, 202)
        status, crisis = await author.request(
            "POST", "/v1/boards/alcohol/threads", json={"title": "Tonight", "body": CRISIS}
        )
        assert status == 202
        mine = lambda data: data.get("post_id") == crisis["post_id"]  # noqa: E731

        resources = await authors_stream.wait_for("resources", timeout=45, where=mine)
        assert any("116 123" in r["contact"] for r in resources["data"]["data"]["resources"]), "Samaritans, for GB"
        await authors_stream.wait_for("post.held", timeout=45, where=mine)

        urgent = await eventually(lambda: queue_item(moderator, crisis["post_id"]), timeout=45)
        assert urgent["level"] == "urgent"
        assert urgent["reasons"] and urgent["resources"]
        reported = await eventually(lambda: queue_item(moderator, calmer["post_id"]), timeout=45)
        assert reported["level"] == "report"
        queue = await queue_items(moderator)
        assert queue is not None
        ids = [item["item_id"] for item in queue]
        levels = [item["level"] for item in queue]
        assert set(levels[: ids.index(urgent["item_id"])]) <= {"urgent"}, "only other urgent items come before it"
        assert ids.index(urgent["item_id"]) < ids.index(reported["item_id"])
        assert levels == sorted(levels, key=["urgent", "hold", "report", "other"].index), "most urgent first"

        status, viewed = await moderator.request("GET", f"/v1/mod/items/{urgent['item_id']}")
        assert status == 200 and viewed["body"] == CRISIS and viewed["highlights"]
        status, claimed = await moderator.request("POST", f"/v1/mod/items/{urgent['item_id']}/claim")
        assert status == 200 and claimed["claimed_by"]
        words = "We're here with you. Please call 999 or Samaritans on 116 123 right now."
        status, _ = await moderator.request("POST", f"/v1/mod/items/{urgent['item_id']}/message", json={"text": words})
        assert status == 202
        message = await authors_stream.wait_for("message", timeout=45, where=mine)
        assert message["data"]["data"]["text"] == words

        status, _ = await moderator.request(
            "POST", f"/v1/mod/items/{urgent['item_id']}/decision", json={"decision": "approve", "note": "reached out"}
        )
        assert status == 200
        await authors_stream.wait_for("post.published", timeout=45, where=mine)
    finally:
        authors_stream.close()

    await eventually(lambda: _published(other, crisis["post_id"]))
    assert await queue_item(moderator, crisis["post_id"]) is None, "a decided item leaves the queue"
    status, audit = await moderator.request("GET", f"/v1/mod/audit?post_id={crisis['post_id']}")
    steps = [(entry["action"], entry["moderator_name"]) for entry in audit["items"]]
    assert steps == [(action, unique_name(services, "sam")) for action in ("view", "claim", "message", "approve")]
    assert audit["items"][-1]["note"] == "reached out"


async def test_who_may_do_what_in_the_moderation_api(services: RunningServices, http: aiohttp.ClientSession) -> None:
    suffix = services.settings.topic_prefix.strip(".").replace("-", "_")
    first = await add_moderator(http, services, f"ana_{suffix}")
    second = await add_moderator(http, services, f"ben_{suffix}")
    admin = await add_moderator(http, services, f"cat_{suffix}", role="admin")
    member = await ForumClient.join(http, services.forum)

    status, _ = await ForumClient(http, services.moderation, token="made-up").request("GET", "/v1/mod/queue")
    assert status == 401
    status, _ = await ForumClient(http, services.moderation, token=member.token).request("GET", "/v1/mod/queue")
    assert status == 403

    author = await ForumClient.join(http, services.forum, country="US")
    status, crisis = await author.request("POST", "/v1/boards/opioids/threads", json={"title": "bye", "body": CRISIS})
    item = await eventually(lambda: queue_item(first, crisis["post_id"]), timeout=45)
    status, _ = await first.request("POST", f"/v1/mod/items/{item['item_id']}/claim")
    assert status == 200
    status, _ = await second.request("POST", f"/v1/mod/items/{item['item_id']}/claim")
    assert status == 409
    status, problem = await second.request(
        "POST", f"/v1/mod/items/{item['item_id']}/decision", json={"decision": "remove", "note": ""}
    )
    assert status == 409 and "claim" in problem["detail"]
    status, problem = await second.request(
        "POST", f"/v1/mod/items/{item['item_id']}/message", json={"text": "Are you safe right now?"}
    )
    assert status == 409 and "claim" in problem["detail"], "one moderator at a time writes to the author"
    status, _ = await admin.request(
        "POST", f"/v1/mod/items/{item['item_id']}/message", json={"text": "An admin here: we're with you."}
    )
    assert status == 202
    status, _ = await admin.request(
        "POST", f"/v1/mod/items/{item['item_id']}/decision", json={"decision": "escalate", "note": "needs an admin"}
    )
    assert status == 200

    result = await asyncio.to_thread(haven, services, "moderators", "disable", f"ben_{suffix}")
    assert result.returncode == 0, result.stderr

    async def refused() -> int | None:
        status, _ = await second.request("GET", "/v1/mod/queue")
        return status if status == 401 else None

    assert await eventually(refused, timeout=15) == 401
