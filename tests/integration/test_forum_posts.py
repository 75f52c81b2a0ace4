"""Posting rules through the real stack: bad input, limits, redaction, edits, deletion, privacy."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from services.moderation.resources import ResourceDirectory
from tests.harness import ForumClient, RunningServices, eventually

pytestmark = pytest.mark.integration


async def _status(client: ForumClient, post_id: str, wanted: str) -> dict | None:
    status, post = await client.request("GET", f"/v1/posts/{post_id}")
    return post if status == 200 and post["status"] == wanted else None


async def test_bad_input_gets_a_clear_problem_never_a_500(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    member = await ForumClient.join(http, services.forum)
    anonymous = ForumClient(http, services.forum)
    cases = [
        (
            member,
            "POST",
            "/v1/boards/newcomers/threads",
            {"data": "{not json", "headers": {"Content-Type": "application/json"}},
            400,
        ),
        (anonymous, "POST", "/v1/boards/newcomers/threads", {"json": {"title": "Hello there", "body": "hi"}}, 401),
        (ForumClient(http, services.forum, token="nope"), "GET", "/v1/me", {}, 401),
        (member, "POST", "/v1/boards/no-such-board/threads", {"json": {"title": "Hello there", "body": "hi"}}, 404),
        (member, "GET", "/v1/threads/does-not-exist", {}, 404),
        (anonymous, "GET", "/v1/boards/no-such-board/threads", {}, 404),
        (member, "POST", "/v1/boards/newcomers/threads", {"json": {"title": "Hello there", "body": "   "}}, 400),
        (member, "POST", "/v1/boards/newcomers/threads", {"json": {"title": "Hi", "body": "too short a title"}}, 400),
        (member, "POST", "/v1/boards/newcomers/threads", {"json": {"title": "Hello there", "body": "x" * 20_001}}, 400),
        (member, "POST", "/v1/boards/newcomers/threads", {"json": {"title": "Hello there", "body": "a\x00b"}}, 400),
        (member, "POST", "/v1/boards/newcomers/threads", {"json": {"title": "Hello", "body": "y" * 70_000}}, 413),
        (member, "GET", "/v1/boards/newcomers/threads?cursor=!!!", {}, 400),
    ]
    for client, method, path, kwargs, expected in cases:
        status, problem = await client.request(method, path, **kwargs)
        assert status == expected, (path, kwargs.get("json", ""), status, problem)
        assert isinstance(problem, dict) and problem["detail"], problem


async def test_contact_details_are_removed_before_anything_is_stored_and_hotlines_are_kept(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    member = await ForumClient.join(http, services.forum, country="US")
    body = "Text me on 415-555-0199 or mail sam.r@example.com. If it gets bad call 988."
    status, created = await member.request(
        "POST", "/v1/boards/newcomers/threads", json={"title": "Need a buddy", "body": body}
    )
    assert status == 202
    assert set(created["redacted"]) == {"phone number", "e-mail address"}
    post = await eventually(lambda: _status(member, created["post_id"], "published"))
    assert "415-555-0199" not in post["body"] and "sam.r@example.com" not in post["body"]
    assert "988" in post["body"]
    assert post["redacted"] == created["redacted"]


async def test_posting_is_limited_per_member_and_the_refusal_brings_crisis_lines(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    member = await ForumClient.join(http, services.forum, country="AU")
    statuses = []
    for n in range(11):
        status, body = await member.request(
            "POST",
            "/v1/boards/sober-living/threads",
            json={"title": f"Chore rota {n}", "body": "Who has bins this week?"},
        )
        statuses.append(status)
    assert statuses[:10] == [202] * 10
    assert statuses[10] == 429 and body["detail"]
    assert body["crisis_lines"] == [line.model_dump() for line in ResourceDirectory.load().standing_lines("AU")]


async def test_posts_sent_all_at_once_by_one_member_still_stop_at_the_limit(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    member = await ForumClient.join(http, services.forum)
    answers = await asyncio.gather(
        *(
            member.request(
                "POST", "/v1/boards/sober-living/threads", json={"title": f"Burst {n}", "body": "Anyone up?"}
            )
            for n in range(14)
        )
    )
    statuses = sorted(status for status, _ in answers)
    assert statuses == [202] * 10 + [429] * 4


async def test_an_edit_is_screened_before_it_shows_and_only_the_author_may_edit_or_delete(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    author = await ForumClient.join(http, services.forum, country="GB")
    other = await ForumClient.join(http, services.forum)
    status, created = await author.request(
        "POST", "/v1/boards/alcohol/threads", json={"title": "Day 4", "body": "Day four. Shaky but okay."}
    )
    await eventually(lambda: _status(other, created["post_id"], "published"))

    status, _ = await other.request("PATCH", f"/v1/posts/{created['post_id']}", json={"body": "hijacked"})
    assert status == 404
    status, _ = await other.request("DELETE", f"/v1/posts/{created['post_id']}")
    assert status == 404

    status, edit = await author.request(
        "PATCH", f"/v1/posts/{created['post_id']}", json={"body": "Day four. Went to a meeting."}
    )
    assert status == 202 and edit["revision"] == 2

    async def edited() -> dict | None:
        post = await _status(other, created["post_id"], "published")
        return post if post and post["body"] == "Day four. Went to a meeting." else None

    await eventually(edited)

    status, _ = await author.request(
        "PATCH",
        f"/v1/posts/{created['post_id']}",
        json={"body": "Changed my mind. I've saved up my pills and tonight I end it."},
    )
    assert status == 202
    held = await eventually(lambda: _status(author, created["post_id"], "held"))
    assert held["resources"]
    status, _ = await other.request("GET", f"/v1/posts/{created['post_id']}")
    assert status == 404, "a held edit hides the post from everyone but its author"

    status, _ = await author.request("DELETE", f"/v1/posts/{created['post_id']}")
    assert status == 204
    status, gone = await author.request("GET", f"/v1/posts/{created['post_id']}")
    assert gone["status"] == "deleted" and gone["body"] is None


async def test_edits_racing_from_the_same_revision_get_one_202_and_the_rest_409_never_a_500(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    author = await ForumClient.join(http, services.forum)
    status, created = await author.request(
        "POST", "/v1/boards/alcohol/threads", json={"title": "Day 9", "body": "Day nine. Quiet evening."}
    )
    await eventually(lambda: _status(author, created["post_id"], "published"))

    edits = [
        author.request("PATCH", f"/v1/posts/{created['post_id']}", json={"body": f"Day nine, take {n}."})
        for n in range(4)
    ]
    statuses = [status for status, _ in await asyncio.gather(*edits)]
    assert set(statuses) <= {202, 409}, statuses
    assert 202 in statuses
    status, _ = await author.request("GET", f"/v1/posts/{created['post_id']}")
    assert status == 200
