"""Reactions and peer reports on posts.

Reports go to moderators only: nothing reaches the reported person automatically (elsewhere,
automatic "someone is worried about you" messages were mass-abused as harassment). Reports are
limited per reporter.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any, cast

from aiohttp import web

from services.common.problems import Problem, read_json_object
from services.forum import access
from services.forum.auth import required_identity
from services.forum.crisis_lines import offers_crisis_lines
from services.forum.keys import publisher_key, store_key
from services.forum.publisher import EventsUnavailable
from services.forum.requests import ReportRequest, length_limits
from services.forum.submission import read_draft, submit
from services.forum.submission_kinds import Edit
from streams.events import (
    REACTION_KINDS,
    REPORT_REASONS,
    Notification,
    PostDeleted,
    PostReported,
    ReactionKind,
    ReportReason,
    new_id,
    utc_now,
)

REPORTS_PER_HOUR = 10
_, MAX_NOTE = length_limits(ReportRequest, "note")


async def _post_open_to_others(request: web.Request) -> dict[str, Any]:
    return access.post_open_to_others(await request.app[store_key].post(request.match_info["post_id"]))


def reaction_kind(body: dict[str, Any]) -> ReactionKind:
    """The kind of a reaction's body (services/forum/requests.py: ReactionRequest), or 400."""
    kind = body.get("kind")
    if kind not in REACTION_KINDS:
        raise Problem(400, f"'kind' must be one of: {', '.join(REACTION_KINDS)}.")
    return cast(ReactionKind, kind)


def report_fields(body: dict[str, Any]) -> tuple[ReportReason, str]:
    """The reason and note of a report's body (services/forum/requests.py: ReportRequest), or 400."""
    reason, note = body.get("reason"), body.get("note", "")
    if reason not in REPORT_REASONS:
        raise Problem(400, f"'reason' must be one of: {', '.join(REPORT_REASONS)}.")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise Problem(400, f"'note' must be text of at most {MAX_NOTE} characters.")
    return reason, note


def reaction_notification_id(post_id: str, reactor_id: str, kind: str) -> str:
    """The same id for the same reaction (the inbox keeps one copy), without the reactor's identity
    id in it: the author reads this id, and the same id on two posts would link an anonymous
    member's reactions. The hash covers the post, so one member's ids differ from post to post."""
    digest = hashlib.sha256(f"{post_id}\n{reactor_id}\n{kind}".encode()).hexdigest()[:32]
    return f"reaction:{post_id}:{digest}"


async def react(request: web.Request) -> web.Response:
    identity = await required_identity(request)
    kind = reaction_kind(await read_json_object(request))
    post = await _post_open_to_others(request)
    created = await request.app[store_key].add_reaction(post["_id"], identity["_id"], kind)
    if created and post["author_id"] != identity["_id"]:
        try:
            await request.app[publisher_key].notification(
                Notification(
                    notification_id=reaction_notification_id(post["_id"], identity["_id"], kind),
                    recipient_id=post["author_id"],
                    kind="reaction",
                    post_id=post["_id"],
                    data={"reaction": kind},
                )
            )
        except EventsUnavailable:
            pass  # the reaction counts; a missed "someone sent you a hug" is not worth failing it
    counted = await request.app[store_key].post(post["_id"])
    if counted is None:
        # A published post is never deleted (only a submission that was never sent is), so this
        # does not happen; were it to, it stays the unhandled error (a 500) it always was.
        raise RuntimeError(f"post {post['_id']} vanished after a reaction")
    return web.json_response(
        {"post_id": counted["_id"], "reactions": counted["reactions"]}, status=201 if created else 200
    )


async def report(request: web.Request) -> web.Response:
    identity = await required_identity(request)
    reason, note = report_fields(await read_json_object(request))
    store = request.app[store_key]
    post = await _post_open_to_others(request)
    if await store.reports_since(identity["_id"], utc_now() - timedelta(hours=1)) >= REPORTS_PER_HOUR:
        raise Problem(
            429,
            "You have sent many reports this hour; moderators will look at them. Try again later.",
            headers={"Retry-After": "600"},
        )
    report_id = new_id()
    await store.insert_report(
        {
            "_id": report_id,
            "reporter_id": identity["_id"],
            "post_id": post["_id"],
            "reason": reason,
            "created_at": utc_now(),
        }
    )
    event = PostReported(
        report_id=report_id,
        post_id=post["_id"],
        thread_id=post["thread_id"],
        reporter_id=identity["_id"],
        author_id=post["author_id"],
        reason=reason,
        note=note,
        body=post["body"] or "",
    )
    try:
        await request.app[publisher_key].post_reported(event)
    except EventsUnavailable as exc:
        await store.delete_report(report_id)
        raise Problem(
            503, "Could not send the report right now; please try again.", headers={"Retry-After": "5"}
        ) from exc
    return web.json_response({"report_id": report_id, "status": "received"}, status=202)


async def _own_changeable_post(request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
    identity = await required_identity(request)
    post = await request.app[store_key].post(request.match_info["post_id"])
    return identity, access.own_changeable_post(post, identity["_id"])


async def edit(request: web.Request) -> web.Response:
    identity, post = await _own_changeable_post(request)
    draft = read_draft(await read_json_object(request), titled=False)
    answer = await submit(request, identity, draft, Edit(request.app[store_key], identity, post))
    return web.json_response(answer, status=202)


async def delete(request: web.Request) -> web.Response:
    identity = await required_identity(request)
    post = access.own_deletable_post(await request.app[store_key].post(request.match_info["post_id"]), identity["_id"])
    if post.get("deletion_complete"):
        return web.Response(status=204)  # deleted whole before: nothing is left to send or remove
    event = PostDeleted(
        post_id=post["_id"], thread_id=post["thread_id"], is_thread_start=bool(post.get("is_thread_start"))
    )
    try:
        # Announce first, so moderators' copies of the words go too: if Kafka cannot take it,
        # nothing is deleted and the author may retry.
        await request.app[publisher_key].post_deleted(event)
    except EventsUnavailable as exc:
        raise Problem(
            503, "Could not delete right now; nothing was changed. Please try again.", headers={"Retry-After": "5"}
        ) from exc
    await request.app[store_key].delete_post_by_author(post)
    return web.Response(status=204)


def setup_routes(app: web.Application) -> None:
    app.router.add_patch("/v1/posts/{post_id}", offers_crisis_lines(edit))
    app.router.add_delete("/v1/posts/{post_id}", delete)
    app.router.add_post("/v1/posts/{post_id}/reactions", react)
    app.router.add_post("/v1/posts/{post_id}/reports", report)
