"""Each post's queue items, found by primary key.

A report on a post joins the post's open report item, and a deleted post's words leave every item
about it: both need the post's items. Asked of `review_items` by `post_id` that is an index walk on
MongoDB, but a read of every item ever queued on FerretDB (it uses an index only for `_id`): 2 to 6 s
a report at 20,000 items, what a million posts leave behind. So `review_items_by_post` keeps one
document per post, `{_id: post id, items: [item ids]}`. An item's id is added before the item is
written: a crash in between leaves an id that names nothing (readers skip it), never an item its
post cannot find.

Items queued before these lists existed are listed by `build`, once per database (the moderation
API runs it at start-up); until it has run, a post's items are found with the query. An item that
an older version of the API writes after the build is in no list, so stop the older instances
before the first start of this version rather than rolling it out beside them.

Adds go one at a time in each process: on FerretDB `$addToSet` is a read then a write, so a held
verdict and a report on one post stored at the same moment could lose an id. With several API
instances on FerretDB that can still happen (a later report on that post would then open an item
of its own, and a deletion would leave that item's words); on MongoDB adds are atomic.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

MARKER_ID = "review_items_by_post"
_BUILD_BATCH = 500


class PostItems:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.lists = db["review_items_by_post"]
        self._migrations = db["migrations"]
        self._ready = False
        self._writing = asyncio.Lock()

    async def ready(self) -> bool:
        if not self._ready:
            self._ready = await self._migrations.find_one({"_id": MARKER_ID}) is not None
        return self._ready

    async def add(self, post_id: str, item_id: str) -> None:
        """Idempotent."""
        async with self._writing:
            await self.lists.update_one({"_id": post_id}, {"$addToSet": {"items": item_id}}, upsert=True)

    async def of(self, items: AsyncCollection[dict[str, Any]], post_id: str) -> list[dict[str, Any]]:
        """The post's items, by primary key once the lists are built (else by the query)."""
        if not await self.ready():
            return await items.find({"post_id": post_id}).to_list(None)
        listed = await self.lists.find_one({"_id": post_id})
        ids = (listed or {}).get("items") or []
        return await items.find({"_id": {"$in": ids}}).to_list(None) if ids else []

    async def build(self, items: AsyncCollection[dict[str, Any]]) -> int:
        """List every item already queued (once per database); returns how many posts.

        Safe beside this process's live writers: adds are idempotent and go one at a time.
        """
        if await self.ready():
            return 0
        by_post: dict[str, list[str]] = {}
        async for item in items.find({}, {"post_id": 1}):
            if item.get("post_id"):
                by_post.setdefault(item["post_id"], []).append(item["_id"])
        posts = list(by_post.items())
        for start in range(0, len(posts), _BUILD_BATCH):
            writes = [
                UpdateOne({"_id": post_id}, {"$addToSet": {"items": {"$each": ids}}}, upsert=True)
                for post_id, ids in posts[start : start + _BUILD_BATCH]
            ]
            async with self._writing:
                await self.lists.bulk_write(writes, ordered=False)
        await self._migrations.update_one({"_id": MARKER_ID}, {"$set": {"at": datetime.now(UTC)}}, upsert=True)
        self._ready = True
        return len(posts)
