"""Which replies quote a post, found by primary key.

A reply may quote another post: the quoted author's handle and an excerpt of their words. When
that post is deleted, removed by a moderator or its author erased, those words must leave every
quote too. Asked of `posts` by `reply_quote.post_id`, that is an index walk on MongoDB, but a read
of every post ever written on FerretDB: with 100,000 posts an author's deletion of one reply took
10 s, most of it in that search and the one for old versions. So `post_quotes` keeps, per quoted
post, the ids of the replies quoting it (services/common/id_sets.py). The forum lists the quotes
stored before it, once per database, in the background at start-up (and `haven migrate`); until
then `replies_quoting` answers None and callers search as before.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.common.id_sets import IdSets


class QuoteLists:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.sets = IdSets(db, "post_quotes", field="replies")

    async def add(self, quoted_post_id: str, reply_id: str) -> None:
        """Call before storing the reply. Idempotent."""
        await self.sets.add({quoted_post_id: [reply_id]})

    async def replies_quoting(self, post_ids: list[str]) -> list[str] | None:
        """Ids of the replies quoting any of these posts (some may name nothing), or None while the
        sets are not built (then search the posts)."""
        if not await self.sets.ready():
            return None
        return await self.sets.ids(post_ids)

    async def build(self, posts: AsyncCollection[dict[str, Any]], *, force: bool = False) -> int:
        """List every quote already stored (once per database unless forced); returns how many
        quoted posts."""
        return await self.sets.build(_quotes(posts), force=force)


async def _quotes(posts: AsyncCollection[dict[str, Any]]) -> AsyncIterator[tuple[str, str]]:
    async for post in posts.find({}, {"reply_quote": 1}):
        quote = post.get("reply_quote")
        if isinstance(quote, dict) and quote.get("post_id"):
            yield quote["post_id"], post["_id"]
