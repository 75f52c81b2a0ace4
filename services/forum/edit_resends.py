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

#: How often the records of unsent edits are looked at.
RESEND_EVERY_S = 15.0


async def resend_edits(store: ForumStore, publisher: ForumPublisher) -> int:
    """One round: send each remembered edit that is still the post's latest; returns how many went."""
    sent = 0
    for record in await store.unsent_edit_records():
        post = await store.post(record["_id"])
        if post is None or post.get("revision") != record["revision"] or post.get("pending_body") is None:
            # Deleted, erased, edited again or already settled: nothing to send.
            await store.forget_unsent_edit(record["_id"], record["revision"])
            continue
        try:
            await publisher.post_submitted(await _edit_event(store, post))
        except EventsUnavailable:
            return sent  # Kafka is still away: the next round tries again
        await store.forget_unsent_edit(record["_id"], record["revision"])
        sent += 1
    return sent


async def keep_resending_edits(store: ForumStore, publisher: ForumPublisher, every_s: float = RESEND_EVERY_S) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            if sent := await resend_edits(store, publisher):
                log.info("sent %d edits again that Kafka had not taken", sent)
        except Exception as exc:  # the database away: the next round tries again
            log.warning("could not send unsent edits again (%s)", type(exc).__name__)


async def _edit_event(store: ForumStore, post: dict[str, Any]) -> PostSubmitted:
    """The event the edit's request built, from what was stored."""
    thread = await store.thread(post["thread_id"]) if post.get("is_thread_start") else None
    author = await store.identity(post["author_id"]) if post.get("author_id") else None
    return edit_event(post, post["revision"], post["pending_body"], thread, author)
