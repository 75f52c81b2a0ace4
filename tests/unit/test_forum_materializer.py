"""The forum's materializer: a fetched batch of verdicts is applied, and its authors told, together."""

from __future__ import annotations

from typing import Any

from services.forum.materializer import PostStateMaterializer
from services.forum.store import ScreeningApplied
from streams.events import Notification, PostScreened, Verdict
from streams.topics import Topics

TOPICS = Topics("t.")
THREAD = {"_id": "t1", "author_id": "starter"}


def _verdict_for(n: int) -> PostScreened:
    return PostScreened(
        post_id=f"p{n}",
        thread_id="t1",
        board_slug="general",
        author_id=f"a{n}",
        revision=1,
        kind="new",
        body="x",
        verdict=Verdict(id=f"p{n}", risk="none", action="publish", model_version="test"),
    )


def _published(event: PostScreened) -> dict[str, Any]:
    return {"_id": event.post_id, "thread_id": "t1", "author_id": event.author_id, "status": "published"}


class FakeStore:
    def __init__(self) -> None:
        self.applied_alone: list[str] = []

    async def apply_screenings(self, events: list[PostScreened]) -> dict[str, ScreeningApplied]:
        return {e.event_id: ScreeningApplied(_published(e), dict(THREAD)) for e in events}

    async def apply_screening(self, event: PostScreened) -> dict[str, Any] | None:
        self.applied_alone.append(event.post_id)
        return _published(event)

    async def thread(self, thread_id: str) -> dict[str, Any] | None:
        return dict(THREAD)


class FakePublisher:
    def __init__(self, batches_fail: bool = False) -> None:
        self.batches_fail = batches_fail
        self.batches: list[list[str]] = []
        self.single: list[str] = []

    async def notifications(self, events: list[Notification]) -> None:
        if self.batches_fail:
            raise RuntimeError("broker unavailable")
        self.batches.append([e.notification_id for e in events])

    async def notification(self, event: Notification) -> None:
        self.single.append(event.notification_id)


async def _run_batch(materializer: PostStateMaterializer, events: list[PostScreened]) -> None:
    """What the consumer loop does: prepare (its failure is logged and forgotten), then handle each."""
    try:
        await materializer.prepare([(TOPICS.posts_screened, e) for e in events])
    except RuntimeError:
        pass
    for event in events:
        await materializer.handle(TOPICS.posts_screened, event)


async def test_a_batchs_authors_and_thread_author_are_told_in_one_send() -> None:
    store, publisher = FakeStore(), FakePublisher()
    events = [_verdict_for(n) for n in range(3)]
    await _run_batch(PostStateMaterializer(store, TOPICS, publisher), events)  # type: ignore[arg-type]
    assert publisher.batches == [
        [notice for n in range(3) for notice in (f"post.published:p{n}:1", f"reply:p{n}")],
    ]
    assert publisher.single == [] and store.applied_alone == []


async def test_notices_a_batch_could_not_send_go_one_by_one_without_applying_again() -> None:
    store, publisher = FakeStore(), FakePublisher(batches_fail=True)
    events = [_verdict_for(n) for n in range(2)]
    await _run_batch(PostStateMaterializer(store, TOPICS, publisher), events)  # type: ignore[arg-type]
    assert publisher.single == ["post.published:p0:1", "reply:p0", "post.published:p1:1", "reply:p1"]
    assert store.applied_alone == []


async def test_a_redelivered_event_after_its_batch_is_applied_alone_again() -> None:
    store, publisher = FakeStore(), FakePublisher()
    materializer = PostStateMaterializer(store, TOPICS, publisher)  # type: ignore[arg-type]
    events = [_verdict_for(n) for n in range(2)]
    await _run_batch(materializer, events)
    await materializer.handle(TOPICS.posts_screened, events[0])  # fetched again after a rebalance
    assert store.applied_alone == ["p0"]
    assert publisher.single == ["post.published:p0:1", "reply:p0"]
