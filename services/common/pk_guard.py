"""Guarded single-document updates that cost one primary-key lookup on every MongoDB-wire server.

A guarded update ("set published, if this post is still pending at revision 3") is written in
MongoDB as `find_one_and_update({_id, revision, status}, ...)`: atomic, and served by the `_id`
index. FerretDB 1.24 on SQLite uses an index only for a filter of exactly `{_id: value}`
(`internal/backends/sqlite/collection.go`), so there the same call reads the whole collection,
and a verdict's cost grows with the forum. FerretDB does not make it atomic either: its update
is a query followed by a write of what matched, with no transaction between them
(`internal/handler/msg_update.go`, `msg_findandmodify.go`).

So `GuardedUpdates` asks the server once what it is. On MongoDB it sends the guarded filter as
is. On FerretDB it reads the document by `_id`, checks the guard here, and writes by `_id` alone:
two primary-key hits, with the same read-then-write window FerretDB's own guarded update has.
Writers that must not interleave are kept apart upstream as well (a thread's post events share
one partition, so one consumer applies them in order).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

_SUPPORTED = frozenset({"$in", "$nin", "$ne", "$eq"})


def matches(doc: Mapping[str, Any], guard: Mapping[str, Any]) -> bool:
    """Whether a document satisfies a guard of equality, `$eq`, `$ne`, `$in` and `$nin` conditions.

    A missing field reads as None, as in MongoDB's equality on null. A dotted name reads through
    embedded documents and arrays as MongoDB does: `{"reports.report_id": {"$ne": r}}` holds when no
    report has that id. Raises ValueError for any other operator, so a guard this cannot check is
    never silently treated as met.
    """
    for name, wanted in guard.items():
        values = _values_at(doc, name)
        if isinstance(wanted, Mapping) and wanted and all(str(k).startswith("$") for k in wanted):
            unknown = set(wanted) - _SUPPORTED
            if unknown:
                raise ValueError(f"guard operator not supported: {sorted(unknown)}")
            if "$eq" in wanted and wanted["$eq"] not in values:
                return False
            if "$ne" in wanted and wanted["$ne"] in values:
                return False
            if "$in" in wanted and not any(value in wanted["$in"] for value in values):
                return False
            if "$nin" in wanted and any(value in wanted["$nin"] for value in values):
                return False
        elif wanted not in values:
            return False
    return True


def _values_at(doc: Mapping[str, Any], name: str) -> list[Any]:
    """The values a (dotted) field name reaches; [None] when it reaches none."""
    values: list[Any] = [doc]
    for part in name.split("."):
        reached: list[Any] = []
        for value in values:
            if isinstance(value, Mapping):
                reached.append(value.get(part))
            elif isinstance(value, list):
                reached += [element.get(part) for element in value if isinstance(element, Mapping)]
        values = reached
    return values or [None]


class GuardedUpdates:
    """Guarded updates by `_id`; see the module docstring. One per database client.

    `server_has_indexed_filters` is asked of the server on first use unless given (tests pass it).
    """

    def __init__(self, server_has_indexed_filters: bool | None = None) -> None:
        self._indexed = server_has_indexed_filters

    async def _filters_use_indexes(self, collection: AsyncCollection[dict[str, Any]]) -> bool:
        if self._indexed is None:
            info = await collection.database.client.admin.command("buildInfo")
            # FerretDB answers buildInfo with its own version beside the MongoDB one it imitates.
            self._indexed = "ferretdbVersion" not in info
        return self._indexed

    async def find_one_and_update(
        self,
        collection: AsyncCollection[dict[str, Any]],
        doc_id: str,
        guard: Mapping[str, Any],
        update: Mapping[str, Any],
    ) -> dict[str, Any] | None:
        """The document after `update`, or None when there is no such document or the guard fails.

        Idempotency is the caller's: the guard is what makes a repeated call change nothing.
        Raises what the driver raises.
        """
        if await self._filters_use_indexes(collection):
            return await collection.find_one_and_update(
                {"_id": doc_id, **guard}, dict(update), return_document=ReturnDocument.AFTER
            )
        current = await collection.find_one({"_id": doc_id})
        if current is None or not matches(current, guard):
            return None
        return await collection.find_one_and_update({"_id": doc_id}, dict(update), return_document=ReturnDocument.AFTER)

    async def update_one(
        self,
        collection: AsyncCollection[dict[str, Any]],
        doc_id: str,
        guard: Mapping[str, Any],
        update: Mapping[str, Any],
    ) -> bool:
        """True when the document exists, met the guard and was written."""
        return await self.find_one_and_update(collection, doc_id, guard, update) is not None

    async def write_checked(
        self,
        collection: AsyncCollection[dict[str, Any]],
        writes: list[tuple[str, Mapping[str, Any], Mapping[str, Any]]],
    ) -> list[bool]:
        """Guarded writes `(doc_id, guard, update)` whose guards the caller has just checked on the
        documents it read; which of them were written.

        For a batch: on MongoDB each write carries its guard (atomic, `_id` index), so one whose
        document changed since the read is left alone. On FerretDB all go by `_id` in one bulk
        command, with the read-then-write window `find_one_and_update` has there; should any
        document have gone meanwhile, every write of the batch reports False and the caller goes
        on one by one (the writes it repeats are idempotent).
        """
        if not writes:
            return []
        if await self._filters_use_indexes(collection):
            results = await asyncio.gather(
                *(collection.update_one({"_id": doc_id, **guard}, dict(update)) for doc_id, guard, update in writes)
            )
            return [result.matched_count == 1 for result in results]
        result = await collection.bulk_write(
            [UpdateOne({"_id": doc_id}, dict(update)) for doc_id, _, update in writes], ordered=False
        )
        return [result.matched_count == len(writes)] * len(writes)
