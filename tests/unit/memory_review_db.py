"""An in-memory stand-in for the review desk's database, with just enough of MongoDB's queries for
the store's decide and re-alert paths (and the inbox's deleted-post path), and a way to make a call
fail like a database going away."""

from __future__ import annotations

from typing import Any

from pymongo import UpdateOne
from pymongo.errors import AutoReconnect, DuplicateKeyError
from pymongo.results import UpdateResult

from services.common.pk_guard import GuardedUpdates
from services.moderation.api.store import ModerationStore
from tests.unit.test_pk_lists import PrimaryKeyOnlyCollection


class MemoryCursor:
    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs

    def limit(self, n: int) -> MemoryCursor:
        return MemoryCursor(self.docs[:n])

    def sort(self, keys: list[tuple[str, int]]) -> MemoryCursor:
        docs = list(self.docs)
        for name, direction in reversed(keys):
            docs.sort(key=lambda doc: doc[name], reverse=direction < 0)
        return MemoryCursor(docs)

    def __aiter__(self) -> Any:
        return self._each()

    async def _each(self) -> Any:
        for doc in self.docs:
            yield doc

    async def to_list(self, length: int | None) -> list[dict[str, Any]]:
        return self.docs


class MemoryCollection:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self._calls: dict[str, int] = {}
        self._failing: dict[str, set[int]] = {}

    def fail(self, method: str, *, call: int) -> None:
        """The `call`-th call (from 1) of `method` raises as if the database went away."""
        self._failing.setdefault(method, set()).add(call)

    def _called(self, method: str) -> None:
        self._calls[method] = self._calls.get(method, 0) + 1
        if self._calls[method] in self._failing.get(method, set()):
            raise AutoReconnect("the database went away")

    async def find_one(self, query: dict[str, Any], projection: Any = None) -> dict[str, Any] | None:
        self._called("find_one")
        return next((dict(doc) for doc in self.docs.values() if matches(doc, query)), None)

    def find(self, query: dict[str, Any], projection: Any = None) -> MemoryCursor:
        self._called("find")
        return MemoryCursor([dict(doc) for doc in self.docs.values() if matches(doc, query)])

    async def insert_one(self, doc: dict[str, Any]) -> None:
        self._called("insert_one")
        if doc["_id"] in self.docs:
            raise DuplicateKeyError(f"duplicate _id {doc['_id']}")
        self.docs[doc["_id"]] = dict(doc)

    async def find_one_and_update(
        self, query: dict[str, Any], update: dict[str, Any], **_: Any
    ) -> dict[str, Any] | None:
        self._called("find_one_and_update")
        doc = next((doc for doc in self.docs.values() if matches(doc, query)), None)
        if doc is None:
            return None
        _apply(doc, update, inserted=False)
        return dict(doc)

    async def update_one(self, query: dict[str, Any], update: dict[str, Any], upsert: bool = False) -> UpdateResult:
        self._called("update_one")
        for doc in self.docs.values():
            if matches(doc, query):
                _apply(doc, update, inserted=False)
                return UpdateResult({"n": 1, "nModified": 1}, acknowledged=True)
        if upsert:
            self.docs[query["_id"]] = doc = {"_id": query["_id"]}
            _apply(doc, update, inserted=True)
            return UpdateResult({"n": 1, "nModified": 0, "upserted": query["_id"]}, acknowledged=True)
        return UpdateResult({"n": 0, "nModified": 0}, acknowledged=True)

    async def update_many(self, query: dict[str, Any], update: dict[str, Any]) -> None:
        self._called("update_many")
        for doc in self.docs.values():
            if matches(doc, query):
                _apply(doc, update, inserted=False)

    async def bulk_write(self, requests: list[UpdateOne], ordered: bool = True) -> None:
        self._called("bulk_write")
        for request in requests:
            await self.update_one(request._filter, request._doc, request._upsert)

    async def delete_one(self, query: dict[str, Any]) -> None:
        self._called("delete_one")
        doc = self.docs.get(query["_id"])
        if doc is not None and matches(doc, query):
            del self.docs[query["_id"]]


class MemoryReviewDb:
    def __init__(self) -> None:
        self.collections: dict[str, Any] = {"audit_trails": PrimaryKeyOnlyCollection()}

    def __getitem__(self, name: str) -> Any:
        return self.collections.setdefault(name, MemoryCollection())


def review_store(db: MemoryReviewDb) -> ModerationStore:
    """The store over this stand-in, which answers MongoDB's guarded filters as MongoDB does."""
    return ModerationStore(db, guarded=GuardedUpdates(server_has_indexed_filters=True))  # type: ignore[arg-type]


def matches(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    """Equality (None also matching a missing field), dotted paths, $in/$lt/$lte, $or and $and."""
    for key, condition in query.items():
        if key == "$or":
            if not any(matches(doc, alternative) for alternative in condition):
                return False
        elif key == "$and":
            if not all(matches(doc, part) for part in condition):
                return False
        elif not _holds(_field(doc, key), condition):
            return False
    return True


def _apply(doc: dict[str, Any], update: dict[str, Any], *, inserted: bool) -> None:
    """$set (also of dotted paths), $setOnInsert, $push, $max and $addToSet (with $each) on top-level fields."""
    for op, fields in update.items():
        for name, value in fields.items():
            if op == "$set" and "." in name:
                *parents, last = name.split(".")
                inner = doc
                for part in parents:
                    inner = inner.setdefault(part, {})
                inner[last] = value
            elif op == "$set" or (op == "$setOnInsert" and inserted):
                doc[name] = value
            elif op == "$push":
                doc.setdefault(name, []).append(value)
            elif op == "$max":
                doc[name] = value if doc.get(name) is None else max(doc[name], value)
            elif op == "$addToSet":
                added = value["$each"] if isinstance(value, dict) and "$each" in value else [value]
                doc.setdefault(name, []).extend(v for v in added if v not in doc[name])
            elif op != "$setOnInsert":
                raise AssertionError(f"{op} is not in this stand-in's update language")


def _field(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _holds(value: Any, condition: Any) -> bool:
    if not isinstance(condition, dict) or not all(op.startswith("$") for op in condition):
        return bool(value == condition)
    for op, operand in condition.items():
        if op == "$in":
            ok = value in operand
        elif op == "$lt":
            ok = value is not None and value < operand
        elif op == "$lte":
            ok = value is not None and value <= operand
        else:
            raise AssertionError(f"{op} is not in this stand-in's query language")
        if not ok:
            return False
    return True
