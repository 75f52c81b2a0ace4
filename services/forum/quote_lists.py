"""Which replies quote a post, found by primary key.

A reply may quote another post: the quoted author's handle and an excerpt of their words. When
that post is deleted, removed by a moderator or its author erased, those words must leave every
quote too. Asked of `posts` by `reply_quote.post_id`, that is an index walk on MongoDB, but a read
of every post ever written on FerretDB (it uses an index only for `_id`): with 100,000 posts an
author's deletion of one reply took 10 s, most of it in that search and the one for old versions.
So `post_quotes` keeps one document per quoted post, `{_id: quoted post id, replies: [reply
ids]}`. A reply's id is added before the reply is stored: a crash in between leaves an id that
names nothing (an update by it changes nothing), never a quote its post cannot find.

Quotes stored before these lists existed are listed by `build`, once per database (the forum runs
it at start-up, and `haven migrate`); until it has run, `replies_quoting` answers None and callers
search as before. As for the page lists, stop older forum instances before the first start of this
version: a quote an older instance stores after the build is in no list.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

MARKER_ID = "post_quotes"
_BUILD_BATCH = 500


class QuoteLists:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.lists = db["post_quotes"]
        self._migrations = db["migrations"]
        self._ready = False
        # On FerretDB `$addToSet` is a read then a write: two quotes of one post stored at once
        # by this process would otherwise lose one.
        self._writing = asyncio.Lock()

    async def ready(self) -> bool:
        if not self._ready:
            self._ready = await self._migrations.find_one({"_id": MARKER_ID}) is not None
        return self._ready

    async def add(self, quoted_post_id: str, reply_id: str) -> None:
        """Idempotent."""
        async with self._writing:
            await self.lists.update_one({"_id": quoted_post_id}, {"$addToSet": {"replies": reply_id}}, upsert=True)

    async def replies_quoting(self, post_ids: list[str]) -> list[str] | None:
        """Ids of the replies quoting any of these posts (some may name nothing), or None while the
        lists are not built (then search the posts)."""
        if not await self.ready():
            return None
        if not post_ids:
            return []
        found = await self.lists.find({"_id": {"$in": post_ids}}).to_list(None)
        return sorted({reply for listed in found for reply in listed.get("replies") or []})

    async def build(self, posts: AsyncCollection[dict[str, Any]], *, force: bool = False) -> int:
        """List every quote already stored (once per database unless forced); returns how many
        quoted posts. Safe beside this process's live writers: adds are idempotent."""
        if not force and await self.ready():
            return 0
        by_quoted: dict[str, list[str]] = {}
        async for post in posts.find({}, {"reply_quote": 1}):
            quote = post.get("reply_quote")
            if isinstance(quote, dict) and quote.get("post_id"):
                by_quoted.setdefault(quote["post_id"], []).append(post["_id"])
        quoted = list(by_quoted.items())
        for start in range(0, len(quoted), _BUILD_BATCH):
            writes = [
                UpdateOne({"_id": post_id}, {"$addToSet": {"replies": {"$each": replies}}}, upsert=True)
                for post_id, replies in quoted[start : start + _BUILD_BATCH]
            ]
            async with self._writing:
                await self.lists.bulk_write(writes, ordered=False)
        await self._migrations.update_one({"_id": MARKER_ID}, {"$set": {"at": datetime.now(UTC)}}, upsert=True)
        self._ready = True
        return len(quoted)
