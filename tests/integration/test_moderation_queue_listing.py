"""The moderation queue listing through the real stack: no member words, cursor paging that stays
stable while items arrive, and peer reports that reopen a post after a decision."""

from __future__ import annotations

import secrets
from datetime import datetime
from functools import partial
from typing import Any

import aiohttp
import pytest

from tests.harness import (
    ForumClient,
    RunningServices,
    add_moderator,
    eventually,
    queue_item,
    queue_items,
    unique_name,
)

pytestmark = pytest.mark.integration

CRISIS = "I have the pills counted out and I'm going to kill myself tonight."
CRISIS_WORDS = ("pills", "counted", "myself", "tonight")
LEVEL_ORDER = ["urgent", "hold", "report", "other"]


def _marker() -> str:
    return f"quokka{secrets.token_hex(4)}"


async def _post(http: aiohttp.ClientSession, services: RunningServices, title: str, body: str) -> str:
    post_id, _ = await _post_as_author(http, services, title, body)
    return post_id


async def _post_as_author(
    http: aiohttp.ClientSession, services: RunningServices, title: str, body: str
) -> tuple[str, ForumClient]:
    author = await ForumClient.join(http, services.forum, country="GB")
    status, created = await author.request("POST", "/v1/boards/milestones/threads", json={"title": title, "body": body})
    assert status == 202, created
    return str(created["post_id"]), author


#: Fallback fixtures: the screener may hold an everyday post for a human (its false holds are
#: measured in MODEL_CARD.md); these tests need published posts, not a verdict on particular words.
_EVERYDAY = ("Went to a meeting and stayed for coffee.", "Thanks for the welcome, everyone.", "Made pasta tonight.")


async def _published_post(http: aiohttp.ClientSession, services: RunningServices, title: str, body: str) -> str:
    for text in (body, *(f"{body} {extra}" for extra in _EVERYDAY), *_EVERYDAY):
        post_id, author = await _post_as_author(http, services, title, text)

        async def settled(author: ForumClient = author, post_id: str = post_id) -> str | None:
            status, post = await author.request("GET", f"/v1/posts/{post_id}")
            return post["status"] if status == 200 and post["status"] in ("published", "held") else None

        if await eventually(settled, timeout=45) == "published":
            return post_id
    raise AssertionError("no everyday post was published")


async def _report(
    http: aiohttp.ClientSession, services: RunningServices, post_id: str, reason: str, note: str = ""
) -> str:
    reporter = await ForumClient.join(http, services.forum)
    status, receipt = await reporter.request(
        "POST", f"/v1/posts/{post_id}/reports", json={"reason": reason, "note": note}
    )
    assert status == 202, receipt
    return str(receipt["report_id"])


def _position(item: dict[str, Any]) -> tuple[int, datetime, str]:
    return LEVEL_ORDER.index(item["level"]), datetime.fromisoformat(item["created_at"]), item["item_id"]


