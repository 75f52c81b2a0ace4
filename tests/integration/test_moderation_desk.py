"""The moderators' desk through the real stack: console sessions, audited reading, templates,
escalation to admins, the SLA figures and the re-alert of urgent items nobody has claimed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.common.identities import Identity
from services.common.mongo import create_mongo_client
from services.moderation.api.decision_resends import UNSENT_AFTER
from services.moderation.api.store import ModerationStore
from streams.events import utc_now
from tests.harness import (
    URGENT_REALERT_AFTER_S,
    ForumClient,
    RunningServices,
    add_moderator,
    eventually,
    haven,
    open_event_stream,
    queue_item,
    unique_name,
)

pytestmark = pytest.mark.integration

CRISIS = "I have the pills counted out and I'm going to kill myself tonight."


@pytest.fixture
async def cookieless_http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client that keeps no cookies, so each test says exactly which cookie it sends."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        yield session


async def _urgent_item(
    http: aiohttp.ClientSession, services: RunningServices, moderator: ForumClient
) -> dict[str, Any]:
    author = await ForumClient.join(http, services.forum, country="US")
    status, crisis = await author.request(
        "POST", "/v1/boards/opioids/threads", json={"title": "tonight", "body": CRISIS}
    )
    assert status == 202
    item = await eventually(lambda: queue_item(moderator, crisis["post_id"]), timeout=45)
    assert item["level"] == "urgent"
    return item


def _session_cookie(response: aiohttp.ClientResponse) -> tuple[str, str]:
    (set_cookie,) = response.headers.getall("Set-Cookie")
    return set_cookie, set_cookie.split(";")[0]


async def _as_console(
    http: aiohttp.ClientSession, method: str, url: str, cookie: str, **kwargs: Any
) -> tuple[int, Any]:
    headers = {"Cookie": cookie, **kwargs.pop("headers", {})}
    async with http.request(method, url, headers=headers, **kwargs) as response:
        body = await response.json(content_type=None) if response.content_length != 0 else None
        return response.status, body


async def test_the_console_page_is_served_with_a_strict_content_security_policy(
    services: RunningServices, cookieless_http: aiohttp.ClientSession
) -> None:
    async with cookieless_http.get(f"{services.moderation}/console/") as response:
        assert response.status == 200 and response.content_type == "text/html"
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert 'id="sign-in-form"' in await response.text()
    async with cookieless_http.get(f"{services.moderation}/console/console.js") as response:
        assert response.status == 200 and response.content_type == "text/javascript"
    async with cookieless_http.get(f"{services.moderation}/console/app.py") as response:
        assert response.status == 404


async def test_a_token_is_exchanged_for_an_httponly_strict_session_that_ends_when_the_account_is_disabled(
    services: RunningServices, http: aiohttp.ClientSession, cookieless_http: aiohttp.ClientSession
) -> None:
    name = unique_name(services, "kim")
    moderator = await add_moderator(http, services, name)
    member = await ForumClient.join(http, services.forum)
    sign_in = f"{services.moderation}/console/session"

    for token, expected in (("made-up-token", 401), (member.token, 403)):
        async with cookieless_http.post(sign_in, json={"token": token}) as response:
            assert response.status == expected
            assert response.content_type == "application/problem+json"
            assert "Set-Cookie" not in response.headers
    async with cookieless_http.post(sign_in, json={"tok": "x"}) as response:
        assert response.status == 400

    async with cookieless_http.post(sign_in, json={"token": moderator.token}) as response:
        assert response.status == 200
        assert (await response.json())["name"] == name
        set_cookie, cookie = _session_cookie(response)
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie and "Path=/" in set_cookie
    assert moderator.token not in set_cookie, "the cookie carries a session id, never the token"

    status, me = await _as_console(cookieless_http, "GET", sign_in, cookie)
    assert status == 200 and me["role"] == "moderator"
    item = await _urgent_item(http, services, moderator)
    claim = f"{services.moderation}/v1/mod/items/{item['item_id']}/claim"
    status, problem = await _as_console(cookieless_http, "POST", claim, cookie)
    assert status == 403 and "X-Haven-Console" in problem["detail"], "a change without the console header is refused"
    status, claimed = await _as_console(cookieless_http, "POST", claim, cookie, headers={"X-Haven-Console": "1"})
    assert status == 200 and claimed["claimed_by_name"] == name

    result = await asyncio.to_thread(haven, services, "moderators", "disable", name)
    assert result.returncode == 0, result.stderr

    async def signed_out() -> int | None:
        status, _ = await _as_console(cookieless_http, "GET", f"{services.moderation}/v1/mod/queue", cookie)
        return status if status == 401 else None

    assert await eventually(signed_out, timeout=15) == 401


async def test_signing_out_ends_the_session(
    services: RunningServices, http: aiohttp.ClientSession, cookieless_http: aiohttp.ClientSession
) -> None:
    moderator = await add_moderator(http, services, unique_name(services, "lou"))
    sign_in = f"{services.moderation}/console/session"
    async with cookieless_http.post(sign_in, json={"token": moderator.token}) as response:
        _, cookie = _session_cookie(response)
    status, _ = await _as_console(cookieless_http, "DELETE", sign_in, cookie, headers={"X-Haven-Console": "1"})
    assert status == 204
    status, _ = await _as_console(cookieless_http, "GET", sign_in, cookie)
    assert status == 401


async def test_reading_a_held_post_is_audited_and_offers_templates_with_its_resources(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    name = unique_name(services, "fay")
    moderator = await add_moderator(http, services, name)
    item = await _urgent_item(http, services, moderator)

    status, summary = await moderator.request("GET", "/v1/mod/queue?summary=true")
    listed = next(i for i in summary["items"] if i["item_id"] == item["item_id"])
    assert "body" not in listed and listed["reasons"], "the live list leaves the post text out"
    status, _ = await moderator.request("GET", "/v1/mod/queue?summary=perhaps")
    assert status == 400

    status, full = await moderator.request("GET", f"/v1/mod/items/{item['item_id']}")
    assert status == 200 and full["body"] == CRISIS
    assert full["highlights"] and all(words.lower() in CRISIS.lower() for words in full["highlights"])
    first_line = full["resources"][0]
    assert len(full["message_templates"]) == 3
    assert all(
        first_line["contact"] in t["text"] and first_line["name"] in t["text"] for t in full["message_templates"]
    )

    status, audit = await moderator.request("GET", f"/v1/mod/audit?item_id={item['item_id']}")
    assert [(e["action"], e["moderator_name"]) for e in audit["items"]] == [("view", name)]
    held_by = full["verdict"]["model_version"]
    assert held_by and audit["items"][0]["model_version"] == held_by, "the screener that held it"
    status, problem = await moderator.request("GET", "/v1/mod/items/post:nothing:1")
    assert status == 404 and problem["detail"]


async def test_an_escalated_item_stays_held_until_an_admin_takes_it(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    moderator = await add_moderator(http, services, unique_name(services, "gus"))
    admin = await add_moderator(http, services, unique_name(services, "hal"), role="admin")
    item = await _urgent_item(http, services, moderator)
    url = f"/v1/mod/items/{item['item_id']}"

    assert (await moderator.request("POST", f"{url}/claim"))[0] == 200
    status, escalated = await moderator.request(
        "POST", f"{url}/decision", json={"decision": "escalate", "note": "admin?"}
    )
    assert status == 200 and escalated["status"] == "escalated" and escalated["claimed_by"] is None
    still_queued = await queue_item(moderator, item["post_id"])
    assert still_queued is not None and still_queued["status"] == "escalated"

    for action, body in (("claim", None), ("decision", {"decision": "approve", "note": ""})):
        status, problem = await moderator.request("POST", f"{url}/{action}", json=body)
        assert status == 403 and "admin" in problem["detail"], "an escalated item is for the admins"
    status, claimed = await admin.request("POST", f"{url}/claim")
    assert status == 200 and claimed["claimed_by_name"] == unique_name(services, "hal")
    status, _ = await admin.request("POST", f"{url}/decision", json={"decision": "remove", "note": "kept private"})
    assert status == 200
    assert await queue_item(moderator, item["post_id"]) is None
    status, _ = await moderator.request("POST", f"{url}/decision", json={"decision": "approve"})
    assert status == 409, "a decided item cannot be decided again"


async def test_an_urgent_item_nobody_claims_alerts_every_moderator_again_and_the_wait_is_measured(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    moderator = await add_moderator(http, services, unique_name(services, "ivy"))
    stream = await open_event_stream(http, services.notify, moderator.token or "")
    try:
        item = await _urgent_item(http, services, moderator)
        about_this_item = lambda view: view.get("data", {}).get("item_id") == item["item_id"]  # noqa: E731
        await stream.wait_for("queue.item", timeout=45, where=about_this_item)
        realert = await stream.wait_for("queue.unclaimed", timeout=URGENT_REALERT_AFTER_S * 6, where=about_this_item)
        assert realert["data"]["data"]["urgent"] is True
        assert realert["data"]["data"]["waited_s"] >= URGENT_REALERT_AFTER_S
    finally:
        stream.close()

    url = f"/v1/mod/items/{item['item_id']}"
    assert (await moderator.request("POST", f"{url}/claim"))[0] == 200
    assert (await moderator.request("POST", f"{url}/decision", json={"decision": "approve", "note": ""}))[0] == 200

    async with http.get(f"{services.moderation}/metrics") as response:
        families = {f.name: f for f in text_string_to_metric_families(await response.text())}

    def count(family: str, **labels: str) -> float:
        return sum(
            s.value
            for s in families[family].samples
            if s.name.endswith("_count") and all(s.labels.get(k) == v for k, v in labels.items())
        )

    assert count("haven_review_time_to_first_claim_seconds", level="urgent") >= 1
    assert count("haven_review_time_to_decision_seconds", level="urgent", decision="approve") >= 1
    realerts = next(s.value for s in families["haven_review_urgent_realerts"].samples if s.name.endswith("_total"))
    assert realerts >= 1


async def _published(member: ForumClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    status, created = await member.request("POST", path, json=body)
    assert status == 202, created

    async def shown() -> dict | None:
        status, post = await member.request("GET", f"/v1/posts/{created['post_id']}")
        return post if status == 200 and post["status"] == "published" else None

    await eventually(shown, timeout=45)
    return created


async def _reported_and_decided(
    services: RunningServices, http: aiohttp.ClientSession, post_id: str, decision: str, moderator_name: str
) -> dict[str, Any]:
    reporter = await ForumClient.join(http, services.forum)
    status, _ = await reporter.request("POST", f"/v1/posts/{post_id}/reports", json={"reason": "spam"})
    assert status == 202
    moderator = await add_moderator(http, services, unique_name(services, moderator_name))
    item = await eventually(lambda: queue_item(moderator, post_id), timeout=45)
    assert (await moderator.request("POST", f"/v1/mod/items/{item['item_id']}/claim"))[0] == 200
    status, decided = await moderator.request(
        "POST", f"/v1/mod/items/{item['item_id']}/decision", json={"decision": decision, "note": ""}
    )
    assert status == 200, decided
    return item


async def test_words_a_moderator_removes_leave_the_replies_that_quote_them(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    author = await ForumClient.join(http, services.forum)
    friend = await ForumClient.join(http, services.forum)
    thread = await _published(
        author, "/v1/boards/sober-living/threads", {"title": "Week two", "body": "Week two, still here."}
    )
    spam = await _published(
        author,
        f"/v1/threads/{thread['thread_id']}/posts",
        {"body": "Great deals on sneakers this weekend, ask me for prices."},
    )
    answer = await _published(
        friend, f"/v1/threads/{thread['thread_id']}/posts", {"body": "Please don't.", "reply_to": spam["post_id"]}
    )
    status, quoting = await friend.request("GET", f"/v1/posts/{answer['post_id']}")
    assert status == 200 and "sneakers" in quoting["reply_quote"]["excerpt"]

    await _reported_and_decided(services, http, spam["post_id"], "remove", "quinn")

    async def quote_emptied() -> dict | None:
        status, post = await ForumClient(http, services.forum).request("GET", f"/v1/posts/{answer['post_id']}")
        return post if status == 200 and post["reply_quote"]["excerpt"] is None else None

    shown = await eventually(quote_emptied, timeout=45)
    assert shown["reply_quote"]["removed"] is True and shown["body"] == "Please don't."
    status, page = await ForumClient(http, services.forum).request("GET", f"/v1/threads/{thread['thread_id']}")
    assert status == 200 and "sneakers" not in str(page)


async def test_a_dismissed_report_never_reaches_the_reported_author(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    author = await ForumClient.join(http, services.forum)
    created = await _published(
        author, "/v1/boards/sober-living/threads", {"title": "Day 30", "body": "Thirty days. Thank you all."}
    )
    item = await _reported_and_decided(services, http, created["post_id"], "approve", "sol")
    moderator = await add_moderator(http, services, unique_name(services, "rhea"))

    async def decided() -> bool | None:
        status, shown = await moderator.request("GET", f"/v1/mod/items/{item['item_id']}")
        return True if status == 200 and shown["status"] == "decided" else None

    await eventually(decided)
    # Notifications are keyed by recipient, so a reaction sent now reaches the author's inbox after
    # any notification the decision sent: once it is there, the decision's would be too.
    fan = await ForumClient.join(http, services.forum)
    status, _ = await fan.request("POST", f"/v1/posts/{created['post_id']}/reactions", json={"kind": "hug"})
    assert status == 201
    inbox = ForumClient(http, services.notify, token=author.token)

    async def reaction_arrived() -> dict | None:
        status, body = await inbox.request("GET", "/v1/notifications")
        return body if status == 200 and any(n["kind"] == "reaction" for n in body["items"]) else None

    inbox_page = await eventually(reaction_arrived)
    about_it = [n for n in inbox_page["items"] if n["post_id"] == created["post_id"] and n["kind"] != "reaction"]
    assert [n["kind"] for n in about_it] == ["post.published"], "only the publication the author saw anyway"
    assert not any("report" in n["notification_id"] for n in about_it)


async def test_a_decision_stored_but_never_sent_is_sent_by_the_api_itself(
    http: aiohttp.ClientSession, services: RunningServices
) -> None:
    """The moderator's request stored the decision and then died (Kafka refused it, the console
    closed): nobody sends it again, and the post must not stay held for good."""
    moderator = await add_moderator(http, services, unique_name(services, "tam"))
    item = await _urgent_item(http, services, moderator)

    settings = services.settings
    mongo = create_mongo_client(settings)
    try:
        review = ModerationStore(mongo[settings.database_name("moderation")])
        decider = Identity(id=unique_name(services, "mod-tam"), kind="moderator", role="moderator")
        await review.decide(item["item_id"], decider, "approve", "")  # stored; its event is never sent here
        await mongo[settings.database_name("moderation")]["unsent_decisions"].update_one(
            {"_id": item["item_id"]}, {"$set": {"since": utc_now() - UNSENT_AFTER - timedelta(seconds=1)}}
        )
    finally:
        await mongo.close()

    reader = ForumClient(http, services.forum)

    async def published() -> dict[str, Any] | None:
        status, post = await reader.request("GET", f"/v1/posts/{item['post_id']}")
        return post if status == 200 and post["status"] == "published" else None

    await eventually(published, timeout=60)


async def _held_then_edited(
    http: aiohttp.ClientSession, services: RunningServices, moderator: ForumClient, title: str, body: str
) -> tuple[ForumClient, str, dict[str, Any]]:
    """A thread held on its first words, then edited by its author to words that publish."""
    author = await ForumClient.join(http, services.forum, country="US")
    status, created = await author.request("POST", "/v1/boards/opioids/threads", json={"title": title, "body": body})
    assert status == 202
    item = await eventually(lambda: queue_item(moderator, created["post_id"]), timeout=45)
    status, _ = await author.request(
        "PATCH", f"/v1/posts/{created['post_id']}", json={"body": "Ninety days today. Walked the dog by the canal."}
    )
    assert status == 202

    async def published() -> bool | None:
        status, post = await author.request("GET", f"/v1/posts/{created['post_id']}")
        return True if status == 200 and post["status"] == "published" else None

    await eventually(published, timeout=60)
    return author, created["post_id"], item


async def test_an_edit_screened_again_closes_the_held_item_of_the_earlier_words_but_not_an_urgent_one(
    http: aiohttp.ClientSession, services: RunningServices
) -> None:
    """A decision on the held first words must not land on the edit the member made since; a
    person who wrote of ending their life tonight still needs a moderator after editing it away."""
    moderator = await add_moderator(http, services, unique_name(services, "ren"))
    relapse = "I relapsed again last night and honestly I dont see the point of anything anymore."
    author, post_id, held = await _held_then_edited(http, services, moderator, "day one again", relapse)
    assert held["level"] == "hold"

    async def gone_from_the_queue() -> bool | None:
        return True if await queue_item(moderator, post_id) is None else None

    await eventually(gone_from_the_queue, timeout=30)
    status, refused = await moderator.request(
        "POST", f"/v1/mod/items/{held['item_id']}/decision", json={"decision": "remove"}
    )
    assert status == 409 and "edited" in refused["detail"]
    status, post = await author.request("GET", f"/v1/posts/{post_id}")
    assert status == 200 and post["status"] == "published", "the edit stays up"

    _, urgent_post_id, urgent = await _held_then_edited(http, services, moderator, "tonight", CRISIS)
    assert urgent["level"] == "urgent"
    for _ in range(10):  # the held item above went within moments of its edit's publication
        still = await queue_item(moderator, urgent_post_id)
        assert still is not None and still["item_id"] == urgent["item_id"], "the urgent item waits for a moderator"
        await asyncio.sleep(0.5)
