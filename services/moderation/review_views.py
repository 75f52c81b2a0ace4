"""The moderators' API: the queue, claims, decisions, messages to authors, the audit log."""

from __future__ import annotations

from aiohttp import web

from services.common.identities import Identity, require_identity
from services.common.problems import Problem, read_json_object
from services.moderation.keys import identities_key, publisher_key, review_key
from services.moderation.review import ReviewError, item_view

DECISIONS = ("approve", "remove", "escalate")
MAX_NOTE = 2000


async def _moderator(request: web.Request) -> Identity:
    return await require_identity(request, request.app[identities_key], kinds={"moderator"})


async def queue(request: web.Request) -> web.Response:
    await _moderator(request)
    items = await request.app[review_key].open_items()
    return web.json_response({"items": [item_view(i) for i in items]})


async def claim(request: web.Request) -> web.Response:
    moderator = await _moderator(request)
    try:
        item = await request.app[review_key].claim(request.match_info["item_id"], moderator)
    except ReviewError as exc:
        raise Problem(exc.status, exc.detail) from exc
    await request.app[publisher_key].to_moderators("queue.claimed", item, moderator)
    return web.json_response(item_view(item))


async def decide(request: web.Request) -> web.Response:
    moderator = await _moderator(request)
    body = await read_json_object(request)
    decision, note = body.get("decision"), body.get("note", "")
    if decision not in DECISIONS:
        raise Problem(400, f"'decision' must be one of: {', '.join(DECISIONS)}.")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise Problem(400, f"'note' must be text of at most {MAX_NOTE} characters.")
    try:
        item = await request.app[review_key].decide(request.match_info["item_id"], moderator, decision, note)
    except ReviewError as exc:
        raise Problem(exc.status, exc.detail) from exc
    await request.app[publisher_key].decision(item, moderator, decision, note)
    return web.json_response(item_view(item))


async def message(request: web.Request) -> web.Response:
    moderator = await _moderator(request)
    body = await read_json_object(request)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_NOTE:
        raise Problem(400, f"'text' must be a message of 1 to {MAX_NOTE} characters.")
    review = request.app[review_key]
    try:
        item = await review.item(request.match_info["item_id"])
    except ReviewError as exc:
        raise Problem(exc.status, exc.detail) from exc
    if not item.get("author_id"):
        raise Problem(409, "The author has erased their identity; there is nobody to message.")
    await request.app[publisher_key].message_to_author(item, text.strip())
    await review.audit(item, moderator, "message", text.strip())
    return web.json_response({"sent": True}, status=202)


async def audit(request: web.Request) -> web.Response:
    await _moderator(request)
    entries = await request.app[review_key].audit_log(request.query.get("post_id"))
    return web.json_response(
        {"items": [{**{k: v for k, v in e.items() if k not in ("_id", "at")}, "at": e["at"].isoformat()} for e in entries]}
    )


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/v1/mod/queue", queue)
    app.router.add_post("/v1/mod/items/{item_id}/claim", claim)
    app.router.add_post("/v1/mod/items/{item_id}/decision", decide)
    app.router.add_post("/v1/mod/items/{item_id}/message", message)
    app.router.add_get("/v1/mod/audit", audit)
