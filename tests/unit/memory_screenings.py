"""An in-memory stand-in for the worker's `screenings` collection, taking only primary-key queries."""

from __future__ import annotations

from typing import Any

from pymongo import UpdateOne


class MemoryCursor:
    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs

    async def to_list(self, length: int | None) -> list[dict[str, Any]]:
        return self.docs


class MemoryScreenings:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    def find(self, query: dict[str, Any], projection: dict[str, int]) -> MemoryCursor:
        # Only primary keys, `{_id: {$in: [...]}}`: what Haven's FerretDB serves from the _id index.
        assert list(query) == ["_id"] and list(query["_id"]) == ["$in"], query
        return MemoryCursor([{"_id": key} for key in query["_id"]["$in"] if key in self.docs])

    async def update_one(self, query: dict[str, Any], update: dict[str, Any], upsert: bool) -> None:
        self.docs[query["_id"]] = update["$set"]

    async def bulk_write(self, requests: list[UpdateOne], ordered: bool = True) -> None:
        for request in requests:
            # Only primary-key filters, as for reads.
            assert list(request._filter) == ["_id"], request._filter
            self.docs[request._filter["_id"]] = request._doc["$set"]
