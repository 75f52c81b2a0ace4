"""A fetched batch of verdicts, applied together, leaves the forum as applying them one by one
would: same statuses, same thread and board pages, same order. Runs against the real FerretDB."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.forum.store import ForumStore
from streams.events import PostScreened, Verdict
from tests.harness import StackUnderTest, throwaway_database

pytestmark = pytest.mark.integration

RISK = {"publish": "none", "hold": "high"}


@pytest.fixture
async def stores(stack: StackUnderTest) -> AsyncIterator[tuple[ForumStore, ForumStore]]:
    async with throwaway_database(stack, "batch") as first, throwaway_database(stack, "batch") as second:
        yield ForumStore(first), ForumStore(second)


def _forum_events() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[PostScreened]]:
    """Two threads on one board: each a first post and replies, one reply held, one a redelivery."""
    threads, posts, events = [], [], []
    for t in range(2):
        thread_id = f"t{t}-{uuid.uuid4().hex[:6]}"
        threads.append(
            {
                "_id": thread_id,
                "board_slug": "general",
                "status": "pending",
                "title": f"Night {t}",
                "author_id": f"a-{t}",
            }
        )
        for n in range(5):
            post_id = f"{thread_id}-p{n}"
            posts.append(
                {
                    "_id": post_id,
                    "thread_id": thread_id,
                    "author_id": f"a-{n}",
                    "revision": 1,
                    "status": "pending",
                    "body": f"post {n}",
                    "is_thread_start": n == 0,
                    "pending_body": None,
                }
            )
            action = "hold" if n == 3 else "publish"
            events.append(
                PostScreened(
                    post_id=post_id,
                    thread_id=thread_id,
                    board_slug="general",
                    author_id=f"a-{n}",
                    revision=1,
                    kind="new",
                    is_thread_start=n == 0,
                    body="x",
                    verdict=Verdict.model_validate(
                        {"id": post_id, "risk": RISK[action], "action": action, "model_version": "test"}
                    ),
                )
            )
    return threads, posts, events


async def _forum(store: ForumStore, threads: list[dict[str, Any]], posts: list[dict[str, Any]]) -> None:
    for thread in threads:
        await store.insert_thread(dict(thread))
    for post in posts:
        await store.insert_post(dict(post))


async def _seen(store: ForumStore, threads: list[dict[str, Any]], posts: list[dict[str, Any]]) -> dict[str, object]:
    board = await store.threads_page("general", None, 50)
    pages = {
        t["_id"]: [p["_id"] for p in (await store.published_posts_page(t["_id"], None, 50)).items] for t in threads
    }
    statuses = {p["_id"]: (await store.post(p["_id"]) or {})["status"] for p in posts}
    thread_statuses = {t["_id"]: (await store.thread(t["_id"]) or {})["status"] for t in threads}
    return {
        "board": sorted(t["_id"] for t in board.items),
        "pages": pages,
        "posts": statuses,
        "threads": thread_statuses,
    }


async def test_a_batch_leaves_the_forum_as_one_by_one_would(stores: tuple[ForumStore, ForumStore]) -> None:
    one_by_one, batched = stores
    threads, posts, events = _forum_events()
    for store in stores:
        await _forum(store, threads, posts)
    # Thread starts first (they make the threads visible), then the replies, as the worker emits them.
    for event in events:
        await one_by_one.apply_screening(event)
    starts = [e for e in events if e.is_thread_start]
    await batched.apply_screenings(starts)
    applied = await batched.apply_screenings([e for e in events if not e.is_thread_start])

    expected = await _seen(one_by_one, threads, posts)
    assert await _seen(batched, threads, posts) == expected
    assert expected["pages"][threads[0]["_id"]] == [f"{threads[0]['_id']}-p{n}" for n in (0, 1, 2, 4)]
    published_reply = applied[events[1].event_id]
    assert published_reply.post is not None and published_reply.post["thread_pos"] == 1
    assert published_reply.thread is not None and published_reply.thread["author_id"] == "a-0"
    held_reply = applied[events[3].event_id]
    assert held_reply.post is not None and held_reply.post["status"] == "held"


async def test_a_redelivered_batch_changes_nothing_and_lists_nothing_twice(
    stores: tuple[ForumStore, ForumStore],
) -> None:
    store, _ = stores
    threads, posts, events = _forum_events()
    await _forum(store, threads, posts)
    await store.apply_screenings(events)
    first = await _seen(store, threads, posts)
    again = await store.apply_screenings(events)
    assert await _seen(store, threads, posts) == first
    # What a redelivery returns lets the materializer re-send the same notices (same ids).
    assert all(a.post is not None for a in again.values())


async def test_an_approval_that_came_before_its_verdict_stands_in_a_batch(
    stores: tuple[ForumStore, ForumStore],
) -> None:
    store, _ = stores
    threads, posts, events = _forum_events()
    await _forum(store, threads, posts)
    held = events[3]
    await store.apply_decision(held.post_id, 1, "approve", "")
    await store.apply_screenings(events)
    assert (await store.post(held.post_id) or {})["status"] == "published"
    page = await store.published_posts_page(held.thread_id, None, 50)
    assert held.post_id in [p["_id"] for p in page.items]


async def test_a_post_named_twice_or_an_edit_is_left_to_be_applied_alone(stores: tuple[ForumStore, ForumStore]) -> None:
    store, _ = stores
    threads, posts, events = _forum_events()
    await _forum(store, threads, posts)
    twice = [events[0], events[0].model_copy(update={"event_id": "again"}), events[5]]
    applied = await store.apply_screenings(twice)
    assert set(applied) == {events[5].event_id}
