"""An author's deletion reaches every copy of the words by primary key: on FerretDB any other
filter reads every post ever written (10 s a deletion at 100,000 posts). Runs the forum's store
against the real FerretDB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.forum.store import REMOVED_TITLE, ForumStore
from streams.events import PostScreened, Verdict
from tests.harness import StackUnderTest, throwaway_database

pytestmark = pytest.mark.integration

WORDS = "I told my boss about the drinking today"


class FilterLog:
    """Passes every call to the collection and keeps the filters it was given."""

    def __init__(self, collection: Any, filters: list[tuple[str, dict[str, Any]]]) -> None:
        self._collection, self._filters = collection, filters

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._collection, name)

        def logged(*args: Any, **kwargs: Any) -> Any:
            if args and isinstance(args[0], dict):
                self._filters.append((f"{self._collection.name}.{name}", args[0]))
            return method(*args, **kwargs)

        return logged


def _by_key(query: dict[str, Any]) -> bool:
    key = query.get("_id")
    return list(query) == ["_id"] and (isinstance(key, str) or (isinstance(key, dict) and list(key) == ["$in"]))


@pytest.fixture
async def store(stack: StackUnderTest) -> AsyncIterator[ForumStore]:
    async with throwaway_database(stack, "deletion_by_key") as db:
        yield ForumStore(db)


async def _published(store: ForumStore, post: dict[str, Any]) -> None:
    await store.insert_post({"author_id": "m-1", "revision": 1, "status": "pending", "pending_body": None} | post)
    await store.apply_screening(
        PostScreened(
            post_id=post["_id"],
            thread_id=post["thread_id"],
            board_slug="general",
            author_id="m-1",
            is_thread_start=post["is_thread_start"],
            body="x",
            verdict=Verdict(id=post["_id"], risk="none", action="publish", model_version="test"),  # type: ignore[arg-type]
        )
    )


async def test_deleting_a_thread_start_quoted_in_a_live_reply_goes_by_key_and_leaves_no_copy(
    store: ForumStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.insert_thread(
        {"_id": "t-1", "board_slug": "general", "status": "pending", "title": "Day one, " + WORDS, "author_id": "m-1"}
    )
    await _published(store, {"_id": "p-1", "thread_id": "t-1", "body": WORDS, "is_thread_start": True})
    await store.revisions.insert_one({"_id": "p-1:1", "post_id": "p-1", "revision": 1, "body": WORDS})
    await store.posts.update_one({"_id": "p-1"}, {"$set": {"revision": 2}})
    await store.quotes.build(store.posts)  # as at start-up: none stored yet
    await store.note_quote("p-1", "p-2")
    quote = {"post_id": "p-1", "author_handle": "Calm Otter", "excerpt": WORDS}
    await _published(store, {"_id": "p-2", "thread_id": "t-1", "body": "Proud of you.", "is_thread_start": False})
    await store.posts.update_one({"_id": "p-2"}, {"$set": {"reply_quote": quote}})

    as_read = await store.post("p-1")
    assert as_read is not None
    filters: list[tuple[str, dict[str, Any]]] = []
    for name in ("posts", "revisions", "threads"):
        monkeypatch.setattr(store, name, FilterLog(getattr(store, name), filters))
    await store.delete_post_by_author(as_read)

    searches = [(call, query) for call, query in filters if not _by_key(query)]
    assert searches == [], "each of these reads every document on FerretDB"
    deleted, reply = await store.post("p-1"), await store.post("p-2")
    assert deleted is not None and reply is not None
    assert (deleted["status"], deleted["body"], deleted["deletion_complete"]) == ("deleted", None, True)
    assert reply["reply_quote"] == {"post_id": "p-1", "author_handle": None, "excerpt": None, "removed": True}
    assert await store.revisions.find_one({"_id": "p-1:1"}) is None
    thread = await store.thread("t-1")
    assert thread is not None and (thread["title"], thread["status"]) == (REMOVED_TITLE, "published"), (
        "the reply still lives in it"
    )
