"""Read and write views of the forum's core: identities, boards, threads and posts."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pymongo.errors import PyMongoError

from services.common.problems import Problem, read_json_object
from services.common.tokens import bearer_token, hash_token, new_token
from services.forum import access, idempotency
from services.forum.auth import optional_identity, required_identity
from services.forum.crisis_lines import offers_crisis_lines, stated_country_key
from services.forum.handles import generate_handle
from services.forum.keys import idempotency_key, identity_window_key, publisher_key, settings_key, store_key
from services.forum.limits import identity_limit_key
from services.forum.publisher import EventsUnavailable
from services.forum.representations import post_view, thread_view
from services.forum.requests import NewIdentityRequest, length_limits
from services.forum.store import InvalidCursor
from services.forum.submission import Draft, SubmissionKind, read_draft, saving_unavailable, submit
from services.forum.submission_kinds import NewThread, Reply
from streams.events import IdentityChanged, new_id, utc_now

log = logging.getLogger(__name__)

PAGE_SIZE = 50
HANDLE_ATTEMPTS = 8
_, _COUNTRY_LEN = length_limits(NewIdentityRequest, "country")
_MIN_LANGUAGE, _MAX_LANGUAGE = length_limits(NewIdentityRequest, "language")


def _optional_code(data: dict[str, Any], field: str, length: int) -> str | None:
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != length or not value.isascii() or not value.isalpha():
        raise Problem(400, f"'{field}' must be a {length}-letter code, e.g. {'GB' if length == 2 else 'eng'}.")
    return value.upper() if field == "country" else value.lower()


def identity_fields(data: dict[str, Any]) -> tuple[str | None, str | None]:
    """The country and language of a new identity's body (services/forum/requests.py:
    NewIdentityRequest), or 400."""
    country = _optional_code(data, "country", _COUNTRY_LEN)
    language = data.get("language")
    if language is not None and (
        not isinstance(language, str)
        or not _MIN_LANGUAGE <= len(language) <= _MAX_LANGUAGE
        or not language.replace("-", "").isalpha()
    ):
        raise Problem(400, "'language' must be a language tag such as 'en' or 'es'.")
    return country, language


async def create_identity(request: web.Request) -> web.Response:
    country, language = identity_fields(await read_json_object(request) if request.can_read_body else {})
    if country is not None:
        request[stated_country_key] = country  # so a refusal below brings this country's lines
    # IPv6 counts per /64; the key lives in memory only and is never logged.
    key = identity_limit_key(request, request.app[settings_key].trusted_proxies)
    wait_s = request.app[identity_window_key].allow(key)
    if wait_s is not None:
        raise Problem(
            429,
            "Too many new identities from this address; please try again later.",
            headers={"Retry-After": str(max(1, int(wait_s)))},
        )
    store = request.app[store_key]
    token = new_token()
    identity_id = new_id()
    for _ in range(HANDLE_ATTEMPTS):
        handle = generate_handle()
        doc: dict[str, Any] = {
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
        id=identity_id,
        token_hash=doc["token_hash"],
        kind="user",
        role="member",
        country=country,
        language=language,
    )
    try:
        await request.app[publisher_key].identity_changed(event)
    except EventsUnavailable as exc:
        await store.delete_identity(identity_id)
        raise saving_unavailable() from exc
    return web.json_response({"id": identity_id, "handle": handle, "token": token}, status=201)


async def list_boards(request: web.Request) -> web.Response:
    boards = await request.app[store_key].list_boards()
    return web.json_response(
        {"items": [{"slug": b["_id"], "name": b["name"], "description": b["description"]} for b in boards]}
    )


async def list_threads(request: web.Request) -> web.Response:
    store = request.app[store_key]
    slug = request.match_info["slug"]
    if not await store.board_exists(slug):
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
    if not await store.board_exists(slug):
        raise Problem(404, f"There is no board '{slug}'.")
    draft = read_draft(data, titled=True)
    return await _submit_once(request, identity, f"thread:{slug}", data, draft, NewThread(store, identity, slug))


async def create_reply(request: web.Request) -> web.Response:
    identity = await required_identity(request)
    store = request.app[store_key]
    thread_id = request.match_info["thread_id"]
    data = await read_json_object(request)
    thread = access.thread_open_for_replies(await store.thread(thread_id))
    draft = read_draft(data, titled=False)
    kind = Reply(store, identity, thread, data.get("reply_to"))
    return await _submit_once(request, identity, f"reply:{thread_id}", data, draft, kind)


async def _submit_once(
    request: web.Request,
    identity: dict[str, Any],
    route: str,
    data: dict[str, Any],
    draft: Draft,
    kind: SubmissionKind,
) -> web.Response:
    async with _idempotent(request, identity, route, data) as attempt:
        if attempt.answered is not None:
            return web.json_response(attempt.answered, status=202)
        response = await submit(request, identity, draft, kind)
        attempt.response = response
    return web.json_response(response, status=202)


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
    token = bearer_token(request.headers.get("Authorization")) or ""
    digest = idempotency.request_digest(route, data, token)
    begun = await records.begin(identity["_id"], key, digest)
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
        await _remember(records, begun, digest, attempt.response)


async def _remember(
    records: idempotency.IdempotencyRecords, claimed: idempotency.Claimed, digest: str, response: dict[str, Any]
) -> None:
    """Keep the answer for a retry. The post is stored and sent by now, so a record that cannot be
    written must neither turn the answer into a 503 (the member would send the post again) nor hold
    the answer back while the database is away: it is kept in memory and written once it answers."""
    try:
        await records.finish(claimed, response)
    except PyMongoError as exc:
        log.warning("an accepted submission's idempotency record waits for the database (%s)", type(exc).__name__)
        records.finish_later(claimed, digest, response)


async def get_thread(request: web.Request) -> web.Response:
    store = request.app[store_key]
    viewer = await optional_identity(request)
    viewer_id = viewer["_id"] if viewer else None
    thread = access.readable_thread(await store.thread(request.match_info["thread_id"]), viewer_id)
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
    viewer_id = viewer["_id"] if viewer else None
    post = access.readable_post(await request.app[store_key].post(request.match_info["post_id"]), viewer_id)
    return web.json_response(post_view(post, viewer_id), dumps=_dumps)


def _dumps(value: Any) -> str:
    import json

    return json.dumps(value, default=_json_default)


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/v1/identities", offers_crisis_lines(create_identity))
    app.router.add_get("/v1/boards", list_boards)
    app.router.add_get("/v1/boards/{slug}/threads", list_threads)
    app.router.add_post("/v1/boards/{slug}/threads", offers_crisis_lines(create_thread))
    app.router.add_get("/v1/threads/{thread_id}", get_thread)
    app.router.add_post("/v1/threads/{thread_id}/posts", offers_crisis_lines(create_reply))
    app.router.add_get("/v1/posts/{post_id}", get_post)
