"""A post goes forum -> Kafka -> screening worker -> Kafka -> forum, for real."""

from __future__ import annotations

import aiohttp
import pytest

from tests.harness import ForumClient, RunningServices, eventually

pytestmark = pytest.mark.integration


async def _status_of(client: ForumClient, post_id: str, wanted: str) -> dict | None:
    status, body = await client.request("GET", f"/v1/posts/{post_id}")
    return body if status == 200 and body["status"] == wanted else None


async def _published_thread(author: ForumClient) -> str:
    status, created = await author.request(
        "POST",
        "/v1/boards/newcomers/threads",
        json={"title": "Day 3 and hanging in", "body": "First time posting. Three days without a drink."},
    )
    assert status == 202, created
    assert created["status"] == "pending"
    await eventually(lambda: _status_of(author, created["post_id"], "published"))
    return created["thread_id"]


async def test_a_benign_reply_is_published_and_readable_by_another_member(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    author = await ForumClient.join(http, services.forum, country="GB")
    reader = await ForumClient.join(http, services.forum)
    thread_id = await _published_thread(author)

    status, reply = await author.request(
        "POST", f"/v1/threads/{thread_id}/posts", json={"body": "Went to a meeting tonight. It helped."}
    )
    assert status == 202, reply

    post = await eventually(lambda: _status_of(reader, reply["post_id"], "published"))
    assert post["body"] == "Went to a meeting tonight. It helped."
    assert post["author_handle"] == author.identity["handle"]
    status, thread = await reader.request("GET", f"/v1/threads/{thread_id}")
    assert status == 200
    assert [p["post_id"] for p in thread["posts"]][-1] == reply["post_id"]


async def test_an_explicit_crisis_reply_is_held_and_hidden_from_everyone_but_its_author(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    author = await ForumClient.join(http, services.forum, country="US")
    reader = await ForumClient.join(http, services.forum)
    thread_id = await _published_thread(author)

    status, reply = await author.request(
        "POST",
        f"/v1/threads/{thread_id}/posts",
        json={"body": "I can't do this anymore. I have the pills counted out and I'm going to kill myself tonight."},
    )
    assert status == 202, reply

    held = await eventually(lambda: _status_of(author, reply["post_id"], "held"))
    assert held["resources"], "the author sees crisis resources on their held post"
    assert any("911" in r["contact"] or "988" in r["contact"] for r in held["resources"])
    status, _ = await reader.request("GET", f"/v1/posts/{reply['post_id']}")
    assert status == 404
    status, thread = await reader.request("GET", f"/v1/threads/{thread_id}")
    assert reply["post_id"] not in [p["post_id"] for p in thread["posts"]]
