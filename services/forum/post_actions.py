"""Reactions and peer reports on posts.

Reports go to moderators only: nothing reaches the reported person automatically (elsewhere,
automatic "someone is worried about you" messages were mass-abused as harassment). Reports are
limited per reporter.
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from services.common.problems import Problem, read_json_object
from services.forum.auth import required_identity
from services.forum.keys import publisher_key, store_key
from services.forum.publisher import EventsUnavailable
from services.forum.store import REACTION_KINDS
from services.forum.views import MAX_BODY, _redacted, _take_post_slot, _text, _unavailable
from streams.events import Notification, PostDeleted, PostReported, PostSubmitted, new_id, utc_now

REPORT_REASONS = ("worried_about_author", "harassment", "spam", "other")
REPORTS_PER_HOUR = 10
MAX_NOTE = 1000


async def _published_post(request: web.Request) -> dict:  # type: ignore[type-arg]
    post = await request.app[store_key].post(request.match_info["post_id"])
    if post is None or post["status"] != "published":
        raise Problem(404, "There is no such post.")
    return post


async def react(request: web.Request) -> web.Response:
    identity = await required_identity(request)
    body = await read_json_object(request)
    kind = body.get("kind")
    if kind not in REACTION_KINDS:
        raise Problem(400, f"'kind' must be one of: {', '.join(REACTION_KINDS)}.")
    post = await _published_post(request)
    created = await request.app[store_key].add_reaction(post["_id"], identity["_id"], kind)
    if created and post["author_id"] != identity["_id"]:
        try:
            await request.app[publisher_key].notification(Notification(
                notification_id=f"reaction:{post['_id']}:{identity['_id']}:{kind}", recipient_id=post["author_id"],
                kind="reaction", post_id=post["_id"], data={"reaction": kind},
            ))
        except EventsUnavailable:
            pass  # the reaction counts; a missed "someone sent you a hug" is not worth failing it
    post = await request.app[store_key].post(post["_id"])
    return web.json_response({"post_id": post["_id"], "reactions": post["reactions"]}, status=201 if created else 200)


async def report(request: web.Request) -> web.Response:
    identity = await required_identity(request)
    body = await read_json_object(request)
    reason, note = body.get("reason"), body.get("note", "")
    if reason not in REPORT_REASONS:
        raise Problem(400, f"'reason' must be one of: {', '.join(REPORT_REASONS)}.")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise Problem(400, f"'note' must be text of at most {MAX_NOTE} characters.")
    store = request.app[store_key]
    post = await _published_post(request)
    if await store.reports_since(identity["_id"], utc_now() - timedelta(hours=1)) >= REPORTS_PER_HOUR:
        raise Problem(429, "You have sent many reports this hour; moderators will look at them. Try again later.",
                      headers={"Retry-After": "600"})
    report_id = new_id()
    await store.insert_report({"_id": report_id, "reporter_id": identity["_id"], "post_id": post["_id"],
                               "reason": reason, "created_at": utc_now()})
    event = PostReported(
        report_id=report_id, post_id=post["_id"], thread_id=post["thread_id"], reporter_id=identity["_id"],
        author_id=post["author_id"], reason=reason, note=note, body=post["body"] or "",
    )
    try:
        await request.app[publisher_key].post_reported(event)
    except EventsUnavailable as exc:
        await store.delete_report(report_id)
        raise Problem(503, "Could not send the report right now; please try again.", headers={"Retry-After": "5"}) from exc
    return web.json_response({"report_id": report_id, "status": "received"}, status=202)


async def _own_post(request: web.Request) -> tuple[dict, dict]:  # type: ignore[type-arg]
    identity = await required_identity(request)
    post = await request.app[store_key].post(request.match_info["post_id"])
    if post is None or (post["author_id"] != identity["_id"]) or post["status"] in ("deleted", "removed"):
        # Someone else's post looks the same as a missing one.
        raise Problem(404, "There is no such post of yours.")
    return identity, post


async def edit(request: web.Request) -> web.Response:
    identity, post = await _own_post(request)
    body = _text(await read_json_object(request), "body", 1, MAX_BODY)
    _, body, redacted = await _redacted(request, None, body)
    store = request.app[store_key]
    # An edit is screened like a new post, so it spends the same budget.
    now = await _take_post_slot(request, identity)
    edited = await store.start_edit(post, body, redacted)
    if edited is None:
        await store.forget_post_time(identity["_id"], now)
        raise Problem(409, "The post changed while you were editing; please reload it and try again.")
    event = PostSubmitted(
        post_id=post["_id"], thread_id=post["thread_id"], board_slug=post["board_slug"], author_id=identity["_id"],
        revision=edited["revision"], kind="edit", body=body, country=identity.get("country"),
        language=identity.get("language"),
    )
    try:
        await request.app[publisher_key].post_submitted(event)
    except EventsUnavailable as exc:
        await store.forget_post_time(identity["_id"], now)
        raise _unavailable() from exc
    return web.json_response(
        {"post_id": post["_id"], "status": "pending", "revision": edited["revision"], "redacted": redacted}, status=202
    )


async def delete(request: web.Request) -> web.Response:
    _, post = await _own_post(request)
    event = PostDeleted(post_id=post["_id"], thread_id=post["thread_id"], is_thread_start=bool(post.get("is_thread_start")))
    try:
        # Announce first, so moderators' copies of the words go too: if Kafka cannot take it,
        # nothing is deleted and the author may retry.
        await request.app[publisher_key].post_deleted(event)
    except EventsUnavailable as exc:
        raise Problem(503, "Could not delete right now; nothing was changed. Please try again.",
                      headers={"Retry-After": "5"}) from exc
    await request.app[store_key].delete_post_by_author(post["_id"])
    return web.Response(status=204)


def setup_routes(app: web.Application) -> None:
    app.router.add_patch("/v1/posts/{post_id}", edit)
    app.router.add_delete("/v1/posts/{post_id}", delete)
    app.router.add_post("/v1/posts/{post_id}/reactions", react)
    app.router.add_post("/v1/posts/{post_id}/reports", report)
