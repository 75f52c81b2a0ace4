"""Read and write views of the forum's core: identities, boards, threads and posts."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web

from services.common.problems import Problem, read_json_object
from services.common.tokens import hash_token, new_token
from services.forum.auth import optional_identity, required_identity
from services.forum.handles import generate_handle
from services.forum import idempotency
from services.forum.keys import (
    idempotency_key,
    hotline_numbers_key,
    identity_window_key,
    limits_key,
    publisher_key,
    settings_key,
    store_key,
)
from services.forum.limits import identity_limit_key, member_post_window
from services.forum.redaction import RedactionTimedOut, redact_off_loop
from services.forum.milestones import days_sober, milestone
from services.forum.publisher import EventsUnavailable
from services.forum.representations import post_view, thread_view
from services.forum.store import InvalidCursor
from services.forum.validation import InvalidInput, normalize_text
from streams.events import IdentityChanged, PostSubmitted, new_id, utc_now

log = logging.getLogger(__name__)

PAGE_SIZE = 50
MAX_BODY = 20_000
HANDLE_ATTEMPTS = 8


def _unavailable() -> Problem:
    return Problem(
        503,
        "We could not save this right now. Nothing was posted; please try again in a few seconds.",
        headers={"Retry-After": "5"},
    )


def _text(data: dict[str, Any], field: str, min_len: int, max_len: int) -> str:
    raw = data.get(field)
    if raw is None:
        raise Problem(400, f"'{field}' is required.")
    if not isinstance(raw, str):
        raise Problem(400, f"'{field}' must be a string.")
    try:
        return normalize_text(raw, field=field, min_len=min_len, max_len=max_len)
    except InvalidInput as exc:
        status = 413 if len(raw) > max_len * 4 else 400
        raise Problem(status, str(exc)) from exc


def _optional_code(data: dict[str, Any], field: str, length: int) -> str | None:
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != length or not value.isascii() or not value.isalpha():
        raise Problem(400, f"'{field}' must be a {length}-letter code, e.g. {'GB' if length == 2 else 'eng'}.")
    return value.upper() if field == "country" else value.lower()


async def create_identity(request: web.Request) -> web.Response:
    # IPv6 counts per /64; the key lives in memory only and is never logged.
    key = identity_limit_key(request, request.app[settings_key].trusted_proxies)
    wait_s = request.app[identity_window_key].allow(key)
    if wait_s is not None:
        raise Problem(429, "Too many new identities from this address; please try again later.",
                      headers={"Retry-After": str(max(1, int(wait_s)))})
    data = await read_json_object(request) if request.can_read_body else {}
    country = _optional_code(data, "country", 2)
    language = data.get("language")
    if language is not None and (not isinstance(language, str) or not 2 <= len(language) <= 8 or not language.replace("-", "").isalpha()):
        raise Problem(400, "'language' must be a language tag such as 'en' or 'es'.")
    store = request.app[store_key]
    token = new_token()
    identity_id = new_id()
    for _ in range(HANDLE_ATTEMPTS):
        handle = generate_handle()
        doc = {
            "_id": identity_id,
            "handle": handle,
            "token_hash": hash_token(token),
            "country": country,
            "language": language,
            "sober_since": None,
            "show_milestone": True,
            "created_at": utc_now(),
        }
        try:
            await store.insert_identity(doc)
            break
        except Exception as exc:  # a handle collision: try another handle
            if "duplicate" not in str(exc).lower():
                raise
    else:
        raise Problem(503, "Could not find a free handle; please try again.", headers={"Retry-After": "1"})
    event = IdentityChanged(
        id=identity_id, token_hash=doc["token_hash"], kind="user", role="member",
        handle=handle, country=country, language=language,
    )
    try:
        await request.app[publisher_key].identity_changed(event)
    except EventsUnavailable as exc:
        await store.delete_identity(identity_id)
        raise _unavailable() from exc
    return web.json_response({"id": identity_id, "handle": handle, "token": token}, status=201)


async def list_boards(request: web.Request) -> web.Response:
    boards = await request.app[store_key].list_boards()
    return web.json_response(
        {"items": [{"slug": b["_id"], "name": b["name"], "description": b["description"]} for b in boards]}
    )


async def list_threads(request: web.Request) -> web.Response:
    store = request.app[store_key]
    slug = request.match_info["slug"]
    if await store.board(slug) is None:
        raise Problem(404, f"There is no board '{slug}'.")
    try:
        page = await store.threads_page(slug, request.query.get("cursor"), PAGE_SIZE)
    except InvalidCursor as exc:
        raise Problem(400, str(exc)) from exc
    return web.json_response(
        {"items": [thread_view(t) for t in page.items], "next_cursor": page.next_cursor}, dumps=_dumps
    )


async def create_thread(request: web.Request) -> web.Response:
    identity = await required_identity(request)
    store = request.app[store_key]
    slug = request.match_info["slug"]
    data = await read_json_object(request)
    if await store.board(slug) is None:
        raise Problem(404, f"There is no board '{slug}'.")
    title = _text(data, "title", 3, 200)
    body = _text(data, "body", 1, MAX_BODY)
    async with _idempotent(request, identity, f"thread:{slug}", data) as attempt:
        if attempt.answered is not None:
            return web.json_response(attempt.answered, status=202)
        response = await _submit_thread(request, identity, slug, title, body)
        attempt.response = response
    return web.json_response(response, status=202)


async def _submit_thread(
    request: web.Request, identity: dict[str, Any], slug: str, title: str, body: str
) -> dict[str, Any]:
    store = request.app[store_key]
    title, body, redacted = await _redacted(request, title, body)
    now = await _take_post_slot(request, identity)
    thread_id, post_id = new_id(), new_id()
    await store.insert_thread(
        {
            "_id": thread_id, "board_slug": slug, "title": title, "author_id": identity["_id"],
            "first_post_id": post_id, "status": "pending", "created_at": now, "last_activity_at": now,
        }
    )
    await store.insert_post(
        _new_post(post_id, thread_id, slug, identity, body, now, is_thread_start=True, redacted=redacted)
    )
    event = PostSubmitted(
        post_id=post_id, thread_id=thread_id, board_slug=slug, author_id=identity["_id"], body=body,
        title=title, is_thread_start=True, country=identity.get("country"), language=identity.get("language"),
    )
    try:
        await request.app[publisher_key].post_submitted(event)
    except EventsUnavailable as exc:
        await store.delete_post(post_id)
        await store.delete_thread(thread_id)
        await store.forget_post_time(identity["_id"], now)
        raise _unavailable() from exc
    return {"thread_id": thread_id, "post_id": post_id, "status": "pending", "redacted": redacted}


async def create_reply(request: web.Request) -> web.Response:
    identity = await required_identity(request)
    store = request.app[store_key]
    thread_id = request.match_info["thread_id"]
    data = await read_json_object(request)
    thread = await store.thread(thread_id)
    if thread is None or thread["status"] != "published":
        raise Problem(404, "There is no such thread (or it is not published yet).")
    body = _text(data, "body", 1, MAX_BODY)
    async with _idempotent(request, identity, f"reply:{thread_id}", data) as attempt:
        if attempt.answered is not None:
            return web.json_response(attempt.answered, status=202)
        response = await _submit_reply(request, identity, thread, body, data.get("reply_to"))
        attempt.response = response
    return web.json_response(response, status=202)


async def _submit_reply(
    request: web.Request, identity: dict[str, Any], thread: dict[str, Any], body: str, reply_to: Any
) -> dict[str, Any]:
    store = request.app[store_key]
    thread_id = thread["_id"]
    _, body, redacted = await _redacted(request, None, body)
    quote = None
    if reply_to is not None:
        if not isinstance(reply_to, str):
            raise Problem(400, "'reply_to' must be a post id.")
        quoted = await store.post(reply_to)
        if quoted is None or quoted["thread_id"] != thread_id or quoted["status"] != "published":
            raise Problem(400, "'reply_to' must be a published post of this thread.")
        quote = {"post_id": reply_to, "author_handle": quoted.get("author_handle"), "excerpt": _excerpt(quoted["body"])}
    now = await _take_post_slot(request, identity)
    post_id = new_id()
    await store.insert_post(
        _new_post(post_id, thread_id, thread["board_slug"], identity, body, now, reply_to=reply_to, redacted=redacted)
        | {"reply_quote": quote}
    )
    event = PostSubmitted(
        post_id=post_id, thread_id=thread_id, board_slug=thread["board_slug"], author_id=identity["_id"],
        body=body, reply_to=reply_to, country=identity.get("country"), language=identity.get("language"),
    )
    try:
        await request.app[publisher_key].post_submitted(event)
    except EventsUnavailable as exc:
        await store.delete_post(post_id)
        await store.forget_post_time(identity["_id"], now)
        raise _unavailable() from exc
    return {"post_id": post_id, "status": "pending", "redacted": redacted}


@dataclass
class _Attempt:
    answered: dict[str, Any] | None = None
    response: dict[str, Any] | None = None


@contextlib.asynccontextmanager
async def _idempotent(
    request: web.Request, identity: dict[str, Any], route: str, data: dict[str, Any]
) -> AsyncIterator[_Attempt]:
    """Answer a repeated Idempotency-Key with the first answer; remember this attempt's outcome."""
    key = idempotency.key_from(request)
    if key is None:
        yield _Attempt()
        return
    records = request.app[idempotency_key]
    begun = await records.begin(identity["_id"], key, idempotency.request_digest(route, data))
    if isinstance(begun, idempotency.Answered):
        yield _Attempt(answered=begun.response)
        return
    attempt = _Attempt()
    try:
        yield attempt
    except BaseException:
        # Refused (4xx/503) or failed: nothing was stored, so the same key may try again.
        await records.fail(begun)
        raise
    if attempt.response is not None:
        await records.finish(begun, attempt.response)


