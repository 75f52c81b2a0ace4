"""Each post's inbox items that carry a moderator's words, found by primary key.

When an author deletes a post, a note or message about it loses the moderator's words (they may
quote the post). Asked of `inbox` by `post_id` and `kind`, that is an index walk on MongoDB but a
read of every notification ever stored on FerretDB (it uses an index only for `_id`): 4.5 s a
deletion with the notifications of 100,000 posts, and more as the inbox grows. So
`inbox_words_by_post` keeps one document per post, `{_id: post id, items: [item ids]}`, for the
word-carrying kinds only. An item's id is added before the item is written: a crash in between
leaves an id that names nothing (readers skip it), never an item its post cannot find.

Items stored before these lists existed are listed by `build`, once per database (`haven migrate`
runs it, and the notify service at start-up when it has not run yet); until it has run, a post's
items are found with the query. An item that an older version stores after the build is in no
list, so stop the older instances before the first start of this version.

Adds go one at a time in each process: on FerretDB `$addToSet` is a read then a write, so two
notifications about one post stored at the same moment could lose an id. With several notify
instances on FerretDB that can still happen (the post's deletion would then leave that item's
words); on MongoDB adds are atomic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

MARKER_ID = "inbox_words_by_post"
_BATCH = 500


class WordsByPost:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], word_kinds: Iterable[str]) -> None:
        self.lists = db["inbox_words_by_post"]
        self._migrations = db["migrations"]
        self._word_kinds = sorted(set(word_kinds))
        self._ready = False
        self._writing = asyncio.Lock()

    async def ready(self) -> bool:
        if not self._ready:
            self._ready = await self._migrations.find_one({"_id": MARKER_ID}) is not None
        return self._ready

    async def add(self, items: list[dict[str, Any]]) -> None:
        """List the word-carrying ones among `items` under their posts, before they are written.

        Idempotent; other kinds, and items about no post, are left out.
        """
        await self._add(self._ids_by_post(items))

    async def item_ids(self, post_id: str) -> list[str]:
        """Ids of the post's word-carrying items (some may name items purged since)."""
        listed = await self.lists.find_one({"_id": post_id})
        return list((listed or {}).get("items") or [])

    async def build(self, items: AsyncCollection[dict[str, Any]], *, force: bool = False) -> int:
        """List every word-carrying item already stored (once per database); returns how many posts.

        One scan of the inbox. Safe beside this process's live writers: adds are idempotent and go
        one batch at a time.
        """
        if not force and await self.ready():
            return 0
        stored = items.find({"kind": {"$in": self._word_kinds}}, {"post_id": 1, "kind": 1})
        by_post = self._ids_by_post([item async for item in stored])
        await self._add(by_post)
        await self._migrations.update_one({"_id": MARKER_ID}, {"$set": {"at": datetime.now(UTC)}}, upsert=True)
        self._ready = True
        return len(by_post)

    def _ids_by_post(self, items: Iterable[dict[str, Any]]) -> dict[str, list[str]]:
        by_post: dict[str, list[str]] = {}
        for item in items:
            if item.get("post_id") and item.get("kind") in self._word_kinds:
                by_post.setdefault(item["post_id"], []).append(item["_id"])
        return by_post

    async def _add(self, by_post: dict[str, list[str]]) -> None:
        posts = list(by_post.items())
        for start in range(0, len(posts), _BATCH):
            writes = [
                UpdateOne({"_id": post_id}, {"$addToSet": {"items": {"$each": ids}}}, upsert=True)
                for post_id, ids in posts[start : start + _BATCH]
            ]
            async with self._writing:
                await self.lists.bulk_write(writes, ordered=False)
