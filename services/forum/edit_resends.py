"""Edits whose event Kafka did not take in time are sent again until one send goes through.

An edit moves its post to a new revision before the event is sent, and a verdict applies only to
its own revision: if the event never arrived, nothing would ever settle the post (a pending post
would never be published, a held one never decided). The worker screens each (post, revision) once
and the forum applies each verdict once, so sending the same edit twice changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from services.forum.publisher import EventsUnavailable, ForumPublisher
from services.forum.store import ForumStore
from services.forum.submission_kinds import edit_event
from streams.events import PostSubmitted

log = logging.getLogger(__name__)

#: How often the records of unsent edits are looked at; while Kafka keeps refusing, twice as long
#: each time up to the cap (a refused send stays queued in the producer, which keeps retrying it).
RESEND_EVERY_S = 15.0
RESEND_AT_MOST_EVERY_S = 300.0
#: Posts no edit of which can be published any more.
_SETTLED_FOR_GOOD = frozenset({"removed", "deleted"})


async def resend_edits(store: ForumStore, publisher: ForumPublisher) -> int:
    """One round: send each remembered edit that is still the post's latest; returns how many went."""
    sent, _ = await _resend_round(store, publisher)
    return sent


async def _resend_round(store: ForumStore, publisher: ForumPublisher) -> tuple[int, bool]:
    """How many edits went, and whether Kafka refused one (the rest then wait for the next round)."""
    sent = 0
    for record in await store.unsent_edit_records():
        post = await store.post(record["_id"])
        if (
            post is None
            or post.get("revision") != record["revision"]
            or post.get("pending_body") is None
            or post.get("status") in _SETTLED_FOR_GOOD
        ):
            # Deleted, removed, erased, edited again or already settled: nothing to send.
            await store.forget_unsent_edit(record["_id"], record["revision"])
            continue
        try:
            await publisher.post_submitted(await _edit_event(store, post))
        except EventsUnavailable:
            return sent, True  # Kafka is still away: the next round tries again
        await store.forget_unsent_edit(record["_id"], record["revision"])
        sent += 1
    return sent, False


async def keep_resending_edits(store: ForumStore, publisher: ForumPublisher, every_s: float = RESEND_EVERY_S) -> None:
    pause = every_s
    while True:
        await asyncio.sleep(pause)
        try:
            sent, refused = await _resend_round(store, publisher)
        except Exception as exc:  # the database away: the next round tries again
            log.warning("could not send unsent edits again (%s)", type(exc).__name__)
            continue
        if sent:
            log.info("sent %d edits again that Kafka had not taken", sent)
        pause = min(pause * 2, RESEND_AT_MOST_EVERY_S) if refused and not sent else every_s


async def _edit_event(store: ForumStore, post: dict[str, Any]) -> PostSubmitted:
    """The event the edit's request built, from what was stored."""
    thread = await store.thread(post["thread_id"]) if post.get("is_thread_start") else None
    author = await store.identity(post["author_id"]) if post.get("author_id") else None
    return edit_event(post, post["revision"], post["pending_body"], thread, author)