async def test_the_queue_listing_carries_none_of_a_posts_words(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    moderator = await add_moderator(http, services, unique_name(services, "lia"))
    in_title, in_body, in_note = _marker(), _marker(), _marker()
    crisis_id = await _post(http, services, f"Tonight {in_title}", CRISIS)
    calm_id = await _published_post(
        http, services, "Ninety days", f"Ninety days today. The {in_body} by the canal tastes better than wine."
    )
    await _report(http, services, calm_id, "other", note=f"they keep mentioning {in_note}")

    urgent = await eventually(lambda: queue_item(moderator, crisis_id), timeout=45)
    reported = await eventually(lambda: queue_item(moderator, calm_id), timeout=45)
    whole = str(await queue_items(moderator)).lower()
    for marker in (in_title, in_body, in_note):
        assert marker not in whole, "neither a title, a body nor a reporter's note is listed"
    listed = str([urgent, reported]).lower()
    assert [word for word in CRISIS_WORDS if word in listed] == [], "not even the words the rules quoted"
    assert urgent["reasons"] and all("'" not in reason for reason in urgent["reasons"])
    assert urgent["verdict"]["action"] == "hold_urgent" and "reasons" not in urgent["verdict"]
    assert reported["reports"][0]["reason"] == "other" and "note" not in reported["reports"][0]

    status, full = await moderator.request("GET", f"/v1/mod/items/{urgent['item_id']}")
    assert status == 200 and full["body"] == CRISIS and in_title in full["title"], "the words are in the item view"
    assert any(word in " ".join(full["reasons"]) for word in CRISIS_WORDS)
    status, full = await moderator.request("GET", f"/v1/mod/items/{reported['item_id']}")
    assert status == 200 and in_body in full["body"] and in_note in full["reports"][0]["note"]
    status, audit = await moderator.request("GET", f"/v1/mod/audit?post_id={calm_id}")
    assert [entry["action"] for entry in audit["items"]] == ["view"], "and reading them there is audited"


async def test_paging_lists_each_open_item_once_in_order_while_new_items_arrive(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    moderator = await add_moderator(http, services, unique_name(services, "max"))
    bodies = [
        "Day 12. Slept through the night.",
        "Two weeks. Cooked dinner for my sister.",
        "Month one. Bought a bike.",
    ]
    mine = []
    for body in bodies:
        post_id = await _published_post(http, services, "Check-in", body)
        await _report(http, services, post_id, "spam")
        mine.append(post_id)
    for post_id in mine:
        await eventually(partial(queue_item, moderator, post_id), timeout=45)
    before = await queue_items(moderator)
    assert before is not None and len(before) > 2

    walked: list[dict[str, Any]] = []
    cursor: str | None = None

    async def next_page() -> str | None:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        status, page = await moderator.request("GET", "/v1/mod/queue", params=params)
        assert status == 200 and 1 <= len(page["items"]) <= 2
        walked.extend(page["items"])
        return page["next_cursor"]

    # Walk into the reports (my three are the newest, so at least one lies beyond the cursor)...
    while not walked or walked[-1]["level"] != "report":
        cursor = await next_page()
        assert cursor is not None
    # ...then one item arrives ahead of the cursor (urgent) and one behind it (the newest report).
    ahead = await _post(http, services, "tonight", CRISIS)
    behind = await _published_post(http, services, "Check-in", "Day 40. Went swimming with my cousin.")
    await _report(http, services, behind, "spam")
    ahead_item = await eventually(lambda: queue_item(moderator, ahead), timeout=45)
    behind_item = await eventually(lambda: queue_item(moderator, behind), timeout=45)
    while cursor is not None:
        cursor = await next_page()

    ids = [item["item_id"] for item in walked]
    assert len(ids) == len(set(ids)), "no item is listed twice"
    assert [_position(item) for item in walked] == sorted(_position(item) for item in walked), "in queue order"
    assert {item["item_id"] for item in before} <= set(ids), "every item open before the walk is on some page"
    assert ahead_item["item_id"] not in ids and ids.count(behind_item["item_id"]) == 1

    problems = [{"limit": "0"}, {"limit": "201"}, {"limit": "ten"}, {"cursor": "garbage!"}, {"cursor": "WzEsMiwzXQ"}]
    for params in problems:
        async with http.get(
            f"{services.moderation}/v1/mod/queue", params=params, headers={"Authorization": f"Bearer {moderator.token}"}
        ) as response:
            assert response.status == 400, params
            assert response.content_type == "application/problem+json"
    status, first = await moderator.request("GET", "/v1/mod/queue")
    assert status == 200 and len(first["items"]) <= 50 and "next_cursor" in first


async def test_a_worried_report_after_an_approval_puts_the_post_back_in_the_queue_at_hold(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    name = unique_name(services, "noa")
    moderator = await add_moderator(http, services, name)
    post_id = await _published_post(http, services, "Quiet", "Quiet week. Not really talking to anyone lately.")
    await _report(http, services, post_id, "spam")
    first = await eventually(lambda: queue_item(moderator, post_id), timeout=45)
    assert first["level"] == "report"
    url = f"/v1/mod/items/{first['item_id']}"
    assert (await moderator.request("POST", f"{url}/claim"))[0] == 200
    assert (await moderator.request("POST", f"{url}/decision", json={"decision": "approve", "note": "fine"}))[0] == 200
    assert await queue_item(moderator, post_id) is None

    worried = await _report(http, services, post_id, "worried_about_author", note="she said goodbye yesterday")
    again = await eventually(lambda: queue_item(moderator, post_id), timeout=45)
    assert again["level"] == "hold" and again["status"] == "open"
    assert again["item_id"] != first["item_id"] and again["reports"] == [
        {"report_id": worried, "reason": "worried_about_author"}
    ]
    status, decided = await moderator.request("GET", url)
    assert status == 200 and decided["status"] == "decided", "the first decision stays on record"

    status, audit = await moderator.request("GET", f"/v1/mod/audit?post_id={post_id}")
    assert [(e["action"], e["item_id"]) for e in audit["items"]] == [
        ("claim", first["item_id"]),
        ("approve", first["item_id"]),
        ("reopened", again["item_id"]),
        ("view", first["item_id"]),
    ]
    reopened = audit["items"][2]
    assert reopened["moderator_id"] is None and "worried_about_author" in reopened["note"]
    assert "goodbye" not in reopened["note"], "the reporter's words are not copied into the audit log"

    later = await _report(http, services, post_id, "spam")

    async def joined() -> list[dict[str, Any]] | None:
        items = [item for item in await queue_items(moderator) or [] if item["post_id"] == post_id]
        return items if len(items) == 1 and len(items[0]["reports"]) == 2 else None

    [item] = await eventually(joined, timeout=45)
    assert item["item_id"] == again["item_id"] and item["level"] == "hold", "a later report joins the open item"
    assert [r["report_id"] for r in item["reports"]] == [worried, later]
