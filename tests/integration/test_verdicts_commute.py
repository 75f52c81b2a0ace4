"""Verdicts and decisions commute: whatever order they reach the forum in, and however often,
a post ends in the state a person expects. Runs the forum's store against the real FerretDB."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from pymongo.errors import AutoReconnect

from services.forum.edit_resends import resend_edits
from services.forum.publisher import EventsUnavailable, ForumPublisher
from services.forum.store import ForumStore
from streams.events import PostScreened, PostSubmitted, Verdict
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
            "board_slug": "general",
            "author_id": "a-1",
            "revision": 1,
            "status": "pending",
            "body": "first",
            "is_thread_start": True,
            "pending_body": None,
        }
    )
    return thread_id, post_id


def _verdict(
    thread_id: str, post_id: str, action: str, *, revision: int = 1, kind: str = "new", is_thread_start: bool = True
) -> PostScreened:
    risk = {"publish": "none", "hold": "high", "hold_urgent": "imminent"}[action]
    return PostScreened(
        post_id=post_id,
        thread_id=thread_id,
        board_slug="general",
        author_id="a-1",
        revision=revision,
        kind=kind,
        is_thread_start=is_thread_start,
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


# A handler that stops between its writes (the database gone, the process killed) is run again
# on the same event: the redelivery must finish what the first run left undone.


def _stops_once(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> None:
    real = getattr(owner, name)
    calls = 0

    async def stopping_the_first_time(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise AutoReconnect("the database went away in the middle of the handler")
        return await real(*args, **kwargs)

    monkeypatch.setattr(owner, name, stopping_the_first_time)


class _StoppingOnce:
    """A collection whose first call of one write method fails (the database gone mid-handler)."""

    def __init__(self, collection: Any, method: str) -> None:
        self._collection, self._method, self._stopped = collection, method, False

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._collection, name)
        if name != self._method or self._stopped:
            return real

        async def stopping(*args: Any, **kwargs: Any) -> Any:
            self._stopped = True
            raise AutoReconnect("the database went away in the middle of the handler")

        return stopping


async def _delivered(store: ForumStore, events: list[PostScreened]) -> None:
    """As the materializer applies a fetched batch: together, then one by one what was left out."""
    applied = await store.apply_screenings(events) if len(events) > 1 else {}
    for event in events:
        if event.event_id not in applied:
            await store.apply_screening(event)


async def _listed_threads(store: ForumStore) -> list[str]:
    return [thread["_id"] for thread in (await store.threads_page("general", None, 50)).items]


async def _a_board_with_its_list(store: ForumStore) -> str:
    """A thread published on the board first, so that its page is read from the board's list (a
    board with no list yet is read by a query, which would hide a thread missing from the list)."""
    thread_id, post_id = await _new_thread(store)
    await store.apply_screening(_verdict(thread_id, post_id, "publish"))
    assert await _listed_threads(store) == [thread_id]
    return thread_id


async def _new_reply(store: ForumStore, thread_id: str) -> str:
    post_id = f"p-{uuid.uuid4().hex[:8]}"
    await store.insert_post(
        {
            "_id": post_id,
            "thread_id": thread_id,
            "author_id": "a-2",
            "revision": 1,
            "status": "pending",
            "body": "a reply",
            "is_thread_start": False,
            "pending_body": None,
        }
    )
    return post_id


async def test_an_approval_that_stopped_before_listing_the_thread_lists_it_when_redelivered(
    store: ForumStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    earlier = await _a_board_with_its_list(store)
    thread_id, post_id = await _new_thread(store)
    await store.apply_screening(_verdict(thread_id, post_id, "hold"))
    _stops_once(monkeypatch, store, "_list_activity")
    with pytest.raises(AutoReconnect):
        await store.apply_decision(post_id, 1, "approve", "")
    await store.apply_decision(post_id, 1, "approve", "")
    assert await _status(store, thread_id, post_id) == ("published", "published")
    assert await _listed_threads(store) == [thread_id, earlier]


async def test_an_approved_reply_that_stopped_before_its_place_in_the_thread_is_shown_when_redelivered(
    store: ForumStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    thread_id, first_post = await _new_thread(store)
    await store.apply_screening(_verdict(thread_id, first_post, "publish"))
    reply = await _new_reply(store, thread_id)
    await store.apply_screening(_verdict(thread_id, reply, "hold", is_thread_start=False))
    _stops_once(monkeypatch, store.thread_posts, "append")
    with pytest.raises(AutoReconnect):
        await store.apply_decision(reply, 1, "approve", "")
    await store.apply_decision(reply, 1, "approve", "")
    shown = await store.published_posts_page(thread_id, None, 50)
    assert [post["_id"] for post in shown.items] == [first_post, reply]


@pytest.mark.parametrize("in_a_batch", [False, True])
async def test_an_early_approval_that_stopped_halfway_is_finished_by_the_redelivered_verdict(
    store: ForumStore, monkeypatch: pytest.MonkeyPatch, in_a_batch: bool
) -> None:
    earlier = await _a_board_with_its_list(store)
    thread_id, post_id = await _new_thread(store)
    other_thread, other_post = await _new_thread(store)
    await store.apply_decision(post_id, 1, "approve", "")  # before its verdict: remembered
    verdicts = [_verdict(thread_id, post_id, "hold")]
    if in_a_batch:
        verdicts.append(_verdict(other_thread, other_post, "publish"))
    _stops_once(monkeypatch, store, "_list_activity")
    with pytest.raises(AutoReconnect):
        await _delivered(store, verdicts)
    await _delivered(store, verdicts)
    assert await _status(store, thread_id, post_id) == ("published", "published")
    assert {thread_id, earlier} <= set(await _listed_threads(store))


@pytest.mark.parametrize("in_a_batch", [False, True])
async def test_a_published_thread_whose_listing_stopped_is_listed_when_its_verdict_is_redelivered(
    store: ForumStore, monkeypatch: pytest.MonkeyPatch, in_a_batch: bool
) -> None:
    earlier = await _a_board_with_its_list(store)
    thread_id, post_id = await _new_thread(store)
    verdicts = [_verdict(thread_id, post_id, "publish")]
    if in_a_batch:
        other_thread, other_post = await _new_thread(store)
        verdicts.append(_verdict(other_thread, other_post, "publish"))
    _stops_once(monkeypatch, store, "_list_activities" if in_a_batch else "_list_activity")
    with pytest.raises(AutoReconnect):
        await _delivered(store, verdicts)
    await _delivered(store, verdicts)
    assert {thread_id, earlier} <= set(await _listed_threads(store))


async def test_an_edit_verdict_that_stopped_before_listing_the_thread_lists_it_when_redelivered(
    store: ForumStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    earlier = await _a_board_with_its_list(store)
    thread_id, post_id = await _new_thread(store)
    post = await store.post(post_id)
    assert post is not None
    await store.start_edit(post, "edited before screening", [])
    assert await store.apply_screening(_verdict(thread_id, post_id, "publish")) is None
    edit_verdict = _verdict(thread_id, post_id, "publish", revision=2, kind="edit")
    _stops_once(monkeypatch, store, "_list_activity")
    with pytest.raises(AutoReconnect):
        await store.apply_screening(edit_verdict)
    assert await store.apply_screening(edit_verdict) is not None
    assert await _listed_threads(store) == [thread_id, earlier]


async def test_a_removal_that_stopped_before_the_thread_takes_the_thread_off_its_board_when_redelivered(
    store: ForumStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    earlier = await _a_board_with_its_list(store)
    thread_id, post_id = await _new_thread(store)
    await store.apply_screening(_verdict(thread_id, post_id, "publish"))
    assert await _listed_threads(store) == [thread_id, earlier]
    monkeypatch.setattr(store, "threads", _StoppingOnce(store.threads, "find_one_and_update"))
    with pytest.raises(AutoReconnect):
        await store.apply_decision(post_id, 1, "remove", "")
    await store.apply_decision(post_id, 1, "remove", "")
    assert await _status(store, thread_id, post_id) == ("removed", "removed")
    assert await _listed_threads(store) == [earlier]


class _Publisher:
    def __init__(self, *, down: bool = False) -> None:
        self.sent: list[PostSubmitted] = []
        self.down = down

    async def post_submitted(self, event: PostSubmitted) -> None:
        if self.down:
            raise EventsUnavailable("kafka is away")
        self.sent.append(event)


async def _an_unsent_edit(store: ForumStore) -> tuple[str, str]:
    thread_id, post_id = await _new_thread(store)
    post = await store.post(post_id)
    assert post is not None
    edited = await store.start_edit(post, "an edit Kafka did not take in time", [])
    assert edited is not None and edited["revision"] == 2
    await store.remember_unsent_edit(post_id, 2)
    return thread_id, post_id


async def test_an_edit_kafka_did_not_take_is_sent_again_under_its_own_revision(store: ForumStore) -> None:
    thread_id, post_id = await _an_unsent_edit(store)
    await store.db["identities"].insert_one({"_id": "a-1", "country": "IE", "language": "en", "token_hash": "h"})
    away = _Publisher(down=True)
    assert await resend_edits(store, cast(ForumPublisher, away)) == 0, "Kafka still away: kept for the next round"
    publisher = _Publisher()
    assert await resend_edits(store, cast(ForumPublisher, publisher)) == 1
    [event] = publisher.sent
    assert (event.post_id, event.revision, event.kind, event.body) == (
        post_id,
        2,
        "edit",
        "an edit Kafka did not take in time",
    )
    assert (event.is_thread_start, event.title, event.country) == (True, "Night", "IE")
    assert await resend_edits(store, cast(ForumPublisher, publisher)) == 0, "sent once, forgotten"
    await store.apply_screening(_verdict(thread_id, post_id, "publish", revision=2, kind="edit"))
    assert await _status(store, thread_id, post_id) == ("published", "published")


async def test_an_unsent_edit_overtaken_by_a_later_one_is_not_sent_and_no_revision_is_used_twice(
    store: ForumStore,
) -> None:
    _, post_id = await _an_unsent_edit(store)
    waiting = await store.post(post_id)
    assert waiting is not None
    later = await store.start_edit(waiting, "the member's next try", [])
    assert later is not None and later["revision"] == 3
    publisher = _Publisher()
    assert await resend_edits(store, cast(ForumPublisher, publisher)) == 0 and publisher.sent == []


async def test_a_reaction_whose_count_failed_is_counted_once_when_sent_again(
    store: ForumStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    thread_id, post_id = await _new_thread(store)
    await store.apply_screening(_verdict(thread_id, post_id, "publish"))
    posts = store.posts
    monkeypatch.setattr(store, "posts", _StoppingOnce(posts, "update_one"))
    with pytest.raises(AutoReconnect):
        await store.add_reaction(post_id, "m-9", "hug")
    assert await store.add_reaction(post_id, "m-9", "hug") is False, "at once, a double tap: the first is counting"
    # The member sends it again a while later.
    await store.reactions.update_one(
        {"_id": f"{post_id}:m-9:hug"}, {"$set": {"created_at": datetime.now(UTC) - timedelta(minutes=1)}}
    )
    assert await store.add_reaction(post_id, "m-9", "hug") is True, "the retry makes the count"
    assert await store.add_reaction(post_id, "m-9", "hug") is False
    counted = await posts.find_one({"_id": post_id})
    assert counted is not None and counted["reactions"]["hug"] == 1


async def test_an_unsent_edit_of_a_post_a_moderator_removed_is_not_sent(store: ForumStore) -> None:
    _, post_id = await _an_unsent_edit(store)
    await store.apply_decision(post_id, 2, "remove", "")
    publisher = _Publisher()
    assert await resend_edits(store, cast(ForumPublisher, publisher)) == 0 and publisher.sent == []
