"""The moderators' API: the queue, claims, decisions, messages to authors, the audit log."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from aiokafka.errors import KafkaError
from pymongo.errors import PyMongoError

from services.common.problems import Problem, read_json_object
from services.moderation.api.auth import require_moderator
from services.moderation.api.keys import publisher_key, sla_key, store_key
from services.moderation.api.queue_listing import (
    BadPageRequest,
    QueuePosition,
    decode_cursor,
    encode_cursor,
    listing_entry,
    parse_limit,
)
from services.moderation.api.representations import audit_view, item_view
from services.moderation.api.store import ReviewError
from services.moderation.api.templates import message_templates
from streams.events import DECISIONS, utc_now
from streams.publishing import EventsUnavailable

MAX_NOTE = 2000

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def _kafka_or_503(detail: str) -> AsyncIterator[None]:
    """Kafka refusing or timing out is a 503 the moderator can act on, never a 500."""
    try:
        yield
    except (EventsUnavailable, TimeoutError, KafkaError) as exc:
        raise Problem(503, detail, headers={"Retry-After": "5"}) from exc


def _flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise Problem(400, f"'{name}' must be true or false.")
    return value in ("true", "1")


async def queue(request: web.Request) -> web.Response:
    await require_moderator(request)
    # Still accepted from older consoles; the listing never carries member words either way.
    _flag(request, "summary")
    try:
        limit = parse_limit(request.query.get("limit"))
        cursor = request.query.get("cursor")
        after = decode_cursor(cursor) if cursor else None
    except BadPageRequest as exc:
        raise Problem(400, exc.detail) from exc
    # One more than the page, to know whether another page follows.
    found = await request.app[store_key].open_items(limit + 1, after)
    page = found[:limit]
    next_cursor = encode_cursor(QueuePosition.of(page[-1])) if len(found) > limit else None
    return web.json_response({"items": [listing_entry(item_view(item)) for item in page], "next_cursor": next_cursor})


async def show(request: web.Request) -> web.Response:
    moderator = await require_moderator(request)
    try:
        item = await request.app[store_key].view(request.match_info["item_id"], moderator)
    except ReviewError as exc:
        raise Problem(exc.status, exc.detail) from exc
    return web.json_response({**item_view(item), "message_templates": message_templates(item.get("resources", []))})


async def claim(request: web.Request) -> web.Response:
    moderator = await require_moderator(request)
    try:
        item, first_claim = await request.app[store_key].claim(request.match_info["item_id"], moderator)
    except ReviewError as exc:
        raise Problem(exc.status, exc.detail) from exc
    if first_claim:
        request.app[sla_key].first_claim(item, utc_now())
    async with _kafka_or_503("The claim is yours, but the other moderators could not be told yet; claim again."):
        await request.app[publisher_key].to_moderators("queue.claimed", item, moderator)
    return web.json_response(item_view(item))


async def decide(request: web.Request) -> web.Response:
    moderator = await require_moderator(request)
    body = await read_json_object(request)
    decision, note = body.get("decision"), body.get("note", "")
    if decision not in DECISIONS:
        raise Problem(400, f"'decision' must be one of: {', '.join(DECISIONS)}.")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise Problem(400, f"'note' must be text of at most {MAX_NOTE} characters.")
    try:
        item, repeated = await request.app[store_key].decide(request.match_info["item_id"], moderator, decision, note)
    except ReviewError as exc:
        raise Problem(exc.status, exc.detail) from exc
    if not repeated:
        request.app[sla_key].decided(item, decision, utc_now())
    # A repeat sends again: the first answer may have been lost with the event.
    async with _kafka_or_503(
        "The decision is saved but could not be sent yet; it is sent within a minute, or send the same decision again."
    ):
        await request.app[publisher_key].decision(item, moderator, decision, item["decision"]["note"])
    try:
        await request.app[store_key].decision_sent(item)
    except PyMongoError as exc:  # sent: at worst decision_resends.py sends it once more
        log.warning("a sent decision's marker could not be cleared (%s)", type(exc).__name__)
    return web.json_response(item_view(item))


async def message(request: web.Request) -> web.Response:
    moderator = await require_moderator(request)
    body = await read_json_object(request)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_NOTE:
        raise Problem(400, f"'text' must be a message of 1 to {MAX_NOTE} characters.")
    review = request.app[store_key]
    try:
        item = await review.to_message(request.match_info["item_id"], moderator)
    except ReviewError as exc:
        raise Problem(exc.status, exc.detail) from exc
    if not item.get("author_id"):
        raise Problem(409, "The author has erased their identity; there is nobody to message.")
    # Audited before it is sent, so nothing can fail once the author may have it (a resend would
    # reach them twice); the entry's id is the notification's.
    entry_id = await review.audit(item, moderator, "message", text.strip())
    async with _kafka_or_503("The message could not be sent; nothing reached the author. Please send it again."):
        await request.app[publisher_key].message_to_author(item, text.strip(), entry_id)
    return web.json_response({"sent": True}, status=202)


async def audit(request: web.Request) -> web.Response:
    await require_moderator(request)
    entries = await request.app[store_key].audit_log(
        post_id=request.query.get("post_id"), item_id=request.query.get("item_id")
    )
    return web.json_response({"items": [audit_view(e) for e in entries]})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/v1/mod/queue", queue)
    app.router.add_get("/v1/mod/items/{item_id}", show)
    app.router.add_post("/v1/mod/items/{item_id}/claim", claim)
    app.router.add_post("/v1/mod/items/{item_id}/decision", decide)
    app.router.add_post("/v1/mod/items/{item_id}/message", message)
    app.router.add_get("/v1/mod/audit", audit)
