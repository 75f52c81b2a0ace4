"""The author's stream and inbox, through the real Kafka and database."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import aiohttp
import pytest

from tests.harness import (
    ForumClient,
    RunningServices,
    add_moderator,
    eventually,
    open_event_stream,
    queue_item,
    unique_name,
)
from tools.process_group import free_port, start_service_processes

pytestmark = pytest.mark.integration

CRISIS = "I have the pills counted out and I'm going to kill myself tonight."


async def test_a_moderators_message_about_a_post_loses_its_words_when_the_author_deletes_the_post(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    quoted = f"quorflin-{uuid.uuid4().hex[:10]}"
    moderator = await add_moderator(http, services, unique_name(services, "ada"))
    author = await ForumClient.join(http, services.forum, country="GB")
    status, created = await author.request(
        "POST", "/v1/boards/alcohol/threads", json={"title": "tonight", "body": f"{CRISIS} {quoted}"}
    )
    assert status == 202
    item = await eventually(lambda: queue_item(moderator, created["post_id"]), timeout=60)
    assert (await moderator.request("POST", f"/v1/mod/items/{item['item_id']}/claim"))[0] == 200
    status, _ = await moderator.request(
        "POST", f"/v1/mod/items/{item['item_id']}/message", json={"text": f"You wrote {quoted}. We are here."}
    )
    assert status == 202
    inbox = ForumClient(http, services.notify, token=author.token)

    async def message(with_words: bool) -> dict | None:
        status, body = await inbox.request("GET", "/v1/notifications")
        found = [n for n in body.get("items", []) if n["kind"] == "message" and n["post_id"] == created["post_id"]]
        return found[0] if status == 200 and found and (quoted in found[0]["data"]["text"]) == with_words else None

    before = await eventually(lambda: message(with_words=True), timeout=60)
    assert (await author.request("DELETE", f"/v1/posts/{created['post_id']}"))[0] == 204

    after = await eventually(lambda: message(with_words=False), timeout=60)
    assert after["data"]["text"] == "" and after["notification_id"] == before["notification_id"]
    assert after["data"]["resources"] == before["data"]["resources"], "the crisis lines stay"


async def test_a_crisis_posts_author_gets_resources_on_their_stream_and_nobody_else_does(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    author = await ForumClient.join(http, services.forum, country="GB")
    bystander = await ForumClient.join(http, services.forum, country="GB")
    mine = await open_event_stream(http, services.notify, author.token or "")
    theirs = await open_event_stream(http, services.notify, bystander.token or "")
    try:
        status, created = await author.request(
            "POST", "/v1/boards/alcohol/threads", json={"title": "I'm done", "body": CRISIS}
        )
        assert status == 202
        event = await mine.wait_for("resources")
        assert event["data"]["post_id"] == created["post_id"]
        assert event["data"]["data"]["resources"][0]["contact"].startswith("999")
        assert event["id"]
        await asyncio.sleep(1)
        assert not [e for e in theirs.events if e.get("event") == "resources"]
    finally:
        mine.close()
        theirs.close()


async def test_a_second_notify_instance_pushes_every_event_to_its_own_connections_and_the_inbox_keeps_one_copy(
    services: RunningServices, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    second = await start_service_processes(
        services.settings.with_overrides(notify_port=free_port()), tmp_path / "logs", names=("notify",)
    )
    author = await ForumClient.join(http, services.forum, country="GB")
    streams = [
        await open_event_stream(http, url, author.token or "") for url in (services.notify, second.url("notify"))
    ]
    try:
        status, created = await author.request(
            "POST", "/v1/boards/alcohol/threads", json={"title": "late", "body": CRISIS}
        )
        assert status == 202
        about_it = lambda view: view.get("post_id") == created["post_id"]  # noqa: E731
        first, other = [await stream.wait_for("resources", timeout=45, where=about_it) for stream in streams]
        assert first["id"] == other["id"], "both instances consumed the same notification from every partition"

        status, inbox = await ForumClient(http, second.url("notify"), token=author.token).request(
            "GET", "/v1/notifications"
        )
        assert status == 200
        copies = [n for n in inbox["items"] if n["kind"] == "resources" and n["post_id"] == created["post_id"]]
        assert len(copies) == 1, "two instances wrote the same notification once"
    finally:
        for stream in streams:
            stream.close()
        second.stop()


async def test_reconnecting_with_last_event_id_replays_what_was_missed(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    author = await ForumClient.join(http, services.forum, country="US")
    first = await open_event_stream(http, services.notify, author.token or "")
    try:
        status, one = await author.request(
            "POST", "/v1/boards/alcohol/threads", json={"title": "Night one", "body": CRISIS}
        )
        assert status == 202
        seen = await first.wait_for("resources")
    finally:
        first.close()

    status, two = await author.request(
        "POST", "/v1/boards/opioids/threads", json={"title": "Night two", "body": CRISIS}
    )
    assert status == 202
    notify = ForumClient(http, services.notify, token=author.token)

    async def two_in_inbox() -> list | None:
        status, body = await notify.request("GET", "/v1/notifications")
        posts = [item["post_id"] for item in body["items"]] if status == 200 else []
        return body["items"] if two["post_id"] in posts else None

    deadline = time.monotonic() + 30
    items = None
    while items is None and time.monotonic() < deadline:
        items = await two_in_inbox()
        await asyncio.sleep(0.2)
    assert items is not None, "the second notification reached the inbox while the author was away"

    resumed = await open_event_stream(http, services.notify, author.token or "", **{"Last-Event-ID": seen["id"]})
    try:
        replayed = await resumed.wait_for("resources")
        assert replayed["data"]["post_id"] == two["post_id"]
        replayed_resources = [e["data"]["post_id"] for e in resumed.events if e.get("event") == "resources"]
        assert one["post_id"] not in replayed_resources, "what the author already saw is not sent again"
    finally:
        resumed.close()

    status, marked = await notify.request("POST", "/v1/notifications/read", json={"all": True})
    assert status == 200 and marked["marked"] >= 2
    status, body = await notify.request("GET", "/v1/notifications")
    assert all(item["read"] for item in body["items"])


async def test_an_unknown_token_gets_401_and_a_bad_read_request_400(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    stranger = ForumClient(http, services.notify, token="not-a-real-token")
    status, problem = await stranger.request("GET", "/v1/stream")
    assert status == 401 and problem["detail"]
    member = await ForumClient.join(http, services.forum)
    notify = ForumClient(http, services.notify, token=member.token)
    status, problem = await notify.request("POST", "/v1/notifications/read", json={"ids": "everything"})
    assert status == 400 and "ids" in problem["detail"]
