"""Bounded SSE streams, streams that end with their identity, and fast unknown tokens, through
the real Kafka and database."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from services.common.tokens import new_token
from tests.harness import (
    EventStream,
    ForumClient,
    RunningServices,
    add_moderator,
    eventually,
    haven,
    open_event_stream,
    unique_name,
)

pytestmark = pytest.mark.integration

STREAM_ENDS_WITHIN_S = 10


async def _stream_status(http: aiohttp.ClientSession, notify: str, token: str) -> tuple[int, aiohttp.ClientResponse]:
    response = await http.get(
        f"{notify}/v1/stream",
        headers={"Authorization": f"Bearer {token}"},
        timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
    )
    return response.status, response


async def _open_when_known(http: aiohttp.ClientSession, notify: str, token: str) -> EventStream:
    """A stream for a token whose identity event may still be on its way to notify."""

    async def opened() -> EventStream | None:
        status, response = await _stream_status(http, notify, token)
        if status == 200:
            return EventStream(response)
        response.close()
        return None

    return await eventually(opened, timeout=30, interval=1)


async def _ends(stream: EventStream) -> float:
    started = time.monotonic()
    await asyncio.wait_for(asyncio.shield(stream._task), STREAM_ENDS_WITHIN_S)
    return time.monotonic() - started


async def test_a_fourth_stream_for_one_identity_gets_429_and_a_stream_closed_by_hanging_up_frees_its_slot(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    member = await ForumClient.join(http, services.forum)
    token = member.token or ""
    streams = [await open_event_stream(http, services.notify, token) for _ in range(3)]
    other = await ForumClient.join(http, services.forum)
    try:
        status, refused = await _stream_status(http, services.notify, token)
        assert status == 429
        assert refused.content_type == "application/problem+json"
        assert int(refused.headers["Retry-After"]) > 0
        assert (await refused.json())["detail"]
        refused.close()
        streams.append(await open_event_stream(http, services.notify, other.token or ""))  # per identity

        streams[0].close()  # hangs up without a word: the server only notices the closed socket

        async def slot_free() -> EventStream | None:
            status, response = await _stream_status(http, services.notify, token)
            if status == 200:
                return EventStream(response)
            response.close()
            return None

        # Well within the 15 s heartbeat, whose write would be the first to fail otherwise.
        streams[0] = await eventually(slot_free, timeout=8, interval=0.5)
    finally:
        for stream in streams:
            stream.close()


async def test_a_disabled_moderators_open_stream_ends_and_the_token_gets_401(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    name = unique_name(services, "streamer")
    moderator = await add_moderator(http, services, name)
    token = moderator.token or ""
    stream = await _open_when_known(http, services.notify, token)
    try:
        result = await asyncio.to_thread(haven, services, "moderators", "disable", name)
        assert result.returncode == 0, result.stderr
        await _ends(stream)
        assert stream.response.status == 200, "the stream ended cleanly rather than failing"
    finally:
        stream.close()
    status, response = await _stream_status(http, services.notify, token)
    response.close()
    assert status == 401


async def test_an_erased_members_open_stream_ends_and_the_token_gets_401(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    member = await ForumClient.join(http, services.forum)
    token = member.token or ""
    stream = await _open_when_known(http, services.notify, token)
    try:
        status, _ = await member.request("DELETE", "/v1/me")
        assert status in (200, 202, 204)
        await _ends(stream)
    finally:
        stream.close()
    status, response = await _stream_status(http, services.notify, token)
    response.close()
    assert status == 401


@pytest.mark.parametrize("service, path", [("notify", "/v1/notifications"), ("moderation", "/v1/mod/queue")])
async def test_an_unknown_token_is_refused_fast_when_repeated_and_a_token_made_just_now_still_works(
    services: RunningServices, http: aiohttp.ClientSession, service: str, path: str
) -> None:
    base = services.notify if service == "notify" else services.moderation
    stranger = ForumClient(http, base, token=new_token())
    started = time.monotonic()
    for _ in range(20):
        status, problem = await stranger.request("GET", path)
        assert status == 401 and problem["detail"]
    took = time.monotonic() - started
    # Without the cache each of the 20 would wait ~2 s (40 s in all); with it, one wait.
    assert took < 10, f"20 checks of one unknown token took {took:.1f} s"

    # Ten at once share one wait too.
    started = time.monotonic()
    concurrent = ForumClient(http, base, token=new_token())
    statuses = await asyncio.gather(*(concurrent.request("GET", path) for _ in range(10)))
    assert [s for s, _ in statuses] == [401] * 10
    assert time.monotonic() - started < 8

    if service == "notify":
        member = await ForumClient.join(http, services.forum)
        status, body = await ForumClient(http, base, token=member.token).request("GET", path)
    else:
        moderator = await add_moderator(http, services, unique_name(services, f"fresh{int(time.time() * 1000)}"))
        status, body = await moderator.request("GET", path)
    assert status == 200, body
