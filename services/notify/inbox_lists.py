"""Each recipient's inbox as a list read by primary key (see services/common/pk_lists.py).

Entries are `{n: notification id, k: event key}` in the order the items were stored, which is
event-key order per notify instance (the key starts with the time it was stored). A page is the
head and one or two buckets per recipient, then the items by `_id`; a cursor (an event key) is
found by a binary search over the buckets, a few primary-key reads however long the inbox is.

Items stored before the lists existed are listed by `build`, which `haven migrate` runs and the
notify service runs at start-up when it has not run yet. Until it has, `ready` is False and the
inbox answers with its queries.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.common.pk_lists import BUCKET, PkList, list_documents

MARKER_ID = "inbox_lists"


class InboxLists:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._db = db
        self.lists = PkList(db["inbox_lists"])
        self._ready = False

    async def ready(self) -> bool:
        if not self._ready:
            self._ready = await self._db["migrations"].find_one({"_id": MARKER_ID}) is not None
        return self._ready

    async def add(self, item: dict[str, Any]) -> None:
        await self.lists.append(item["recipient_id"], {"n": item["_id"], "k": item["event_key"]})

    async def add_many(self, items: list[dict[str, Any]]) -> None:
        """Add items, in order: one append per recipient, recipients side by side."""
        by_recipient: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            by_recipient.setdefault(item["recipient_id"], []).append({"n": item["_id"], "k": item["event_key"]})
        await asyncio.gather(*(self.lists.append_many(r, entries) for r, entries in by_recipient.items()))

    async def _bucket(self, key: str, number: int) -> list[dict[str, Any]]:
        return await self.lists.buckets(key, range(number, number + 1))

    async def _first_bucket_past(self, key: str, buckets: int, event_key: str) -> int:
        """The first bucket holding an entry with a key above `event_key` (`buckets` if none)."""
        low, high = 0, buckets
        while low < high:
            middle = (low + high) // 2
            entries = await self._bucket(key, middle)
            if entries and max(e["k"] for e in entries) > event_key:
                high = middle
            else:
                low = middle + 1
        return low

    async def newest(self, recipient: str, below: str | None, want: int) -> list[dict[str, Any]]:
        """Up to `want` entries with keys below `below` (all if None), newest first."""
        length = await self.lists.length(recipient)
        if not length:
            return []
        buckets = -(-length // BUCKET)
        last = (
            buckets - 1 if below is None else min(buckets - 1, await self._first_bucket_past(recipient, buckets, below))
        )
        found: list[dict[str, Any]] = []
        for number in range(last, -1, -1):
            entries = await self._bucket(recipient, number)
            found += sorted((e for e in entries if below is None or e["k"] < below), key=lambda e: e["k"], reverse=True)
            if len(found) >= want:
                break
        return found[:want]

    async def oldest_after(self, recipient: str, above: str, want: int) -> list[dict[str, Any]]:
        """Up to `want` entries with keys above `above`, oldest first."""
        length = await self.lists.length(recipient)
        if not length:
            return []
        buckets = -(-length // BUCKET)
        found: list[dict[str, Any]] = []
        for number in range(await self._first_bucket_past(recipient, buckets, above), buckets):
            entries = await self._bucket(recipient, number)
            found += sorted((e for e in entries if e["k"] > above), key=lambda e: e["k"])
            if len(found) >= want:
                break
        return found[:want]

    async def every_id(self, recipient: str) -> list[str]:
        """Every notification id listed for the recipient (cost grows with their inbox only)."""
        ids, _ = await self.ids_from(recipient, 0)
        return ids

    async def ids_from(self, recipient: str, start: int) -> tuple[list[str], int]:
        """The ids listed at positions from `start` on, and the position after the last one read."""
        length = await self.lists.length(recipient) or 0
        ids: list[str] = []
        upto = start
        for number in range(start // BUCKET, -(-length // BUCKET)):
            for entry in await self._bucket(recipient, number):
                if entry["i"] >= start:
                    ids.append(entry["n"])
                    upto = max(upto, entry["i"] + 1)
        return ids, upto

    async def all_read_before(self, recipient: str) -> int:
        """The position below which every listed item was marked read by "mark all read"."""
        head = await self.lists.collection.find_one({"_id": recipient})
        return int(head.get("all_read_before", 0)) if head else 0

    async def note_all_read_before(self, recipient: str, position: int) -> None:
        await self.lists.collection.update_one({"_id": recipient}, {"$max": {"all_read_before": position}})

    async def drop(self, recipient: str) -> None:
        length = await self.lists.length(recipient) or 0
        for number in range(-(-length // BUCKET)):
            await self.lists.collection.delete_one({"_id": f"{recipient}/{number}"})
        await self.lists.collection.delete_one({"_id": recipient})

    async def build(self, items: AsyncCollection[dict[str, Any]], *, force: bool = False) -> int:
        """List every stored item (whole lists replaced: idempotent); returns how many recipients."""
        if not force and await self.ready():
            return 0
        by_recipient: dict[str, list[tuple[str, str]]] = {}
        async for item in items.find({}, {"recipient_id": 1, "event_key": 1}):
            by_recipient.setdefault(item["recipient_id"], []).append((item["event_key"], item["_id"]))
        for recipient, keyed in by_recipient.items():
            keyed.sort()
            await self.drop(recipient)
            docs = list_documents(recipient, [{"n": n, "k": k} for k, n in keyed])
            for doc in docs:
                await self.lists.collection.replace_one({"_id": doc["_id"]}, doc, upsert=True)
        await self._db["migrations"].update_one({"_id": MARKER_ID}, {"$set": {"at": datetime.now(UTC)}}, upsert=True)
        self._ready = True
        return len(by_recipient)


#: Entries read beyond a page: several notify instances may list one notification more than once
#: (each stores it; the loser of the insert lists it again when it finds it not yet listed).
SLACK = 8


def merge_newest(per_recipient: list[list[dict[str, Any]]], want: int) -> list[dict[str, Any]]:
    return _unique(heapq.merge(*per_recipient, key=lambda e: e["k"], reverse=True), want)


def merge_oldest(per_recipient: list[list[dict[str, Any]]], want: int) -> list[dict[str, Any]]:
    return _unique(heapq.merge(*per_recipient, key=lambda e: e["k"]), want)


def _unique(entries: Iterable[dict[str, Any]], want: int) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for entry in entries:
        if entry["n"] not in seen:
            seen.add(entry["n"])
            out.append(entry)
            if len(out) == want:
                break
    return out