async def get_thread(request: web.Request) -> web.Response:
    store = request.app[store_key]
    viewer = await optional_identity(request)
    thread = await store.thread(request.match_info["thread_id"])
    viewer_id = viewer["_id"] if viewer else None
    if thread is None or (thread["status"] != "published" and thread["author_id"] != viewer_id):
        raise Problem(404, "There is no such thread.")
    try:
        page = await store.published_posts_page(thread["_id"], request.query.get("cursor"), PAGE_SIZE)
    except InvalidCursor as exc:
        raise Problem(400, str(exc)) from exc
    body = thread_view(thread)
    body["posts"] = [post_view(p, viewer_id) for p in page.items]
    body["next_cursor"] = page.next_cursor
    return web.json_response(body, dumps=_dumps)


async def get_post(request: web.Request) -> web.Response:
    viewer = await optional_identity(request)
    post = await request.app[store_key].post(request.match_info["post_id"])
    viewer_id = viewer["_id"] if viewer else None
    if post is None or (post["status"] != "published" and post["author_id"] != viewer_id):
        raise Problem(404, "There is no such post.")
    return web.json_response(post_view(post, viewer_id), dumps=_dumps)


REDACTED_KIND_NAMES = {"phone": "phone number", "email": "e-mail address", "address": "street address",
                       "social": "social-media handle"}


