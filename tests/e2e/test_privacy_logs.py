"""No log anywhere (services, broker, database) carries a post body, a title or a token."""

from __future__ import annotations

import uuid
from functools import partial

import aiohttp
import pytest

from tests.harness import (
    ForumClient,
    RunningServices,
    StackUnderTest,
    add_moderator,
    eventually,
    queue_item,
    unique_name,
)
from tools.localstack.components import StackPaths

pytestmark = pytest.mark.integration


def _stack_logs(stack: StackUnderTest) -> str:
    paths = StackPaths.from_settings(stack.settings)
    files = [*paths.kafka_logs.glob("*.log"), paths.ferretdb_log_file]
    return "\n".join(p.read_text(errors="replace") for p in files if p.exists())


async def test_bodies_titles_and_tokens_never_reach_a_log(
    stack: StackUnderTest, services: RunningServices, http: aiohttp.ClientSession
) -> None:
    marker = uuid.uuid4().hex
    title = f"title-{marker}"
    benign = f"Went to my first meeting tonight {marker}-benign"
    crisis = f"I have the pills counted out and I'm going to kill myself tonight {marker}-crisis"
    author = await ForumClient.join(http, services.forum, country="GB")

    status, thread = await author.request("POST", "/v1/boards/newcomers/threads", json={"title": title, "body": benign})
    assert status == 202

    async def settled() -> str | None:
        status, body = await author.request("GET", f"/v1/posts/{thread['post_id']}")
        return body["status"] if body.get("status") in ("published", "held") else None

    if await eventually(settled, timeout=60) == "held":
        # One of the screener's false holds on an everyday post: approved, as the desk would.
        moderator = await add_moderator(http, services, unique_name(services, "pat"))
        item = await eventually(partial(queue_item, moderator, thread["post_id"]), timeout=60)
        assert (await moderator.request("POST", f"/v1/mod/items/{item['item_id']}/claim"))[0] == 200
        decided = await moderator.request(
            "POST", f"/v1/mod/items/{item['item_id']}/decision", json={"decision": "approve", "note": ""}
        )
        assert decided[0] == 200
        await eventually(lambda: _status_is(author, thread["post_id"], "published"), timeout=60)
    status, reply = await author.request("POST", f"/v1/threads/{thread['thread_id']}/posts", json={"body": crisis})
    assert status == 202

    async def held() -> dict | None:
        status, body = await author.request("GET", f"/v1/posts/{reply['post_id']}")
        return body if body.get("status") == "held" else None

    await eventually(held)
    # Bad input takes the error paths too.
    await author.request(
        "POST",
        "/v1/boards/newcomers/threads",
        data=f"{{not json {marker}",
        headers={"Content-Type": "application/json"},
    )
    await ForumClient(http, services.forum, token=f"bogus-{marker}").request("GET", "/v1/posts/x")

    everything = services.log_text() + _stack_logs(stack)
    assert len(everything) > 1000, "the logs were read"
    for secret in (marker, author.token or "", author.identity["handle"]):
        assert secret not in everything


async def _status_is(member: ForumClient, post_id: str, status: str) -> bool | None:
    _, body = await member.request("GET", f"/v1/posts/{post_id}")
    return True if body.get("status") == status else None
