"""Materializes post state from screening verdicts and moderators' decisions."""

from __future__ import annotations

import logging

from services.forum.store import ForumStore
from streams.events import Event, ModerationDecided, PostScreened
from streams.topics import Topics

log = logging.getLogger(__name__)


class PostStateMaterializer:
    def __init__(self, store: ForumStore, topics: Topics) -> None:
        self._store = store
        self._topics = topics

    def decoders(self) -> dict[str, type[Event]]:
        return {self._topics.posts_screened: PostScreened, self._topics.moderation_decisions: ModerationDecided}

    async def handle(self, topic: str, event: Event) -> None:
        if isinstance(event, PostScreened):
            await self._store.apply_screening(event)
        elif isinstance(event, ModerationDecided):
            await self._store.apply_decision(event.post_id, event.revision, event.decision, event.note)
