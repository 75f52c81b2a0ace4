"""Each post's inbox items that carry a moderator's words, found by primary key.

When an author deletes a post, a note or message about it loses the moderator's words (they may
quote the post). Asked of `inbox` by `post_id` and `kind`, that is an index walk on MongoDB but a
read of every notification ever stored on FerretDB: 4.5 s a deletion with the notifications of
100,000 posts, and more as the inbox grows. So `inbox_words_by_post` keeps, per post, the ids of
its items of the word-carrying kinds only (services/common/id_sets.py). Items stored before are
listed once per database (`haven migrate`, or the notify service at start-up); until then a
post's items are found with the query.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.common.id_sets import IdSets


class WordsByPost:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], word_kinds: Iterable[str]) -> None:
        self.sets = IdSets(db, "inbox_words_by_post", field="items")
        self._word_kinds = sorted(set(word_kinds))

    async def ready(self) -> bool:
        return await self.sets.ready()

    async def add(self, items: list[dict[str, Any]]) -> None:
        """List the word-carrying ones among `items` under their posts, before they are written.

        Idempotent; other kinds, and items about no post, are left out.
        """
        by_post: dict[str, list[str]] = {}
        for item in items:
            if self._carries_words(item):
                by_post.setdefault(item["post_id"], []).append(item["_id"])
        await self.sets.add(by_post)

    async def item_ids(self, post_id: str) -> list[str]:
        """Ids of the post's word-carrying items (some may name items purged since)."""
        return await self.sets.ids([post_id])

    async def build(self, items: AsyncCollection[dict[str, Any]], *, force: bool = False) -> int:
        """List every word-carrying item already stored (once per database); returns how many posts."""
        return await self.sets.build(self._stored(items), force=force)

    async def _stored(self, items: AsyncCollection[dict[str, Any]]) -> AsyncIterator[tuple[str, str]]:
        async for item in items.find({"kind": {"$in": self._word_kinds}}, {"post_id": 1, "kind": 1}):
            if self._carries_words(item):
                yield item["post_id"], item["_id"]

    def _carries_words(self, item: dict[str, Any]) -> bool:
        return bool(item.get("post_id")) and item.get("kind") in self._word_kinds
