"""Append-only lists read and written by primary key only: the forum's page read models.

A list named KEY lives in one collection as a head `{_id: KEY, n}` (how many entries were
appended) and buckets `{_id: "KEY/b", e: [...]}` of `BUCKET` entries each; entry i sits in bucket
i // BUCKET and carries its position as `i`. Reading a page touches the head and one or two
buckets whatever the list's length or the collection's size; every filter is exactly
`{_id: value}` or `{_id: {$in: [...]}}`, the shapes Haven's FerretDB build serves from an index
(MongoDB does too).

Readers check each entry against its document (a post still published, a thread whose activity
is still that entry's) and skip the stale ones. A writer may `remove` an entry it made stale (a
board's list drops a thread's older entry when the thread moves up), so that stale entries do not
pile up for readers to step over; a remove that never happens costs reading, never correctness.
An append is two single-document writes (`$inc`, then `$push`); a crash between them leaves a gap,
which readers step over. Repeating an append adds the entry again: callers keep the position
they were given on their own document, and readers keep only the entry at that position.

A head may also count the distinct items its list names (`live`, a board's threads), when the
caller says which appends name a new one. The count is raised with `n`, before the entry is
written, so a crash can only make it too high (readers then read on, as without it). Only a head
created with the count (`counted`) has one: a head from before it existed never claims one.

Concurrency: `$inc` and `$push` are atomic on MongoDB. FerretDB 1.24 applies an update as a read
followed by a write, so two processes appending to one list at once could lose an entry there;
locally a list has one writer (the forum's event consumer, which handles one partition at a time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

BUCKET = 64


def bucket_id(key: str, position: int) -> str:
    return f"{key}/{position // BUCKET}"


@dataclass(frozen=True)
class ListHead:
    length: int
    #: How many distinct items the list names, when its head counts them; else None.
    items: int | None


def _grow(entries: int, new_items: int) -> dict[str, Any]:
    return {"$inc": {"n": entries, "live": new_items}, "$setOnInsert": {"counted": True}}


class PkList:
    """The lists of one collection. Methods raise what the driver raises; none of them block
    beyond their round trips (append: 2; a read: 2, the head and the buckets it spans)."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection

    async def append(self, key: str, entry: dict[str, Any], *, new_item: bool = False) -> int:
        """Append and return the entry's position (not idempotent: see the module docstring).
        `new_item`: the entry names an item no earlier entry named (counted in the head)."""
        head = await self.collection.find_one_and_update(
            {"_id": key}, _grow(1, int(new_item)), upsert=True, return_document=ReturnDocument.AFTER
        )
        # An upsert returning the document AFTER the update always has one to return.
        position = int(cast(dict[str, Any], head)["n"]) - 1
        await self.collection.update_one(
            {"_id": bucket_id(key, position)}, {"$push": {"e": {**entry, "i": position}}}, upsert=True
        )
        return position

    async def append_many(self, key: str, entries: list[dict[str, Any]], *, new_items: int = 0) -> list[int]:
        """Append `entries` in order and return their positions: two round trips for a page's worth.
        `new_items`: how many of them name an item no earlier entry named."""
        if not entries:
            return []
        head = await self.collection.find_one_and_update(
            {"_id": key}, _grow(len(entries), new_items), upsert=True, return_document=ReturnDocument.AFTER
        )
        # An upsert returning the document AFTER the update always has one to return.
        first = int(cast(dict[str, Any], head)["n"]) - len(entries)
        positions = list(range(first, first + len(entries)))
        buckets: dict[str, list[dict[str, Any]]] = {}
        for position, entry in zip(positions, entries, strict=True):
            buckets.setdefault(bucket_id(key, position), []).append({**entry, "i": position})
        for bucket, bucket_entries in buckets.items():
            await self.collection.update_one({"_id": bucket}, {"$push": {"e": {"$each": bucket_entries}}}, upsert=True)
        return positions

    async def length(self, key: str) -> int | None:
        """How many entries were appended, or None for a list never appended to."""
        head = await self.head(key)
        return None if head is None else head.length

    async def head(self, key: str) -> ListHead | None:
        """The list's length and, if its head counts them, its distinct items; None for a list
        never appended to."""
        head = await self.collection.find_one({"_id": key})
        if head is None:
            return None
        return ListHead(int(head["n"]), int(head["live"]) if head.get("counted") else None)

    async def remove(self, key: str, entry: dict[str, Any]) -> None:
        """Take out an entry, given exactly as the list holds it (with its position `i`, and its
        fields in the order they were appended: FerretDB matches a `$pull` document as a whole)."""
        await self.collection.update_one({"_id": bucket_id(key, entry["i"])}, {"$pull": {"e": entry}})

    async def buckets(self, key: str, numbers: range) -> list[dict[str, Any]]:
        """The entries of these buckets, by position, in one `{_id: {$in: [...]}}` read (an `_id`
        index hit on MongoDB and on Haven's FerretDB build)."""
        ids = [f"{key}/{number}" for number in numbers]
        docs = await self.collection.find({"_id": {"$in": ids}}).to_list(None)
        return sorted((entry for doc in docs for entry in doc["e"]), key=lambda e: e["i"])

    async def forward(
        self, key: str, after: int, length: int, max_buckets: int = 2
    ) -> tuple[list[dict[str, Any]], int]:
        """Entries after position `after` (-1: from the start) in order, from at most `max_buckets`
        buckets; also the last position those buckets cover (read on from there)."""
        start = after + 1
        if start >= length:
            return [], length - 1
        first = start // BUCKET
        last = min((length - 1) // BUCKET, first + max_buckets - 1)
        entries = [e for e in await self.buckets(key, range(first, last + 1)) if start <= e["i"] < length]
        return entries, min(length - 1, (last + 1) * BUCKET - 1)

    async def backward(self, key: str, before: int, max_buckets: int = 2) -> tuple[list[dict[str, Any]], int]:
        """Entries before position `before`, newest first, from at most `max_buckets` buckets; also
        the first position those buckets cover (read on from there)."""
        if before <= 0:
            return [], 0
        last = (before - 1) // BUCKET
        first = max(0, last - max_buckets + 1)
        entries = [e for e in reversed(await self.buckets(key, range(first, last + 1))) if e["i"] < before]
        return entries, first * BUCKET

    async def extend(self, key: str, entries: list[dict[str, Any]], *, new_items: int = 0) -> int:
        """Append many entries in one go (`$push $each` per bucket); returns the first position.

        For bulk loads (`haven seed`) into a list nobody else writes meanwhile.
        """
        head = await self.collection.find_one_and_update(
            {"_id": key}, _grow(len(entries), new_items), upsert=True, return_document=ReturnDocument.AFTER
        )
        # An upsert returning the document AFTER the update always has one to return.
        first = int(cast(dict[str, Any], head)["n"]) - len(entries)
        by_bucket: dict[str, list[dict[str, Any]]] = {}
        for offset, entry in enumerate(entries):
            by_bucket.setdefault(bucket_id(key, first + offset), []).append({**entry, "i": first + offset})
        for bucket, items in by_bucket.items():
            await self.collection.update_one({"_id": bucket}, {"$push": {"e": {"$each": items}}}, upsert=True)
        return first


def list_documents(key: str, entries: list[dict[str, Any]], *, items: int | None = None) -> list[dict[str, Any]]:
    """The head and buckets of a new list holding `entries`, for `insert_many` (bulk loads);
    `items`: how many distinct items they name, for a head that counts them."""
    head: dict[str, Any] = {"_id": key, "n": len(entries)}
    if items is not None:
        head |= {"counted": True, "live": items}
    docs: dict[str, dict[str, Any]] = {}
    for position, entry in enumerate(entries):
        docs.setdefault(bucket_id(key, position), {"_id": bucket_id(key, position), "e": []})["e"].append(
            {**entry, "i": position}
        )
    return [head, *docs.values()]
