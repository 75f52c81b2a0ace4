"""Materializes post state from screening verdicts and moderators' decisions, and tells authors."""

from __future__ import annotations

import logging
from typing import Any

from services.forum.publisher import ForumPublisher
from services.forum.store import ForumStore, ScreeningApplied
from streams.events import Event, ModerationDecided, Notification, PostScreened
from streams.topics import Topics

log = logging.getLogger(__name__)


#: A prepared verdict whose notices went out with its batch: its turn has nothing left to do.
_NOTHING_LEFT = ScreeningApplied(None)


class PostStateMaterializer:
    def __init__(self, store: ForumStore, topics: Topics, publisher: ForumPublisher) -> None:
        self._store = store
        self._topics = topics
        self._publisher = publisher
        #: Verdicts a batch already applied, by event id, waiting for their turn to be handled.
        self._prepared: dict[str, ScreeningApplied] = {}

    def decoders(self) -> dict[str, type[Event]]:
        return {self._topics.posts_screened: PostScreened, self._topics.moderation_decisions: ModerationDecided}

    async def prepare(self, events: list[tuple[str, Event]]) -> None:
        """Apply a fetched batch's verdicts together and send their notices together; `handle`
        then finds the work done. Should the notices fail, `handle` sends them one by one."""
        verdicts = [event for _, event in events if isinstance(event, PostScreened)]
        self._prepared = {}  # should applying fail, nothing of an earlier batch is taken for done
        self._prepared = await self._store.apply_screenings(verdicts) if len(verdicts) > 1 else {}
        notices: list[Notification] = []
        for event in verdicts:
            applied = self._prepared.get(event.event_id)
            if applied is not None and applied.post is not None:
                notices += await self._notices(applied.post, event, applied.thread)
        await self._publisher.notifications(notices)
        self._prepared = dict.fromkeys(self._prepared, _NOTHING_LEFT)

    async def handle(self, topic: str, event: Event) -> None:
        if isinstance(event, PostScreened):
            applied = self._prepared.pop(event.event_id, None)
            if applied is None:
                applied = ScreeningApplied(await self._store.apply_screening(event))
            if applied.post is not None:
                for notice in await self._notices(applied.post, event, applied.thread):
                    await self._publisher.notification(notice)
        elif isinstance(event, ModerationDecided):
            # The moderation service tells the author about its own decisions.
            await self._store.apply_decision(event.post_id, event.revision, event.decision, event.note)

    async def _notices(
        self, post: dict[str, Any], event: PostScreened, thread: dict[str, Any] | None
    ) -> list[Notification]:
        """What the author (and, for a published reply, the thread's author) is told. Ids are
        deterministic, so a redelivered verdict does not notify twice."""
        kind = "post.published" if post["status"] == "published" else "post.held"
        notices = [
            Notification(
                notification_id=f"{kind}:{post['_id']}:{event.revision}",
                recipient_id=post["author_id"],
                kind=kind,
                post_id=post["_id"],
                data={"thread_id": post["thread_id"], "edit": event.kind == "edit"},
            )
        ]
        if kind == "post.published" and not post.get("is_thread_start") and event.kind == "new":
            thread = thread or await self._store.thread(post["thread_id"])
            if thread is not None and thread["author_id"] != post["author_id"]:
                notices.append(
                    Notification(
                        notification_id=f"reply:{post['_id']}",
                        recipient_id=thread["author_id"],
                        kind="reply",
                        post_id=post["_id"],
                        data={"thread_id": post["thread_id"]},
                    )
                )
        return notices
