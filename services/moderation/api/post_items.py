"""Each post's queue items, found by primary key.

A report on a post joins the post's open report item, and a deleted post's words leave every item
about it: both need the post's items. Asked of `review_items` by `post_id` that is an index walk on
MongoDB, but a read of every item ever queued on FerretDB: 2 to 6 s a report at 20,000 items, what
a million posts leave behind. So `review_items_by_post` keeps each post's item ids
(services/common/id_sets.py). The moderation API lists the items queued before it, once per
database, at start-up; until then a post's items are found with the query.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.common.id_sets import IdSets


class PostItems:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.sets = IdSets(db, "review_items_by_post", field="items")

    async def ready(self) -> bool:
        return await self.sets.ready()

    async def add(self, post_id: str, item_id: str) -> None:
        """Call before writing the item. Idempotent."""
        await self.sets.add({post_id: [item_id]})

    async def of(self, items: AsyncCollection[dict[str, Any]], post_id: str) -> list[dict[str, Any]]:
        """The post's items, by primary key once the sets are built (else by the query)."""
        if not await self.sets.ready():
            return await items.find({"post_id": post_id}).to_list(None)
        ids = await self.sets.ids([post_id])
        return await items.find({"_id": {"$in": ids}}).to_list(None) if ids else []

    async def build(self, items: AsyncCollection[dict[str, Any]]) -> int:
        """List every item already queued (once per database); returns how many posts."""
        return await self.sets.build(_items_by_post(items))


async def _items_by_post(items: AsyncCollection[dict[str, Any]]) -> AsyncIterator[tuple[str, str]]:
    async for item in items.find({}, {"post_id": 1}):
        if item.get("post_id"):
            yield item["post_id"], item["_id"]
