"""`haven migrate` lists data written before the page read models existed, and is idempotent."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.common.mongo import create_mongo_client
from services.common.tokens import hash_token, new_token
from services.forum.page_lists import build_page_lists
from services.forum.store import ForumStore
from tests.harness import REPO_ROOT, StackUnderTest

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def legacy(stack: StackUnderTest) -> AsyncIterator[tuple[ForumStore, str]]:
    prefix = f"migrate_{uuid.uuid4().hex[:8]}_"
    settings = stack.settings.with_overrides(db_prefix=prefix)
    client = create_mongo_client(settings)
    store = ForumStore(client[settings.database_name("forum")])
    await store.ensure_indexes()

    def post(pid: str, thread: str, minute: int, status: str = "published") -> dict[str, Any]:
        return {
            "_id": pid,
            "thread_id": thread,
            "board_slug": "alcohol",
            "author_id": "m1",
            "author_handle": "Old1",
            "body": f"old words {pid}",
            "status": status,
            "revision": 1,
            "is_thread_start": pid.endswith("0"),
            "reply_to": None,
            "created_at": T0,
            "published_at": T0 + timedelta(minutes=minute) if status == "published" else None,
            "reactions": {"hug": 0, "strength": 0, "me_too": 0},
            "resources": [],
        }

    await store.posts.insert_many(
        [
            post("a0", "A", 1),
            post("a1", "A", 5),
            post("a2", "A", 3),
            post("a3", "A", 4, status="held"),
            post("b0", "B", 2),
            post("b1", "B", 9),
            post("c0", "C", 6, status="removed"),
        ]
    )
    await store.threads.insert_many(
        [
            {
                "_id": t,
                "board_slug": "alcohol",
                "title": f"Thread {t}",
                "author_id": "m1",
                "first_post_id": f"{t.lower()}0",
                "status": "removed" if t == "C" else "published",
                "created_at": T0,
                "last_activity_at": T0 + timedelta(minutes=m),
            }
            for t, m in (("A", 5), ("B", 9), ("C", 6))
        ]
    )
    yield store, prefix
    for name in ("forum", "notify"):  # `haven migrate` also lists the (empty) inbox
        await client.drop_database(settings.database_name(name))
    await client.close()


async def _thread_ids(store: ForumStore, thread: str, limit: int) -> list[str]:
    ids, cursor = [], None
    while True:
        page = await store.published_posts_page(thread, cursor, limit)
        ids += [p["_id"] for p in page.items]
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


async def test_old_posts_and_threads_are_listed_in_order_once(legacy: tuple[ForumStore, str]) -> None:
    store, _ = legacy
    counts = await build_page_lists(store)
    assert counts == {"threads": 2, "boards": 1, "posts": 5}
    assert await store.thread_posts.length("A") == 3  # read from the list, not the query
    assert await _thread_ids(store, "A", limit=2) == ["a0", "a2", "a1"]
    assert [t["_id"] for t in (await store.threads_page("alcohol", None, 10)).items] == ["B", "A"]
    assert await build_page_lists(store) == {"threads": 0, "boards": 0, "posts": 0}  # ran before: skipped


async def test_running_it_again_changes_nothing(legacy: tuple[ForumStore, str], stack: StackUnderTest) -> None:
    store, prefix = legacy
    await build_page_lists(store)
    lists_before = await store.thread_posts.collection.find({}).sort("_id").to_list(None)
    env = {**os.environ, "HAVEN_DB_PREFIX": prefix}
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "migrate", "--force"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "page lists of 2 threads and 1 boards; 0 posts given their place" in done.stdout
    assert await store.thread_posts.collection.find({}).sort("_id").to_list(None) == lists_before
    assert await _thread_ids(store, "A", limit=1) == ["a0", "a2", "a1"]
    assert [t["_id"] for t in (await store.threads_page("alcohol", None, 1)).items] == ["B"]


async def test_an_identity_made_before_token_links_keeps_working_and_a_made_up_token_is_not_searched_for(
    legacy: tuple[ForumStore, str],
) -> None:
    store, _ = legacy
    token_hash = hash_token(new_token())
    await store.identities.insert_one({"_id": "m-old", "handle": "Old1", "token_hash": token_hash, "created_at": T0})
    assert await store.link_every_token() == 1
    assert await store.tokens.find_one({"_id": token_hash}) == {"_id": token_hash, "identity_id": "m-old"}
    assert (await store.identity_by_token_hash(token_hash) or {}).get("_id") == "m-old"

    await store.identities.insert_one({"_id": "m-unlinked", "token_hash": "h-unlinked", "created_at": T0})
    assert await store.identity_by_token_hash("h-unlinked") is None, "after the migration only links are read"
    restarted = ForumStore(store.db)
    assert await restarted.link_every_token() == 0, "once per database"
    assert restarted.every_token_linked


class _ReadsEverything:
    def find(self, *_: Any, **__: Any) -> None:
        raise AssertionError("a page with no list read the whole collection")


async def test_once_built_a_board_or_thread_with_no_list_is_empty_without_reading_every_thread(
    legacy: tuple[ForumStore, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = legacy
    before = await store.threads_page("alcohol", None, 10)
    assert [t["_id"] for t in before.items] == ["B", "A"], "old data is read with the query until the build"
    await build_page_lists(store)
    monkeypatch.setattr(store, "threads", _ReadsEverything())
    monkeypatch.setattr(store, "posts", _ReadsEverything())
    # Every visit to an empty board cost a read of every thread on FerretDB (1.5 s at 50,000).
    assert (await store.threads_page("gambling", None, 50)).items == []
    assert (await store.published_posts_page("a-thread-still-pending", None, 50)).items == []