#: Redaction is linear and takes milliseconds even for the longest post; waiting this long means
#: the worker threads are saturated, which is the server's state, not a fault in the post.
REDACTION_TIMEOUT_S = 2.0


async def _redacted(request: web.Request, title: str | None, body: str) -> tuple[str | None, str, list[str]]:
    """Normalize and remove personal contact details, in a worker thread, before anything is stored
    or sent; say which kinds went. The texts returned are the ones to store: what was screened."""
    texts = [body] if title is None else [title, body]
    try:
        results = await redact_off_loop(texts, request.app[hotline_numbers_key], timeout_s=REDACTION_TIMEOUT_S)
    except RedactionTimedOut as exc:
        # 503, not 422: the same post succeeds once the server is less busy.
        raise Problem(
            503, "We could not check this post in time. Nothing was posted; please try again in a few seconds.",
            headers={"Retry-After": "5"},
        ) from exc
    kinds: list[str] = []
    for result in results:
        kinds += [k for k in result.removed_kinds if k not in kinds]
    if title is not None:
        title = results[0].text
    return title, results[-1].text, [REDACTED_KIND_NAMES.get(k, k) for k in kinds]


async def _take_post_slot(request: web.Request, identity: dict[str, Any]) -> datetime:
    """Count this post against the member's limits, or answer 429; returns the time it was counted at."""
    limits, store = request.app[limits_key], request.app[store_key]
    for _ in range(POST_SLOT_ATTEMPTS):
        now = utc_now()
        kept, hit = member_post_window(identity.get("recent_post_times") or [], now, limits)
        if hit is not None:
            raise Problem(429, hit.detail, headers={"Retry-After": str(hit.retry_after_s)})
        if await store.replace_post_times(identity, [*kept, now]):
            return now
        # Another post by the same member changed the times meanwhile: look again.
        identity = await store.identity(identity["_id"]) or identity
    raise Problem(429, "Too many posts at the same moment; please try again.", headers={"Retry-After": "1"})


QUOTE_CHARS = 280
POST_SLOT_ATTEMPTS = 3


def _excerpt(body: str) -> str:
    # Stored with the reply, so a thread page needs no extra query per quote.
    return body if len(body) <= QUOTE_CHARS else body[: QUOTE_CHARS - 1].rstrip() + "…"


def _new_post(
    post_id: str, thread_id: str, board_slug: str, identity: dict[str, Any], body: str, now: Any,
    *, is_thread_start: bool = False, reply_to: str | None = None, redacted: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "_id": post_id, "thread_id": thread_id, "board_slug": board_slug, "author_id": identity["_id"],
        "author_handle": identity["handle"], "body": body, "status": "pending", "revision": 1,
        "is_thread_start": is_thread_start, "reply_to": reply_to, "created_at": now, "published_at": None,
        "reactions": {"hug": 0, "strength": 0, "me_too": 0}, "resources": [],
        "author_milestone": _shown_milestone(identity), "redacted": redacted or [],
    }


def _shown_milestone(identity: dict[str, Any]) -> str | None:
    if not identity.get("show_milestone", True) or not identity.get("sober_since"):
        return None
    today = datetime.now(UTC).date()
    return milestone(days_sober(date.fromisoformat(identity["sober_since"]), today))


def _dumps(value: Any) -> str:
    import json

    return json.dumps(value, default=_json_default)


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/v1/identities", create_identity)
    app.router.add_get("/v1/boards", list_boards)
    app.router.add_get("/v1/boards/{slug}/threads", list_threads)
    app.router.add_post("/v1/boards/{slug}/threads", create_thread)
    app.router.add_get("/v1/threads/{thread_id}", get_thread)
    app.router.add_post("/v1/threads/{thread_id}/posts", create_reply)
    app.router.add_get("/v1/posts/{post_id}", get_post)
