"""A board's page costs the same however many replies have bumped its threads: each reply moves
its thread to the top of the board's list, and what the page reads must not grow with those
moves. Runs the forum's store against the real FerretDB."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.forum.store import ForumStore
from streams.events import PostScreened, Verdict
from tests.harness import StackUnderTest, throwaway_database

pytestmark = pytest.mark.integration

REPLIES = 700  # eleven buckets of the board's list


@pytest.fixture
async def store(stack: StackUnderTest) -> AsyncIterator[ForumStore]:
    async with throwaway_database(stack, "board_cost") as db:
        yield ForumStore(db)


def _post(post_id: str, thread_id: str, *, first: bool) -> dict[str, Any]:
    return {
        "_id": post_id,
        "thread_id": thread_id,
        "author_id": "a-1",
        "revision": 1,
        "status": "pending",
        "body": "words",
        "is_thread_start": first,
        "pending_body": None,
    }


def _published(post_id: str, thread_id: str, *, first: bool) -> PostScreened:
    return PostScreened(
        post_id=post_id,
        thread_id=thread_id,
        board_slug="general",
        author_id="a-1",
        revision=1,
        kind="new",
        is_thread_start=first,
        body="x",  # type: ignore[arg-type]
        verdict=Verdict(id=post_id, risk="none", action="publish", model_version="test"),  # type: ignore[arg-type]
    )


async def _thread(store: ForumStore) -> str:
    thread_id, post_id = f"t-{uuid.uuid4().hex[:8]}", f"p-{uuid.uuid4().hex[:8]}"
    await store.insert_thread(
        {"_id": thread_id, "board_slug": "general", "status": "pending", "title": "t", "author_id": "a-1"}
    )
    await store.insert_post(_post(post_id, thread_id, first=True))
    await store.apply_screening(_published(post_id, thread_id, first=True))
    return thread_id


async def _replies(store: ForumStore, thread_ids: list[str], count: int) -> None:
    """`count` published replies taking turns among the threads, each fetched alone (a quiet
    night's traffic: every reply moves its thread up the board's list with an entry of its own)."""
    for n in range(count):
        thread_id, post_id = thread_ids[n % len(thread_ids)], f"r-{uuid.uuid4().hex[:10]}"
        await store.insert_post(_post(post_id, thread_id, first=False))
        await store.apply_screening(_published(post_id, thread_id, first=False))


class _CountingReads:
    def __init__(self, store: ForumStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.round_trips = self.entries = 0
        read = store.board_threads.buckets

        async def counted(key: str, numbers: range) -> list[dict[str, Any]]:
            entries = await read(key, numbers)
            self.round_trips += 1
            self.entries += len(entries)
            return entries

        monkeypatch.setattr(store.board_threads, "buckets", counted)


async def test_a_boards_first_page_reads_little_however_often_its_threads_were_bumped(
    store: ForumStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    quiet = await _thread(store)  # listed first, never replied to: its entry is at the bottom
    busy = [await _thread(store) for _ in range(3)]
    await _replies(store, busy, REPLIES)
    reads = _CountingReads(store, monkeypatch)
    page = await store.threads_page("general", None, 50)
    assert [thread["_id"] for thread in page.items] == [busy[0], busy[2], busy[1], quiet]  # 699 % 3 == 0
    assert page.next_cursor is None
    assert reads.entries <= 10, f"read {reads.entries} list entries for 4 threads after {REPLIES} replies"
    assert reads.round_trips <= 6, f"{reads.round_trips} reads of the board's list"


async def test_pages_after_the_first_still_list_every_thread_once_after_many_bumps(store: ForumStore) -> None:
    threads = [await _thread(store) for _ in range(7)]
    await _replies(store, threads[2:5], 300)
    listed: list[str] = []
    cursor = None
    for _ in range(10):
        page = await store.threads_page("general", cursor, 2)
        listed += [thread["_id"] for thread in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    # Replies took turns among threads 2, 3 and 4; the 300th went to thread 4 (299 % 3 == 2).
    assert listed == [threads[4], threads[3], threads[2], threads[6], threads[5], threads[1], threads[0]]


async def test_only_a_list_head_created_with_its_count_claims_one(store: ForumStore) -> None:
    lists = store.board_threads
    await lists.collection.insert_one({"_id": "older", "n": 5})  # a head from before the count
    await lists.append("older", {"t": "x", "a": 1}, new_item=True)
    await lists.append("newer", {"t": "x", "a": 1}, new_item=True)
    await lists.append("newer", {"t": "x", "a": 2})
    await lists.append_many("newer", [{"t": "y", "a": 3}, {"t": "z", "a": 3}], new_items=2)
    older, newer = await lists.head("older"), await lists.head("newer")
    assert older is not None and (older.length, older.items) == (6, None)
    assert newer is not None and (newer.length, newer.items) == (4, 3)
