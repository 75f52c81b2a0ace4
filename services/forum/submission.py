"""Submitting text for screening: a new thread, a reply or an edit, one use case.

Every submission goes the same way. The text is validated (`read_draft`, before any
Idempotency-Key is looked at); then `submit` redacts personal contact details, lets the kind of
submission make its own checks, takes a post slot (the member's rate limit), has the kind store
the text, and publishes it to Kafka for screening. If Kafka cannot take it, what was stored is
undone and the slot given back: 503, nothing posted. What differs between a thread, a reply and
an edit is a `SubmissionKind` (services/forum/submission_kinds.py).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pymongo.errors import PyMongoError

from services.common.problems import Problem
from services.forum.keys import hotline_numbers_key, limits_key, member_turns_key, publisher_key, store_key
from services.forum.limits import member_post_window
from services.forum.publisher import EventsUnavailable
from services.forum.redaction import RedactionTimedOut, redact_off_loop
from services.forum.requests import NewThreadRequest, ReplyRequest, length_limits
from services.forum.validation import InvalidInput, normalize_text
from streams.events import PostSubmitted, utc_now

if TYPE_CHECKING:
    from services.forum.store import ForumStore

log = logging.getLogger(__name__)

MIN_TITLE, MAX_TITLE = length_limits(NewThreadRequest, "title")
#: A new thread's, a reply's and an edit's body: one type in services/forum/requests.py.
MIN_BODY, MAX_BODY = length_limits(ReplyRequest, "body")
POST_SLOT_ATTEMPTS = 3

#: Redaction is linear and takes milliseconds even for the longest post; waiting this long means
#: the worker threads are saturated, which is the server's state, not a fault in the post.
REDACTION_TIMEOUT_S = 2.0

REDACTED_KIND_NAMES = {
    "phone": "phone number",
    "email": "e-mail address",
    "address": "street address",
    "social": "social-media handle",
}


@dataclass(frozen=True)
class Draft:
    """What the member wrote, validated; only a new thread has a title."""

    body: str
    title: str | None = None


@dataclass(frozen=True)
class Screened:
    """The texts to store and send, as redaction left them, and the kinds of detail it took out."""

    body: str
    title: str | None
    redacted: list[str]


@dataclass(frozen=True)
class Stored:
    """What a kind of submission wrote: the event that sends it for screening, the answer to the
    member, and what to do if the event cannot be sent: take the writing back (a 503 follows), or,
    when `kept`, make sure the event is sent later (the answer stands)."""

    event: PostSubmitted
    answer: dict[str, Any]
    unstore: Callable[[], Awaitable[None]]
    kept: bool = False


class SubmissionKind(ABC):
    """What a new thread, a reply or an edit does at its own steps of `submit`."""

    async def check(self, screened: Screened) -> None:
        """Refuse before a post slot is spent; nothing is checked unless a kind says so."""
        return None

    @abstractmethod
    async def write(self, screened: Screened, now: datetime) -> Stored:
        """Store the screened text, counted at `now`. A Problem raised here means nothing was
        stored (an edit that lost a race): the slot is given back."""


def saving_unavailable() -> Problem:
    return Problem(
        503,
        "We could not save this right now. Nothing was posted; please try again in a few seconds.",
        headers={"Retry-After": "5"},
    )


def required_text(data: dict[str, Any], field: str, min_len: int, max_len: int) -> str:
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


def read_draft(data: dict[str, Any], *, titled: bool) -> Draft:
    title = required_text(data, "title", MIN_TITLE, MAX_TITLE) if titled else None
    return Draft(body=required_text(data, "body", MIN_BODY, MAX_BODY), title=title)


async def submit(request: web.Request, identity: dict[str, Any], draft: Draft, kind: SubmissionKind) -> dict[str, Any]:
    """Redact, check, take a slot, store, publish; undo and answer 503 when Kafka cannot take it."""
    store = request.app[store_key]
    screened = await redact(request, draft)
    await kind.check(screened)
    now = await take_post_slot(request, identity)
    try:
        stored = await kind.write(screened, now)
    except Problem:
        await store.forget_post_time(identity["_id"], now)
        raise
    try:
        await request.app[publisher_key].post_submitted(stored.event)
    except EventsUnavailable as exc:
        await stored.unstore()
        if stored.kept:
            return stored.answer  # stored, and sent once Kafka takes it: the member's answer is true
        await store.forget_post_time(identity["_id"], now)
        raise saving_unavailable() from exc
    await catch_up_an_erasure(store, identity["_id"])
    return stored.answer


async def catch_up_an_erasure(store: ForumStore, identity_id: str) -> None:
    """The member may have erased themselves while this was stored, and their erasure may have
    looked for their posts before this one was there. It looks again once the identity is gone,
    so a post stored before that is found; one stored after is caught up here."""
    try:
        if await store.identity(identity_id) is None:
            await store.erasure_caught_up(identity_id)
    except PyMongoError as exc:
        # Sent already: a 503 would make the member send it twice. Only a post stored after the
        # erasure's second look and checked while the database was away is missed.
        log.warning("could not check for an erasure after a submission (%s)", type(exc).__name__)


async def redact(request: web.Request, draft: Draft) -> Screened:
    """Normalize and remove personal contact details, in a worker thread, before anything is stored
    or sent; say which kinds went. The texts returned are the ones to store: what was screened."""
    texts = [draft.body] if draft.title is None else [draft.title, draft.body]
    hotline_numbers: frozenset[str] = request.app[hotline_numbers_key]
    try:
        results = await redact_off_loop(texts, hotline_numbers, timeout_s=REDACTION_TIMEOUT_S)
    except RedactionTimedOut as exc:
        # 503, not 422: the same post succeeds once the server is less busy.
        raise Problem(
            503,
            "We could not check this post in time. Nothing was posted; please try again in a few seconds.",
            headers={"Retry-After": "5"},
        ) from exc
    kinds: list[str] = []
    for result in results:
        kinds += [k for k in result.removed_kinds if k not in kinds]
    title = None if draft.title is None else results[0].text
    return Screened(body=results[-1].text, title=title, redacted=[REDACTED_KIND_NAMES.get(k, k) for k in kinds])


async def take_post_slot(request: web.Request, identity: dict[str, Any]) -> datetime:
    """Count this post against the member's limits, or answer 429; returns the time it was counted at."""
    limits, store, turns = request.app[limits_key], request.app[store_key], request.app[member_turns_key]
    async with turns.turn(identity["_id"]):
        if turns.is_stale(identity):
            identity = await store.identity(identity["_id"]) or identity
        for _ in range(POST_SLOT_ATTEMPTS):
            now = utc_now()
            kept, hit = member_post_window(identity.get("recent_post_times") or [], now, limits)
            if hit is not None:
                raise Problem(429, hit.detail, headers={"Retry-After": str(hit.retry_after_s)})
            if await store.replace_post_times(identity, [*kept, now]):
                turns.wrote(identity["_id"], (identity.get("post_times_version") or 0) + 1)
                return now
            # Another post by the same member changed the times meanwhile: look again.
            identity = await store.identity(identity["_id"]) or identity
    raise Problem(429, "Too many posts at the same moment; please try again.", headers={"Retry-After": "1"})
