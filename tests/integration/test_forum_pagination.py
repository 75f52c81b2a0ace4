"""Reading a long thread page by page while new replies keep arriving: no post twice, none lost."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.harness import ForumClient, RunningServices, eventually

pytestmark = pytest.mark.integration


async def test_cursor_pages_stay_stable_while_new_posts_arrive(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    members = [await ForumClient.join(http, services.forum) for _ in range(7)]
    status, thread = await members[0].request(
        "POST", "/v1/boards/newcomers/threads", json={"title": "Roll call", "body": "Who's awake tonight?"}
    )
    assert status == 202

    async def published_count(expected: int) -> int | None:
        seen, cursor = 0, None
        while True:
            path = f"/v1/threads/{thread['thread_id']}" + (f"?cursor={cursor}" if cursor else "")
            status, page = await members[0].request("GET", path)
            if status != 200:
                return None
            seen += len(page["posts"])
            cursor = page["next_cursor"]
            if not cursor:
                return seen if seen >= expected else None

    await eventually(lambda: published_count(1))

    async def reply(n: int) -> str:
        status, created = await members[n % 7].request(
            "POST", f"/v1/threads/{thread['thread_id']}/posts", json={"body": f"Still here, reply {n}."}
        )
        assert status == 202, created
        return created["post_id"]

    early = [await reply(n) for n in range(54)]
    await eventually(lambda: published_count(55), timeout=60)

    status, first_page = await members[1].request("GET", f"/v1/threads/{thread['thread_id']}")
    assert len(first_page["posts"]) == 50 and first_page["next_cursor"]

    late = await asyncio.gather(*(reply(100 + n) for n in range(3)))
    await eventually(lambda: published_count(58), timeout=60)

    status, second_page = await members[1].request(
        "GET", f"/v1/threads/{thread['thread_id']}?cursor={first_page['next_cursor']}"
    )
    ids = [p["post_id"] for p in first_page["posts"]] + [p["post_id"] for p in second_page["posts"]]
    assert len(ids) == len(set(ids)) == 58, "no post is shown twice or skipped"
    assert set(early) | set(late) <= set(ids)
    assert [p["post_id"] for p in second_page["posts"]][-3:] == sorted(
        late, key=lambda pid: [p["post_id"] for p in second_page["posts"]].index(pid)
    ), "new replies come after everything already read"
