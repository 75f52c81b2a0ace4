"""Moderators are paged about an urgent post before its queue item is stored, once per process,
and not again about an item the queue has already alerted them of."""

from __future__ import annotations

import asyncio

import pytest

from services.moderation.api.urgent_pages import UrgentPager, queue_item_id
from streams.events import PostScreened, Verdict


def _screened(post_id: str, action: str, revision: int = 1) -> PostScreened:
    return PostScreened(
        post_id=post_id,
        thread_id="t1",
        board_slug="general",
        author_id="a1",
        revision=revision,
        body="x",
        verdict=Verdict(
            id=post_id, risk="imminent" if action == "hold_urgent" else "high", action=action, model_version="test"
        ),
    )


class Pages:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    async def __call__(self, item_id: str, post_id: str, level: str) -> None:
        self.sent.append((item_id, post_id, level))


class Queue:
    """The queue's answer to "which of these items were alerted before?"."""

    def __init__(self, alerted: set[str] | None = None) -> None:
        self.alerted = alerted or set()
        self.asked: list[list[str]] = []

    async def __call__(self, item_ids: list[str]) -> set[str]:
        self.asked.append(item_ids)
        return self.alerted & set(item_ids)


async def test_an_urgent_verdict_pages_the_moderators_with_the_queue_items_id() -> None:
    pages = Pages()
    pager = UrgentPager(pages, Queue())

    await pager.page_urgent([_screened("p1", "hold_urgent", revision=2)])

    assert pages.sent == [("post:p1:2", "p1", "urgent")]
    assert pager.already_paged("post:p1:2")


@pytest.mark.parametrize("action", ["hold", "publish", "publish_with_resources"])
async def test_a_verdict_that_is_not_urgent_waits_for_the_stored_item(action: str) -> None:
    pages, queue = Pages(), Queue()
    pager = UrgentPager(pages, queue)

    await pager.page_urgent([_screened("p1", action)])

    assert pages.sent == []
    assert queue.asked == []
    assert not pager.already_paged("post:p1:1")


async def test_every_urgent_verdict_of_a_fetch_pages_after_one_question_to_the_queue() -> None:
    pages, queue = Pages(), Queue()
    pager = UrgentPager(pages, queue)

    await pager.page_urgent([_screened("p1", "hold_urgent"), _screened("p2", "hold"), _screened("p3", "hold_urgent")])

    assert [item for item, _, _ in pages.sent] == ["post:p1:1", "post:p3:1"]
    assert queue.asked == [["post:p1:1", "post:p3:1"]]


async def test_retries_while_the_database_is_away_page_once() -> None:
    pages = Pages()
    pager = UrgentPager(pages, Queue())
    event = _screened("p1", "hold_urgent")

    for _ in range(5):
        await pager.page_urgent([event])

    assert len(pages.sent) == 1


async def test_a_replayed_verdict_whose_item_was_alerted_before_pages_nobody() -> None:
    pages, queue = Pages(), Queue(alerted={"post:p1:1"})
    pager = UrgentPager(pages, queue)
    replayed, new = _screened("p1", "hold_urgent"), _screened("p2", "hold_urgent")

    await pager.page_urgent([replayed, new])
    await pager.page_urgent([replayed])

    assert pages.sent == [("post:p2:1", "p2", "urgent")]
    assert not pager.already_paged("post:p1:1"), "the stored item's own alert path decides, not the early page"
    assert len(queue.asked) == 1, "an item settled once is not asked about again"


async def test_a_database_that_does_not_answer_in_time_does_not_hold_the_page_back() -> None:
    pages = Pages()

    async def frozen(item_ids: list[str]) -> set[str]:
        await asyncio.sleep(60)
        return set(item_ids)

    pager = UrgentPager(pages, frozen, check_within_s=0.05)

    await asyncio.wait_for(pager.page_urgent([_screened("p1", "hold_urgent")]), 5)

    assert pages.sent == [("post:p1:1", "p1", "urgent")]


async def test_while_the_database_is_away_later_pages_do_not_wait_for_it() -> None:
    pages, asked = Pages(), []

    async def frozen(item_ids: list[str]) -> set[str]:
        asked.append(item_ids)
        await asyncio.sleep(60)
        return set()

    pager = UrgentPager(pages, frozen, check_within_s=0.05)

    for n in range(3):
        await asyncio.wait_for(pager.page_urgent([_screened(f"p{n}", "hold_urgent")]), 5)

    assert [item for item, _, _ in pages.sent] == ["post:p0:1", "post:p1:1", "post:p2:1"]
    assert asked == [["post:p0:1"]], "asked once, then left alone for a few seconds"


async def test_a_database_that_fails_the_question_does_not_hold_the_page_back() -> None:
    pages = Pages()

    async def away(item_ids: list[str]) -> set[str]:
        raise ConnectionError("database away")

    pager = UrgentPager(pages, away)

    await pager.page_urgent([_screened("p1", "hold_urgent")])

    assert pages.sent == [("post:p1:1", "p1", "urgent")]


async def test_a_page_that_failed_to_publish_is_tried_again() -> None:
    attempts: list[str] = []

    async def broker_away(item_id: str, post_id: str, level: str) -> None:
        attempts.append(item_id)
        if len(attempts) == 1:
            raise ConnectionError("broker away")

    pager = UrgentPager(broker_away, Queue())
    event = _screened("p1", "hold_urgent")
    with pytest.raises(ConnectionError):
        await pager.page_urgent([event])
    assert not pager.already_paged(queue_item_id(event))

    await pager.page_urgent([event])

    assert attempts == ["post:p1:1", "post:p1:1"]
    assert pager.already_paged("post:p1:1")


async def test_the_memory_keeps_only_the_latest_items() -> None:
    pages = Pages()
    pager = UrgentPager(pages, Queue(), remembered=2)

    for n in range(3):
        await pager.page_urgent([_screened(f"p{n}", "hold_urgent")])

    assert not pager.already_paged("post:p0:1")
    assert pager.already_paged("post:p1:1") and pager.already_paged("post:p2:1")
