"""Moderators are paged about an urgent post before its queue item is stored, once per process."""

from __future__ import annotations

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


async def test_an_urgent_verdict_pages_the_moderators_with_the_queue_items_id() -> None:
    pages = Pages()
    pager = UrgentPager(pages)

    await pager.page_if_urgent(_screened("p1", "hold_urgent", revision=2))

    assert pages.sent == [("post:p1:2", "p1", "urgent")]
    assert pager.already_paged("post:p1:2")


@pytest.mark.parametrize("action", ["hold", "publish", "publish_with_resources"])
async def test_a_verdict_that_is_not_urgent_waits_for_the_stored_item(action: str) -> None:
    pages = Pages()
    pager = UrgentPager(pages)

    await pager.page_if_urgent(_screened("p1", action))

    assert pages.sent == []
    assert not pager.already_paged("post:p1:1")


async def test_retries_while_the_database_is_away_page_once() -> None:
    pages = Pages()
    pager = UrgentPager(pages)
    event = _screened("p1", "hold_urgent")

    for _ in range(5):
        await pager.page_if_urgent(event)

    assert len(pages.sent) == 1


async def test_a_page_that_failed_to_publish_is_tried_again() -> None:
    attempts: list[str] = []

    async def broker_away(item_id: str, post_id: str, level: str) -> None:
        attempts.append(item_id)
        if len(attempts) == 1:
            raise ConnectionError("broker away")

    pager = UrgentPager(broker_away)
    event = _screened("p1", "hold_urgent")
    with pytest.raises(ConnectionError):
        await pager.page_if_urgent(event)
    assert not pager.already_paged(queue_item_id(event))

    await pager.page_if_urgent(event)

    assert attempts == ["post:p1:1", "post:p1:1"]
    assert pager.already_paged("post:p1:1")


async def test_the_memory_keeps_only_the_latest_items() -> None:
    pages = Pages()
    pager = UrgentPager(pages, remembered=2)

    for n in range(3):
        await pager.page_if_urgent(_screened(f"p{n}", "hold_urgent"))

    assert not pager.already_paged("post:p0:1")
    assert pager.already_paged("post:p1:1") and pager.already_paged("post:p2:1")
