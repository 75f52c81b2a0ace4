"""A small, seeded hand fuzzer: malformed bodies to every JSON POST/PATCH endpoint of the forum,
as a member with a valid token. Never a 5xx; every 4xx is problem+json with a detail.

Schemathesis (test_forum_openapi_fuzz.py) generates bodies that are JSON values of the documented
shape or near it; the cases here are the ones it cannot express: bytes that are not JSON, not
UTF-8, nested past the limit, of the wrong media type, or truncated.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from tests.harness import ForumClient, RunningServices, eventually

pytestmark = pytest.mark.integration

SEED = 11
MAX_REQUESTS = 400
WRONG_VALUES: tuple[Any, ...] = (
    None,
    0,
    -1,
    1.5,
    True,
    False,
    [],
    {},
    ["a"],
    {"a": 1},
    10**29,
    "",
    " ",
    "x",
    "\u0000",
    "\u202e",
    "x" * 25_000,
    "é" * 16_000,
)


@dataclass(frozen=True)
class Case:
    description: str
    body: bytes
    content_type: str | None = "application/json"


def _cases(valid: dict[str, Any], rng: random.Random) -> Iterator[Case]:
    text = json.dumps(valid)
    for _ in range(6):
        cut = rng.randrange(0, len(text))
        yield Case(f"truncated at {cut}", text[:cut].encode())
    for field in valid:
        for value in WRONG_VALUES:
            yield Case(f"{field}={str(value)[:20]!r}", json.dumps({**valid, field: value}).encode())
        for depth in (33, 200, 30_000):
            nested = b"[" * depth + b"]" * depth if depth < 1000 else b"[" * depth
            yield Case(f"{field} nested {depth}", _with_raw(valid, field, nested))
        for raw in (
            b"9" * 5_000,
            b"1e999",
            b"NaN",
            b"-Infinity",
            b'"\\ud800"',
            b'"\\u0000"',
            b'"a\xffb"',
            b'"' + b"x" * 70_000 + b'"',
        ):
            yield Case(f"{field} raw {raw[:12]!r}", _with_raw(valid, field, raw))
    for shape in ([valid], "text", 1, None, []):
        yield Case(f"not an object: {type(shape).__name__}", json.dumps(shape).encode())
    yield Case("empty", b"")
    yield Case("whitespace", b"  \n ")
    yield Case("invalid UTF-8", b'{"\xc3\x28": "\xa0\xa1"}')
    yield Case("UTF-16", text.encode("utf-16"))
    yield Case("BOM", b"\xef\xbb\xbf" + text.encode())
    yield Case("duplicate keys and extras", (text[:-1] + ', "extra": {"a": [1, 2]}, "extra": 3}').encode())
    for content_type in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "application/xml",
        None,
    ):
        yield Case(f"content type {content_type}", text.encode(), content_type)


def _with_raw(valid: dict[str, Any], field: str, raw: bytes) -> bytes:
    marker = "\u2603MARK\u2603"
    return json.dumps({**valid, field: marker}).encode().replace(json.dumps(marker).encode(), raw)


async def _published(client: ForumClient, post_id: str) -> bool | None:
    status, post = await client.request("GET", f"/v1/posts/{post_id}")
    return True if status == 200 and post["status"] == "published" else None


async def test_malformed_bodies_never_get_a_5xx_and_every_4xx_is_a_problem(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    member = await ForumClient.join(http, services.forum)
    other = await ForumClient.join(http, services.forum)
    _, own = await member.request("POST", "/v1/boards/newcomers/threads", json={"title": "Mine", "body": "Day two."})
    _, theirs = await other.request(
        "POST", "/v1/boards/newcomers/threads", json={"title": "Theirs", "body": "Day six."}
    )
    await eventually(lambda: _published(member, own["post_id"]))
    await eventually(lambda: _published(member, theirs["post_id"]))
    endpoints = [
        ("POST", "/v1/identities", {"country": "GB", "language": "en"}),
        ("PATCH", "/v1/me", {"country": "GB", "language": "en", "sober_since": "2026-01-02", "show_milestone": True}),
        ("POST", "/v1/boards/newcomers/threads", {"title": "Hello there", "body": "First day."}),
        ("POST", f"/v1/threads/{theirs['thread_id']}/posts", {"body": "Same here.", "reply_to": theirs["post_id"]}),
        ("PATCH", f"/v1/posts/{own['post_id']}", {"body": "Day two, edited."}),
        ("POST", f"/v1/posts/{theirs['post_id']}/reactions", {"kind": "hug"}),
        ("POST", f"/v1/posts/{theirs['post_id']}/reports", {"reason": "spam", "note": "looks like an ad"}),
    ]
    rng = random.Random(SEED)
    planned = [(method, path, case) for method, path, valid in endpoints for case in _cases(valid, rng)]
    chosen = sorted(rng.sample(range(len(planned)), min(MAX_REQUESTS, len(planned))))
    failures: list[str] = []
    statuses: dict[int, int] = {}
    for index in chosen:
        method, path, case = planned[index]
        headers = {"Authorization": f"Bearer {member.token}"}
        if case.content_type:
            headers["Content-Type"] = case.content_type
        async with http.request(method, f"{services.forum}{path}", data=case.body, headers=headers) as response:
            statuses[response.status] = statuses.get(response.status, 0) + 1
            payload = await response.read()
            where = f"{method} {path.split('/')[2]} [{case.description}] -> {response.status}"
            if response.status >= 500:
                failures.append(where)
            elif response.status >= 400:
                problem = json.loads(payload) if response.content_type == "application/problem+json" else None
                if not isinstance(problem, dict) or not problem.get("detail"):
                    failures.append(f"{where} {response.content_type}")
    assert not failures, "\n".join(failures)
    assert len(chosen) >= 300, len(chosen)
    assert statuses.get(400, 0) > len(chosen) // 2, statuses
    assert {413, 415} <= set(statuses), statuses
