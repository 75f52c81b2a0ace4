"""Erasure means gone: after `DELETE /v1/me?erase_posts=true` no word and no handle of the member is
left in any service's database, on any public page, or in the moderators' queue and audit log."""

from __future__ import annotations

import json
import uuid
from functools import partial
from typing import Any

import aiohttp
import pytest

from services.common.mongo import create_mongo_client
from streams.topics import Topics
from tests.harness import (
    ForumClient,
    RunningServices,
    add_moderator,
    eventually,
    queue_item,
    topic_records_now,
    unique_name,
)

pytestmark = pytest.mark.integration

CRISIS = "I have the pills counted out and I'm going to kill myself tonight."


async def _post(reader: ForumClient, post_id: str, *, body_has: str = "") -> dict[str, Any] | None:
    status, body = await reader.request("GET", f"/v1/posts/{post_id}")
    ok = status == 200 and body["status"] == "published" and body_has in (body["body"] or "")
    return body if ok else None


async def _shown(
    reader: ForumClient, author: ForumClient, moderator: ForumClient, post_id: str, *, body_has: str = ""
) -> dict[str, Any]:
    """The post as `reader` sees it once published. The screener holds some everyday posts (its
    false holds); such a post is approved by the moderator, as the desk would, so the erasure
    below always starts from a published thread."""

    async def settled() -> str | None:
        status, body = await author.request("GET", f"/v1/posts/{post_id}")
        if status != 200:
            return None
        if body["status"] == "held":
            return "held"
        return "published" if body["status"] == "published" and body_has in (body["body"] or "") else None

    if await eventually(settled, timeout=60) == "held":
        item = await eventually(partial(queue_item, moderator, post_id), timeout=60)
        status, _ = await moderator.request("POST", f"/v1/mod/items/{item['item_id']}/claim")
        assert status == 200
        status, _ = await moderator.request(
            "POST", f"/v1/mod/items/{item['item_id']}/decision", json={"decision": "approve", "note": ""}
        )
        assert status == 200
    return await eventually(partial(_post, reader, post_id, body_has=body_has), timeout=60)


async def _left_in_databases(services: RunningServices, needles: list[str]) -> list[str]:
    """Where any needle is still stored: 'database.collection' for every document that holds one."""
    client = create_mongo_client(services.settings)
    found = []
    try:
        for service in ("forum", "moderation", "notify"):
            db = client[services.settings.database_name(service)]
            for name in await db.list_collection_names():
                async for doc in db[name].find({}):
                    text = json.dumps(doc, default=str)
                    found += [f"{db.name}.{name}: {n}" for n in needles if n in text]
    finally:
        await client.close()
    return found


