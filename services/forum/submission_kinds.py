"""The three kinds of text submission: a new thread, a reply, an edit.

Each says what it checks before a post slot is taken, what it stores, the event that sends it for
screening, its answer, and how to take the storing back; services/forum/submission.py runs the
steps in order.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from pymongo.errors import PyMongoError

from services.common.problems import Problem
from services.forum import access
from services.forum.milestones import days_sober, milestone
from services.forum.post_states import TERMINAL
from services.forum.store import ForumStore
from services.forum.submission import Screened, Stored, SubmissionKind
from streams.events import REACTION_KINDS, PostSubmitted, new_id

QUOTE_CHARS = 280


class NewThread(SubmissionKind):
    def __init__(self, store: ForumStore, identity: dict[str, Any], board_slug: str) -> None:
        self._store, self._identity, self._board_slug = store, identity, board_slug

    async def write(self, screened: Screened, now: datetime) -> Stored:
        store, identity, slug = self._store, self._identity, self._board_slug
        thread_id, post_id = new_id(), new_id()
        await store.insert_thread(
            {
                "_id": thread_id,
                "board_slug": slug,
                "title": screened.title,
                "author_id": identity["_id"],
                "first_post_id": post_id,
                "status": "pending",
                "created_at": now,
                "last_activity_at": now,
            }
        )
        await store.insert_post(
            new_post(
                post_id, thread_id, slug, identity, screened.body, now, is_thread_start=True, redacted=screened.redacted
            )
        )
        event = PostSubmitted(
            post_id=post_id,
            thread_id=thread_id,
            board_slug=slug,
            author_id=identity["_id"],
            body=screened.body,
            title=screened.title,
            is_thread_start=True,
            country=identity.get("country"),
            language=identity.get("language"),
        )

        async def unstore() -> None:
            await store.delete_post(post_id)
            await store.delete_thread(thread_id)

        answer = {"thread_id": thread_id, "post_id": post_id, "status": "pending", "redacted": screened.redacted}
        return Stored(event, answer, unstore)


class Reply(SubmissionKind):
    def __init__(self, store: ForumStore, identity: dict[str, Any], thread: dict[str, Any], reply_to: Any) -> None:
        self._store, self._identity, self._thread, self._reply_to = store, identity, thread, reply_to
        self._quote: dict[str, Any] | None = None

    async def check(self, screened: Screened) -> None:
        if self._reply_to is None:
            return
        if not isinstance(self._reply_to, str):
            raise Problem(400, "'reply_to' must be a post id.")
        quoted = access.quotable_post(await self._store.post(self._reply_to), self._thread["_id"])
        self._quote = {
            "post_id": self._reply_to,
            "author_handle": quoted.get("author_handle"),
            "excerpt": excerpt(quoted["body"]),
        }

    async def write(self, screened: Screened, now: datetime) -> Stored:
        store, identity, thread, reply_to = self._store, self._identity, self._thread, self._reply_to
        post_id = new_id()
        if self._quote is not None:
            await store.note_quote(self._quote["post_id"], post_id)
        await store.insert_post(
            new_post(
                post_id,
                thread["_id"],
                thread["board_slug"],
                identity,
                screened.body,
                now,
                reply_to=reply_to,
                redacted=screened.redacted,
            )
            | {"reply_quote": self._quote}
        )
        if self._quote is not None:
            try:
                await self._drop_from_quote_what_went_meanwhile(post_id, self._quote)
            except PyMongoError:
                await store.delete_post(post_id)  # never sent: it would stay pending, quote and all
                raise
        event = PostSubmitted(
            post_id=post_id,
            thread_id=thread["_id"],
            board_slug=thread["board_slug"],
            author_id=identity["_id"],
            body=screened.body,
            reply_to=reply_to,
            country=identity.get("country"),
            language=identity.get("language"),
        )

        async def unstore() -> None:
            await store.delete_post(post_id)

        return Stored(event, {"post_id": post_id, "status": "pending", "redacted": screened.redacted}, unstore)

    async def _drop_from_quote_what_went_meanwhile(self, post_id: str, quote: dict[str, Any]) -> None:
        # An erasure or deletion that landed since check() cleared every quote stored by then,
        # not this one: what it took from the quoted post goes from this quote too.
        quoted = await self._store.post(quote["post_id"])
        if quoted is None or quoted["status"] in TERMINAL:
            await self._store.clear_reply_quote(post_id, words=True)
        elif quoted.get("author_handle") is None and quote["author_handle"] is not None:
            await self._store.clear_reply_quote(post_id, words=False)


class Edit(SubmissionKind):
    """An edit is screened like a new post, so it spends the same budget."""

    def __init__(self, store: ForumStore, identity: dict[str, Any], post: dict[str, Any]) -> None:
        self._store, self._identity, self._post = store, identity, post

    async def write(self, screened: Screened, now: datetime) -> Stored:
        identity, post = self._identity, self._post
        # A thread's first post is screened with its title, every revision: the edit's verdict
        # is the one that decides a thread whose first verdict it overtakes.
        thread = await self._store.thread(post["thread_id"]) if post.get("is_thread_start") else None
        edited = await self._store.start_edit(post, screened.body, screened.redacted)
        if edited is None:
            raise Problem(409, "The post changed while you were editing; please reload it and try again.")
        event = edit_event(post, edited["revision"], screened.body, thread, identity)

        async def send_later() -> None:
            # The edit stays: its revision has overtaken the one before, whose verdict would now be
            # dropped as stale, so only this edit's own verdict can settle the post. Its event may
            # yet reach Kafka (the producer keeps retrying), or not: it is sent again until it goes
            # (services/forum/edit_resends.py). Never taken back, so a revision is never used twice
            # (a verdict is applied by revision, and two texts under one would share one verdict).
            await self._store.remember_unsent_edit(post["_id"], edited["revision"])

        answer = {
            "post_id": post["_id"],
            "status": "pending",
            "revision": edited["revision"],
            "redacted": screened.redacted,
        }
        return Stored(event, answer, send_later, kept=True)


def edit_event(
    post: dict[str, Any],
    revision: int,
    body: str,
    thread: dict[str, Any] | None,
    author: dict[str, Any] | None,
) -> PostSubmitted:
    """The event that sends an edit for screening: with its thread's title when the post starts
    the thread, and the author's country and language for the resources."""
    return PostSubmitted(
        post_id=post["_id"],
        thread_id=post["thread_id"],
        board_slug=post["board_slug"],
        author_id=post["author_id"] if author is None else author["_id"],
        revision=revision,
        kind="edit",
        body=body,
        title=None if thread is None else thread.get("title"),
        is_thread_start=bool(post.get("is_thread_start")),
        country=None if author is None else author.get("country"),
        language=None if author is None else author.get("language"),
    )


def excerpt(body: str) -> str:
    # Stored with the reply, so a thread page needs no extra query per quote.
    return body if len(body) <= QUOTE_CHARS else body[: QUOTE_CHARS - 1].rstrip() + "…"


def new_post(
    post_id: str,
    thread_id: str,
    board_slug: str,
    identity: dict[str, Any],
    body: str,
    now: Any,
    *,
    is_thread_start: bool = False,
    reply_to: str | None = None,
    redacted: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "_id": post_id,
        "thread_id": thread_id,
        "board_slug": board_slug,
        "author_id": identity["_id"],
        "author_handle": identity["handle"],
        "body": body,
        "status": "pending",
        "revision": 1,
        "is_thread_start": is_thread_start,
        "reply_to": reply_to,
        "created_at": now,
        "published_at": None,
        "reactions": dict.fromkeys(REACTION_KINDS, 0),
        "resources": [],
        "author_milestone": shown_milestone(identity),
        "redacted": redacted or [],
    }


def shown_milestone(identity: dict[str, Any]) -> str | None:
    if not identity.get("show_milestone", True) or not identity.get("sober_since"):
        return None
    today = datetime.now(UTC).date()
    return milestone(days_sober(date.fromisoformat(identity["sober_since"]), today))
