"""An in-memory stand-in for the few PyMongo collection calls the forum's store makes, with a
database that can go away in the middle of a request (AutoReconnect, as a dropped connection)."""

from __future__ import annotations

import copy
from typing import Any

from pymongo.errors import AutoReconnect, DuplicateKeyError

Doc = dict[str, Any]


def _get(doc: Doc, path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _matches(doc: Doc, query: Doc) -> bool:
    for path, wanted in query.items():
        value = _get(doc, path)
        if isinstance(wanted, dict) and wanted and all(key.startswith("$") for key in wanted):
            for op, arg in wanted.items():
                if op == "$in" and value not in arg:
                    return False
                if op == "$nin" and value in arg:
                    return False
                if op == "$ne" and value == arg:
                    return False
        elif value != wanted:
            return False
    return True


def _set(doc: Doc, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        doc = doc.setdefault(part, {})
    doc[last] = value


def _apply(doc: Doc, update: Doc, *, inserting: bool) -> None:
    for path, value in update.get("$set", {}).items():
        _set(doc, path, copy.deepcopy(value))
    for path, by in update.get("$inc", {}).items():
        _set(doc, path, (_get(doc, path) or 0) + by)
    if inserting:
        for path, value in update.get("$setOnInsert", {}).items():
            _set(doc, path, copy.deepcopy(value))


class _Found:
    def __init__(self, docs: list[Doc]) -> None:
        self._docs = docs

    async def to_list(self, length: int | None) -> list[Doc]:
        return self._docs


class MemoryCollection:
    def __init__(self, name: str, db: MemoryDatabase) -> None:
        self.name, self._db = name, db
        self.docs: dict[Any, Doc] = {}

    def _all(self, query: Doc) -> list[Doc]:
        return [doc for doc in self.docs.values() if _matches(doc, query)]

    async def find_one(self, query: Doc, projection: Any = None) -> Doc | None:
        found = self._all(query)
        return copy.deepcopy(found[0]) if found else None

    def find(self, query: Doc, projection: Any = None) -> _Found:
        return _Found(copy.deepcopy(self._all(query)))

    async def count_documents(self, query: Doc) -> int:
        return len(self._all(query))

    async def insert_one(self, doc: Doc) -> None:
        self._db.write(self.name)
        if doc["_id"] in self.docs:
            raise DuplicateKeyError(f"duplicate key in {self.name}")
        self.docs[doc["_id"]] = copy.deepcopy(doc)

    async def update_one(self, query: Doc, update: Doc, upsert: bool = False) -> None:
        self._db.write(self.name)
        found = self._all(query)
        if found:
            _apply(found[0], update, inserting=False)
        elif upsert:
            doc = {key: value for key, value in query.items() if not isinstance(value, dict)}
            _apply(doc, update, inserting=True)
            self.docs[doc["_id"]] = doc

    async def update_many(self, query: Doc, update: Doc) -> None:
        self._db.write(self.name)
        for doc in self._all(query):
            _apply(doc, update, inserting=False)

    async def delete_one(self, query: Doc) -> None:
        self._db.write(self.name)
        for doc in self._all(query)[:1]:
            del self.docs[doc["_id"]]

    async def delete_many(self, query: Doc) -> None:
        self._db.write(self.name)
        for doc in self._all(query):
            del self.docs[doc["_id"]]

    async def find_one_and_delete(self, query: Doc) -> Doc | None:
        self._db.write(self.name)
        found = self._all(query)
        return self.docs.pop(found[0]["_id"]) if found else None


class MemoryDatabase:
    def __init__(self) -> None:
        self.collections: dict[str, MemoryCollection] = {}
        self._writes_before_failure: int | None = None
        self._failing_collections: set[str] | None = None

    def __getitem__(self, name: str) -> MemoryCollection:
        return self.collections.setdefault(name, MemoryCollection(name, self))

    def goes_away_after(self, writes: int, *, in_collections: set[str] | None = None) -> None:
        """The write after `writes` more writes (to these collections, or to any) fails, once."""
        self._writes_before_failure = writes
        self._failing_collections = in_collections

    def write(self, collection: str) -> None:
        if self._writes_before_failure is None:
            return
        if self._failing_collections is not None and collection not in self._failing_collections:
            return
        if self._writes_before_failure == 0:
            self._writes_before_failure = None
            raise AutoReconnect("the database went away")
        self._writes_before_failure -= 1
