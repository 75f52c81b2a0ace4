"""A live stream gets a new notification at once, stored when the inbox answers in a moment and
unstored (no SSE id, so the client's Last-Event-ID stays before it) when the database is away."""

from __future__ import annotations

import asyncio
from typing import Any

from pymongo.errors import AutoReconnect

from services.common.database_absence import DatabaseAbsence
from services.notify.live_items import LiveItems
from services.notify.views import sse_frame
from streams.events import Notification


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


class Inbox:
    """The inbox's `store`, on a database that can be taken away or made to hang."""

    def __init__(self) -> None:
        self.away = False
        self.hangs = False
        self.asked = 0

    async def store(self, notification: Notification) -> dict[str, Any]:
        self.asked += 1
        if self.away:
            raise AutoReconnect("connection refused")
        if self.hangs:
            await asyncio.sleep(60)
        return {
            "_id": notification.notification_id,
            "event_key": f"00000000000000000001-{notification.notification_id}",
            "recipient_id": notification.recipient_id,
            "kind": notification.kind,
            "post_id": notification.post_id,
            "data": notification.data,
            "occurred_at": notification.occurred_at,
        }


def _resources() -> Notification:
    return Notification(
        notification_id="resources:p1:1",
        recipient_id="a1",
        kind="resources",
        post_id="p1",
        data={"resources": [{"name": "Samaritans"}], "urgent": True},
    )


def _live(inbox: Inbox, clock: Clock) -> LiveItems:
    absence = DatabaseAbsence("the inbox", retry_after_s=5.0, clock=clock)
    return LiveItems(inbox, store_wait_s=0.05, absence=absence)  # type: ignore[arg-type]


async def test_with_the_inbox_answering_the_stored_item_is_pushed_with_its_id() -> None:
    live = _live(Inbox(), Clock())
    item = await live.item_for(_resources())
    assert item["event_key"].endswith("resources:p1:1")
    assert sse_frame(item).startswith(b"id: 00000000000000000001-resources:p1:1\nevent: resources\n")
    assert live.pushed_unstored == 0


async def test_with_the_database_away_the_author_still_gets_their_resources_without_an_id() -> None:
    inbox, clock = Inbox(), Clock()
    inbox.away = True
    unstored: list[int] = []
    absence = DatabaseAbsence("the inbox", retry_after_s=5.0, clock=clock)
    live = LiveItems(inbox, absence=absence, on_unstored=lambda: unstored.append(1))  # type: ignore[arg-type]
    item = await live.item_for(_resources())
    frame = sse_frame(item).decode()
    assert frame.startswith("event: resources\ndata: ")
    assert "\nid:" not in frame and '"Samaritans"' in frame
    assert live.pushed_unstored == 1 and unstored == [1]


async def test_a_hanging_inbox_delays_a_push_by_moments_not_by_the_outage() -> None:
    inbox = Inbox()
    inbox.hangs = True
    item = await asyncio.wait_for(_live(inbox, Clock()).item_for(_resources()), 1.0)
    assert item["event_key"] is None


async def test_after_a_failure_the_inbox_is_asked_again_only_after_a_pause() -> None:
    inbox, clock = Inbox(), Clock()
    live = _live(inbox, clock)
    inbox.away = True
    await live.item_for(_resources())
    await live.item_for(_resources())
    assert inbox.asked == 1
    inbox.away = False
    clock.now += 5.0
    item = await live.item_for(_resources())
    assert inbox.asked == 2 and item["event_key"] is not None
