"""Verdicts and decisions commute: whatever order they reach the forum in, and however often,
a post ends in the state a person expects. Runs the forum's store against the real FerretDB."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from services.forum.store import ForumStore
from streams.events import PostScreened, Verdict
from tests.harness import StackUnderTest, throwaway_database

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(stack: StackUnderTest) -> AsyncIterator[ForumStore]:
    async with throwaway_database(stack, "commute") as db:
        yield ForumStore(db)


async def _new_thread(store: ForumStore) -> tuple[str, str]:
    thread_id, post_id = f"t-{uuid.uuid4().hex[:8]}", f"p-{uuid.uuid4().hex[:8]}"
    await store.insert_thread(
        {"_id": thread_id, "board_slug": "general", "status": "pending", "title": "Night", "author_id": "a-1"}
    )
    await store.insert_post(
        {
            "_id": post_id,
            "thread_id": thread_id,
            "author_id": "a-1",
            "revision": 1,
            "status": "pending",
            "body": "first",
            "is_thread_start": True,
            "pending_body": None,
        }
    )
    return thread_id, post_id


def _verdict(thread_id: str, post_id: str, action: str, *, revision: int = 1, kind: str = "new") -> PostScreened:
    risk = {"publish": "none", "hold": "high", "hold_urgent": "imminent"}[action]
    return PostScreened(
        post_id=post_id,
        thread_id=thread_id,
        board_slug="general",
        author_id="a-1",
        revision=revision,
        kind=kind,
        is_thread_start=True,
        body="x",  # type: ignore[arg-type]
        verdict=Verdict(id=post_id, risk=risk, action=action, model_version="test"),  # type: ignore[arg-type]
    )


async def _status(store: ForumStore, thread_id: str, post_id: str) -> tuple[str, str]:
    post, thread = await store.post(post_id), await store.thread(thread_id)
    assert post is not None and thread is not None
    return post["status"], thread["status"]


async def test_verdict_then_approve_publishes(store: ForumStore) -> None:
    thread_id, post_id = await _new_thread(store)
    await store.apply_screening(_verdict(thread_id, post_id, "hold"))
    await store.apply_decision(post_id, 1, "approve", "")
    assert await _status(store, thread_id, post_id) == ("published", "published")


async def test_approve_before_its_verdict_still_publishes(store: ForumStore) -> None:
    thread_id, post_id = await _new_thread(store)
    await store.apply_decision(post_id, 1, "approve", "")
    assert await _status(store, thread_id, post_id) == ("pending", "pending")
    await store.apply_screening(_verdict(thread_id, post_id, "hold"))
    assert await _status(store, thread_id, post_id) == ("published", "published")


@pytest.mark.parametrize("action", ["publish", "hold"])
async def test_remove_wins_in_either_order(store: ForumStore, action: str) -> None:
    first_thread, first_post = await _new_thread(store)
    await store.apply_screening(_verdict(first_thread, first_post, action))
    await store.apply_decision(first_post, 1, "remove", "")
    second_thread, second_post = await _new_thread(store)
    await store.apply_decision(second_post, 1, "remove", "")
    await store.apply_screening(_verdict(second_thread, second_post, action))
    assert (await _status(store, first_thread, first_post))[0] == "removed"
    assert (await _status(store, second_thread, second_post))[0] == "removed"


async def test_a_late_edit_verdict_never_republishes_a_removed_post(store: ForumStore) -> None:
    thread_id, post_id = await _new_thread(store)
    await store.apply_screening(_verdict(thread_id, post_id, "publish"))
    post = await store.post(post_id)
    assert post is not None
    await store.start_edit(post, "edited words", [])
    await store.apply_decision(post_id, 2, "remove", "")
    assert await store.apply_screening(_verdict(thread_id, post_id, "publish", revision=2, kind="edit")) is None
    assert (await _status(store, thread_id, post_id))[0] == "removed"


async def test_editing_a_first_post_before_its_verdict_still_lists_the_thread(store: ForumStore) -> None:
    thread_id, post_id = await _new_thread(store)
    post = await store.post(post_id)
    assert post is not None
    await store.start_edit(post, "edited before screening", [])
    # The first revision's verdict is superseded; the edit's verdict decides.
    assert await store.apply_screening(_verdict(thread_id, post_id, "publish")) is None
    await store.apply_screening(_verdict(thread_id, post_id, "publish", revision=2, kind="edit"))
    status, thread_status = await _status(store, thread_id, post_id)
    assert (status, thread_status) == ("published", "published")
    shown = await store.post(post_id)
    assert shown is not None and shown["body"] == "edited before screening"


async def test_a_redelivered_verdict_is_reported_again_so_its_notices_can_be_resent(store: ForumStore) -> None:
    thread_id, post_id = await _new_thread(store)
    event = _verdict(thread_id, post_id, "hold")
    first = await store.apply_screening(event)
    again = await store.apply_screening(event)
    assert first is not None and again is not None
    assert again["status"] == "held" and again["revision"] == 1
    other_action = _verdict(thread_id, post_id, "publish")
    assert await store.apply_screening(other_action) is None, (
        "a different verdict for the same revision changes nothing"
    )


async def test_board_pages_list_each_thread_once_across_pages_and_redeliveries(store: ForumStore) -> None:
    threads = []
    for _ in range(3):
        thread_id, post_id = await _new_thread(store)
        event = _verdict(thread_id, post_id, "publish")
        for _ in range(2):
            await store.apply_screening(event)
        threads.append(thread_id)
    listed: list[str] = []
    cursor = None
    for _ in range(10):  # a cursor that does not advance must fail the test, not hang it
        page = await store.threads_page("general", cursor, 1)
        listed += [thread["_id"] for thread in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert listed == list(reversed(threads))
