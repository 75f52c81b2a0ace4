"""A submission sent again with the same Idempotency-Key is answered, not posted twice."""

from __future__ import annotations

import uuid

import aiohttp
import pytest

from tests.harness import ForumClient, RunningServices, eventually

pytestmark = pytest.mark.integration


async def _thread(member: ForumClient, key: str, body: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    return await member.request(  # type: ignore[no-any-return]
        "POST",
        "/v1/boards/newcomers/threads",
        headers={"Idempotency-Key": key},
        json={"title": "Checking in", "body": body},
    )


async def test_a_repeated_submission_returns_the_first_answer_and_posts_once(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    member = await ForumClient.join(http, services.forum)
    key = uuid.uuid4().hex
    first_status, first = await _thread(member, key, "Day 12. Quiet night, made soup.")
    again_status, again = await _thread(member, key, "Day 12. Quiet night, made soup.")
    assert (first_status, again_status) == (202, 202)
    assert again["post_id"] == first["post_id"] and again["thread_id"] == first["thread_id"]

    async def published() -> dict | None:  # type: ignore[type-arg]
        status, post = await member.request("GET", f"/v1/posts/{first['post_id']}")
        return post if status == 200 and post["status"] == "published" else None

    await eventually(published, timeout=60)
    status, board = await member.request("GET", "/v1/boards/newcomers/threads")
    assert status == 200
    mine = [t for t in board["items"] if t["thread_id"] == first["thread_id"]]
    assert len(mine) == 1

    reply_key = uuid.uuid4().hex
    replies = [
        await member.request(
            "POST",
            f"/v1/threads/{first['thread_id']}/posts",
            headers={"Idempotency-Key": reply_key},
            json={"body": "Soup update: it was good."},
        )
        for _ in range(3)
    ]
    assert [status for status, _ in replies] == [202, 202, 202]
    assert len({body["post_id"] for _, body in replies}) == 1


async def test_the_same_key_for_a_different_request_is_refused(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    member = await ForumClient.join(http, services.forum)
    key = uuid.uuid4().hex
    status, _ = await _thread(member, key, "First words.")
    assert status == 202
    status, problem = await _thread(member, key, "Different words.")
    assert status == 422 and "Idempotency-Key" in problem["detail"]
    status, problem = await _thread(member, "not a valid key", "Words.")
    assert status == 400 and "Idempotency-Key" in problem["detail"]


async def test_keys_belong_to_one_member(services: RunningServices, http: aiohttp.ClientSession) -> None:
    key = uuid.uuid4().hex
    first, second = await ForumClient.join(http, services.forum), await ForumClient.join(http, services.forum)
    (_, a), (_, b) = await _thread(first, key, "Same words."), await _thread(second, key, "Same words.")
    assert a["post_id"] != b["post_id"]