async def test_an_erased_member_leaves_no_words_and_no_handle_anywhere(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    tag = uuid.uuid4().hex[:12]
    title_word, body_word, edit_word, crisis_word = (
        f"zorblax-{tag}",
        f"quorflin-{tag}",
        f"vexmor-{tag}",
        f"blimquat-{tag}",
    )
    moderator = await add_moderator(http, services, unique_name(services, "erin"))
    author = await ForumClient.join(http, services.forum, country="GB")
    other = await ForumClient.join(http, services.forum)
    reporter = await ForumClient.join(http, services.forum)
    handle = author.identity["handle"]

    # A thread, edited once (so an earlier revision is kept), quoted by another member's reply.
    status, thread = await author.request(
        "POST",
        "/v1/boards/alcohol/threads",
        json={"title": f"Evenings with {title_word}", "body": f"Day 12. The {body_word} helped me tonight."},
    )
    assert status == 202, thread
    post_id, thread_id = thread["post_id"], thread["thread_id"]
    await _shown(other, author, moderator, post_id)
    status, _ = await author.request(
        "PATCH", f"/v1/posts/{post_id}", json={"body": f"Day 12. The {body_word} and the {edit_word} helped."}
    )
    assert status == 202
    await _shown(other, author, moderator, post_id, body_has=edit_word)
    status, reply = await other.request(
        "POST", f"/v1/threads/{thread_id}/posts", json={"body": "Same here, thank you.", "reply_to": post_id}
    )
    assert status == 202, reply
    quoted = await _shown(reporter, other, moderator, reply["post_id"])
    assert quoted["reply_quote"]["author_handle"] == handle and edit_word in quoted["reply_quote"]["excerpt"]

    # A peer report with a note quoting the post, and a held crisis reply the moderator reads and answers.
    status, _ = await reporter.request(
        "POST", f"/v1/posts/{post_id}/reports", json={"reason": "other", "note": f"it says {edit_word}"}
    )
    assert status == 202
    reported = await eventually(lambda: queue_item(moderator, post_id), timeout=60)
    status, shown_item = await moderator.request("GET", f"/v1/mod/items/{reported['item_id']}")
    assert status == 200 and edit_word in shown_item["body"] and edit_word in shown_item["reports"][0]["note"]
    status, crisis = await author.request(
        "POST", f"/v1/threads/{thread_id}/posts", json={"body": f"{CRISIS} {crisis_word}"}
    )
    assert status == 202
    held = await eventually(lambda: queue_item(moderator, crisis["post_id"]), timeout=60)
    status, held_item = await moderator.request("GET", f"/v1/mod/items/{held['item_id']}")
    assert status == 200 and crisis_word in held_item["body"]
    highlighted = held_item["highlights"]
    assert highlighted, "the rules quoted the author's words"
    status, _ = await moderator.request("POST", f"/v1/mod/items/{held['item_id']}/claim")
    assert status == 200
    status, _ = await moderator.request(
        "POST", f"/v1/mod/items/{held['item_id']}/message", json={"text": f"About {title_word}: we are here for you."}
    )
    assert status == 202

    author_notify = ForumClient(http, services.notify, token=author.token)
    await eventually(lambda: _notify_has(author_notify, "message"), timeout=60)
    needles = [title_word, body_word, edit_word, crisis_word, handle]
    assert await _left_in_databases(services, needles), "the words were stored before the erasure"

    status, _ = await author.request("DELETE", "/v1/me", params={"erase_posts": "true"})
    assert status == 204

    async def all_gone() -> list[str] | None:
        left = await _left_in_databases(services, needles)
        return [] if not left else None

    try:
        await eventually(all_gone, timeout=90, interval=1.0)
    except AssertionError:
        pytest.fail(f"still stored after the erasure: {await _left_in_databases(services, needles)}")

    # Every public page, and every moderator view of the queue, the items and the audit log.
    anyone = ForumClient(http, services.forum)
    pages = []
    for path in (
        f"/v1/threads/{thread_id}",
        "/v1/boards/alcohol/threads",
        f"/v1/posts/{post_id}",
        f"/v1/posts/{crisis['post_id']}",
        f"/v1/posts/{reply['post_id']}",
    ):
        pages.append(await anyone.request("GET", path))
    status, shown = pages[0]
    assert status == 200, "the thread stays for the other member's reply"
    assert shown["title"] == "[removed]"
    assert [p["post_id"] for p in shown["posts"]] == [reply["post_id"]]
    assert pages[2][0] == 404 and pages[3][0] == 404, "the author's own posts are gone from view"
    status, shown_reply = pages[4]
    assert status == 200 and shown_reply["body"] == "Same here, thank you."
    assert shown_reply["reply_quote"]["post_id"] == post_id
    assert shown_reply["reply_quote"]["author_handle"] is None and shown_reply["reply_quote"]["excerpt"] is None
    for item_id in (reported["item_id"], held["item_id"]):
        status, item = await moderator.request("GET", f"/v1/mod/items/{item_id}")
        assert status == 200 and item["body"] is None and item["title"] is None
        assert item["highlights"] == [] and item["level"] in ("report", "hold", "urgent")
        assert all(not report["note"] for report in item["reports"])
        pages.append((status, item))
    assert not any(phrase in json.dumps(pages[-1][1]) for phrase in highlighted), "the rules' quoted phrases went too"
    pages.append(await moderator.request("GET", "/v1/mod/queue"))
    for audited in (post_id, crisis["post_id"]):
        status, audit = await moderator.request("GET", "/v1/mod/audit", params={"post_id": audited})
        assert status == 200
        pages.append((status, audit))
    assert {"view", "claim", "message"} <= {e["action"] for e in pages[-1][1]["items"]}, "who did what stays"
    for _status, page in pages:
        text = json.dumps(page)
        assert not [n for n in needles if n in text], text[:500]

    # The identity is gone everywhere: its token no longer opens the stream or the inbox.
    status, _ = await author_notify.request("GET", "/v1/notifications")
    assert status == 401

    # A tombstone follows the erased record on the compacted topic, and nobody dead-letters it.
    topics = Topics(services.settings.topic_prefix)
    identity_id = author.identity["id"]

    async def tombstone() -> bool | None:
        keyed = [r for r in await topic_records_now(services, topics.identities) if r.key == identity_id.encode()]
        return True if keyed and keyed[-1].value is None else None

    await eventually(tombstone, timeout=30, interval=1.0)
    for consumer in ("moderation-api", "notify"):
        letters = [json.loads(r.value) for r in await topic_records_now(services, topics.dead_letter(consumer))]
        assert not [d for d in letters if d["source_topic"] == topics.identities], consumer


async def _notify_has(client: ForumClient, kind: str) -> bool | None:
    status, inbox = await client.request("GET", "/v1/notifications")
    return True if status == 200 and any(i["kind"] == kind for i in inbox["items"]) else None
