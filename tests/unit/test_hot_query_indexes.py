"""Every hot query shape, and the index that serves it on MongoDB (production).

Hot paths read by `_id` wherever they can: FerretDB (local) serves nothing else from an index, and
on MongoDB `_id` is always indexed. The shapes that are not `_id` lookups are listed here with the
index that must serve them; the indexes are the ones the stores' `ensure_indexes` create, recorded
from those calls. A new hot query goes into this table, and the test fails until an index covers it.
"""

from __future__ import annotations

from typing import Any

import pytest

from services.common.identities import IdentityCache
from services.forum.idempotency import IdempotencyRecords
from services.forum.store import ForumStore
from services.moderation.api.store import ModerationStore
from services.notify.store import Inbox

#: (database, collection, equality fields, then the range or sort fields in order, what it is).
#: Equality-only `_id` shapes (every page read model, guarded write and token check) need no entry.
HOT_SHAPES: list[tuple[str, str, tuple[str, ...], tuple[tuple[str, int], ...], str]] = [
    ("forum", "reports", ("reporter_id",), (("created_at", -1),), "a member's reports this hour"),
    (
        "forum",
        "threads",
        ("board_slug", "status"),
        (("last_activity_at", -1), ("_id", -1)),
        "board page before `haven migrate` (fallback)",
    ),
    (
        "forum",
        "posts",
        ("thread_id", "status"),
        (("published_at", 1), ("_id", 1)),
        "thread page before `haven migrate` (fallback)",
    ),
    ("forum", "posts", ("author_id",), (), "erasure: a member's posts"),
    ("forum", "posts", ("reply_quote.post_id",), (), "quotes of a post before the quote sets are built (fallback)"),
    ("forum", "post_revisions", ("post_id",), (), "erasure: old versions"),
    ("notify", "inbox", ("recipient_id",), (("event_key", -1),), "inbox before `haven migrate` (fallback)"),
    ("moderation", "review_items", ("status",), (("level_rank", -1), ("created_at", 1)), "the review queue"),
    ("moderation", "review_open", (), (("r", -1), ("c", 1), ("_id", 1)), "the review queue's page of open items"),
    ("moderation", "review_items", ("post_id",), (), "a post's review items before their sets are built (fallback)"),
    ("moderation", "audit", ("post_id",), (("at", 1),), "a post's audit trail"),
    ("moderation", "audit", ("item_id",), (("at", -1),), "an item's audit trail (the console, on every item opened)"),
    ("moderation", "review_items", ("author_id",), (), "erasure: the member's items lose their words"),
    ("forum", "reactions", ("identity_id",), (), "erasure: the member's reactions"),
    ("forum", "idempotency_keys", (), (("at", 1),), "idempotency keys older than a day are forgotten"),
    ("forum", "threads", ("first_post_id",), (), "erasure: the threads the member opened"),
    (
        "notify",
        "inbox",
        ("post_id", "kind"),
        (),
        "a post deleted: the words of its notifications, before `haven migrate` (fallback)",
    ),
    ("notify", "identity_tokens", ("identity_id",), (), "erasure: every token of the identity (notify)"),
    ("moderation", "identity_tokens", ("identity_id",), (), "erasure: every token of the identity (moderation)"),
    ("moderation", "audit", (), (("at", -1),), "the audit log, newest first"),
]


class RecordingCollection:
    def __init__(self, name: str, indexes: dict[str, list[list[tuple[str, int]]]]) -> None:
        self.name, self._indexes = name, indexes

    async def create_index(self, keys: Any, **_: Any) -> str:
        normalized = [(keys, 1)] if isinstance(keys, str) else [(k, int(d)) for k, d in keys]
        self._indexes.setdefault(self.name, []).append(normalized)
        return self.name


class RecordingDb:
    def __init__(self) -> None:
        self.indexes: dict[str, list[list[tuple[str, int]]]] = {}

    def __getitem__(self, name: str) -> RecordingCollection:
        return RecordingCollection(name, self.indexes)


def _serves(index: list[tuple[str, int]], equal: tuple[str, ...], ordered: tuple[tuple[str, int], ...]) -> bool:
    head, rest = index[: len(equal)], index[len(equal) :]
    if {name for name, _ in head} != set(equal):
        return False
    wanted = list(ordered)
    if not wanted:
        return True
    got = rest[: len(wanted)]
    if [n for n, _ in got] != [n for n, _ in wanted]:
        # MongoDB appends _id to every index entry: a trailing _id sort is served by the index.
        trimmed = [w for w in wanted if w[0] != "_id"] if wanted[-1][0] == "_id" else wanted
        got = rest[: len(trimmed)]
        if [n for n, _ in got] != [n for n, _ in trimmed] or not trimmed:
            return False
        wanted = trimmed
    same = all(g[1] == w[1] for g, w in zip(got, wanted, strict=True))
    reversed_ = all(g[1] == -w[1] for g, w in zip(got, wanted, strict=True))
    return same or reversed_


@pytest.fixture(scope="module")
def indexes() -> dict[str, dict[str, list[list[tuple[str, int]]]]]:
    import asyncio

    async def record() -> dict[str, dict[str, list[list[tuple[str, int]]]]]:
        dbs = {name: RecordingDb() for name in ("forum", "notify", "moderation")}
        await ForumStore(dbs["forum"]).ensure_indexes()  # type: ignore[arg-type]
        await Inbox(dbs["notify"]).ensure_indexes()  # type: ignore[arg-type]
        await ModerationStore(dbs["moderation"]).ensure_indexes()  # type: ignore[arg-type]
        await IdempotencyRecords(dbs["forum"]["idempotency_keys"]).ensure_indexes()  # type: ignore[arg-type]
        for name in ("notify", "moderation"):
            await IdentityCache(dbs[name]["identity_tokens"]).ensure_indexes()  # type: ignore[arg-type]
        return {name: db.indexes for name, db in dbs.items()}

    return asyncio.run(record())


@pytest.mark.parametrize(("db", "collection", "equal", "ordered", "what"), HOT_SHAPES, ids=[s[4] for s in HOT_SHAPES])
def test_each_hot_shape_has_an_index(
    indexes: dict[str, dict[str, list[list[tuple[str, int]]]]],
    db: str,
    collection: str,
    equal: tuple[str, ...],
    ordered: tuple[tuple[str, int], ...],
    what: str,
) -> None:
    candidates = indexes[db].get(collection, [])
    assert any(_serves(index, equal, ordered) for index in candidates), (
        f"{what}: no index on {db}.{collection} serves {equal} then {ordered}; indexes: {candidates}"
    )


def test_the_checker_refuses_an_index_in_the_wrong_order() -> None:
    assert not _serves([("created_at", -1), ("reporter_id", 1)], ("reporter_id",), (("created_at", -1),))
    assert not _serves(
        [("status", 1), ("created_at", 1), ("level_rank", -1)], ("status",), (("level_rank", -1), ("created_at", 1))
    )
    assert _serves(
        [("status", 1), ("level_rank", 1), ("created_at", -1)], ("status",), (("level_rank", -1), ("created_at", 1))
    )
