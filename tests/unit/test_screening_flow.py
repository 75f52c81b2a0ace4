"""The worker's batch flow: resources before the verdict, fail closed, no double emission."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pymongo.errors import OperationFailure, ServerSelectionTimeoutError

from services.moderation.resources import ResourceDirectory
from services.moderation.screening import ScreeningInput
from services.moderation.screening.policy import Policy
from services.moderation.worker.inference_deadline import GuardedInference, InferenceDeadline
from services.moderation.worker.screening_flow import ScreeningFlow
from services.moderation.worker.screening_records import ScreeningRecords
from streams.events import Notification, PostScreened, PostSubmitted, Verdict
from streams.serialization import decode
from streams.topics import Topics
from tests.unit.memory_screenings import MemoryScreenings


class RecordingProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    async def send_and_wait(self, topic: str, value: bytes, key: bytes, headers: object = None) -> None:
        self.sent.append((topic, key, value))

    async def send(self, topic: str, value: bytes, key: bytes, headers: object = None) -> asyncio.Future[None]:
        """aiokafka's send: enqueued here, acked at once (unless send_and_wait refuses or hangs)."""
        await self.send_and_wait(topic, value, key, headers)
        acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        acked.set_result(None)
        return acked


def _post(body: str, country: str = "GB") -> PostSubmitted:
    return PostSubmitted(post_id="p1", thread_id="t1", board_slug="alcohol", author_id="a1", body=body, country=country)


def _flow(
    screen_batch: Any, deadline: InferenceDeadline | None = None
) -> tuple[ScreeningFlow, RecordingProducer, MemoryScreenings]:
    producer, screenings = RecordingProducer(), MemoryScreenings()
    flow = ScreeningFlow(
        inference=GuardedInference(screen_batch, ThreadPoolExecutor(1), deadline),
        policy=Policy(),
        directory=ResourceDirectory.load(),
        producer=producer,
        topics=Topics("t."),  # type: ignore[arg-type]
        records=ScreeningRecords(screenings),  # type: ignore[arg-type]
    )
    return flow, producer, screenings


def _verdict(risk: str, categories: list[str]) -> Any:
    def screen(items: list[ScreeningInput]) -> list[Verdict]:
        return [
            Verdict(id=i.id, risk=risk, categories=categories, action="publish", model_version="test")  # type: ignore[arg-type]
            for i in items
        ]

    return screen


async def test_resources_reach_the_author_before_the_verdict_is_published() -> None:
    flow, producer, _ = _flow(_verdict("imminent", ["suicide"]))
    await flow.process([_post("...")])
    topics = [topic for topic, _, _ in producer.sent]
    assert topics == ["t.notifications", "t.posts.screened"]
    notification = decode(Notification, producer.sent[0][2])
    assert notification.recipient_id == "a1" and notification.kind == "resources"
    screened = decode(PostScreened, producer.sent[1][2])
    assert screened.verdict.action == "hold_urgent", "the policy decides the action"
    assert screened.resources[0].contact.startswith("999")


async def test_a_screener_that_raises_holds_the_post_for_a_human() -> None:
    def broken(items: list[ScreeningInput]) -> list[Verdict]:
        raise RuntimeError("model exploded")

    flow, producer, _ = _flow(broken)
    await flow.process([_post("anything")])
    screened = decode(PostScreened, producer.sent[-1][2])
    assert screened.verdict.action == "hold"
    assert screened.verdict.reasons == ["screening failed"]


async def test_one_post_the_screener_cannot_take_costs_the_rest_of_its_batch_nothing() -> None:
    def screen(items: list[ScreeningInput]) -> list[Verdict]:
        if any(item.id == "unreadable" for item in items):
            raise KeyError("a character the screener cannot take")
        return _verdict("imminent", ["suicide"])(items)

    crisis = _post("taking them all tonight, goodbye")
    unreadable = _post("\u09f4").model_copy(update={"post_id": "unreadable"})
    flow, producer, _ = _flow(screen)
    assert await flow.process([crisis, unreadable]) == 2
    verdicts = {
        event.post_id: event.verdict
        for event in (decode(PostScreened, value) for topic, _, value in producer.sent if topic == "t.posts.screened")
    }
    assert verdicts["p1"].action == "hold_urgent", "the crisis post keeps its own verdict"
    assert verdicts["unreadable"].action == "hold" and verdicts["unreadable"].reasons == ["screening failed"]


async def test_a_post_screened_before_is_not_screened_or_emitted_again() -> None:
    calls: list[int] = []

    def screen(items: list[ScreeningInput]) -> list[Verdict]:
        calls.append(len(items))
        return _verdict("none", [])(items)

    flow, producer, _ = _flow(screen)
    assert await flow.process([_post("day 3"), _post("day 3")]) == 1
    assert await flow.process([_post("day 3")]) == 0
    assert calls == [1]
    assert [topic for topic, _, _ in producer.sent] == ["t.posts.screened"]


async def test_a_database_out_of_reach_does_not_keep_the_author_from_their_resources() -> None:
    class Unreachable(MemoryScreenings):
        def find(self, query: dict[str, Any], projection: dict[str, int]) -> Any:
            raise ServerSelectionTimeoutError("no servers")

        async def bulk_write(self, requests: list[Any], ordered: bool = True) -> None:
            raise ServerSelectionTimeoutError("no servers")

    flow, producer, _ = _flow(_verdict("imminent", ["overdose"]))
    flow.records = ScreeningRecords(Unreachable())  # type: ignore[arg-type]
    assert await flow.process([_post("...", country="IE")]) == 1
    assert [topic for topic, _, _ in producer.sent] == ["t.notifications", "t.posts.screened"]
    assert decode(Notification, producer.sent[0][2]).data["urgent"] is True
    assert flow.records.unwritten == 1, "its record is written when the database is back"
    assert await flow.process([_post("...", country="IE")]) == 0, "redelivered: not emitted twice"


async def test_a_database_that_refuses_rather_than_vanishes_does_not_keep_the_author_from_their_resources() -> None:
    class Refusing(MemoryScreenings):
        def find(self, query: dict[str, Any], projection: dict[str, int]) -> Any:
            raise OperationFailure("Authentication failed.", code=18)

        async def bulk_write(self, requests: list[Any], ordered: bool = True) -> None:
            raise OperationFailure("Authentication failed.", code=18)

    flow, producer, _ = _flow(_verdict("imminent", ["overdose"]))
    flow.records = ScreeningRecords(Refusing())  # type: ignore[arg-type]
    assert await flow.process([_post("...", country="IE")]) == 1
    assert [topic for topic, _, _ in producer.sent] == ["t.notifications", "t.posts.screened"]
    assert flow.records.unwritten == 1, "its record is written once the database takes it"


async def test_an_inference_that_hangs_holds_its_batch_for_a_human_and_the_author_still_gets_resources() -> None:
    release = threading.Event()

    def hangs(items: list[ScreeningInput]) -> list[Verdict]:
        release.wait(30)
        return _verdict("none", [])(items)

    flow, producer, _ = _flow(hangs, InferenceDeadline(base_s=0.2, chars_per_s=1e9))
    try:
        assert await flow.process([_post("i have all my pills in front of me", country="IE")]) == 1
        sent = [topic for topic, _, _ in producer.sent]
        assert sent == ["t.notifications", "t.posts.screened"], "resources first, then a verdict: held"
        verdict = decode(PostScreened, producer.sent[-1][2]).verdict
        assert verdict.action == "hold" and verdict.reasons == ["screening stalled"]
        assert flow.inference.stalled_for() is not None, "the thread is still held: the worker says so"

        waiting = _post("day 40 today").model_copy(update={"post_id": "p2"})
        started = time.monotonic()
        await flow.process([waiting])
        assert time.monotonic() - started < 0.15, "the next batch does not queue behind the hung thread"
        assert decode(PostScreened, producer.sent[-1][2]).verdict.reasons == ["screening stalled"]
        assert flow.fail_closed.problem() is None, "two posts in a row are not yet a broken screener"
    finally:
        release.set()
    while flow.inference.stalled_for() is not None:
        await asyncio.sleep(0.01)

    after = _post("day 41").model_copy(update={"post_id": "p3"})
    await flow.process([after])
    assert decode(PostScreened, producer.sent[-1][2]).verdict.action == "publish", "once it ends, screening resumes"
    assert flow.fail_closed.in_a_row == 0


async def test_a_slow_batch_of_long_posts_is_given_time_by_its_length() -> None:
    def slow(items: list[ScreeningInput]) -> list[Verdict]:
        time.sleep(0.3)
        return _verdict("none", [])(items)

    flow, producer, _ = _flow(slow, InferenceDeadline(base_s=0.1, chars_per_s=10_000))
    await flow.process([_post("x" * 10_000)])
    assert decode(PostScreened, producer.sent[-1][2]).verdict.action == "publish", "1.1 s for 10,000 characters"


async def test_every_post_failing_in_a_row_is_reported_and_one_screened_post_clears_it() -> None:
    broken = True

    def screen(items: list[ScreeningInput]) -> list[Verdict]:
        if broken:
            raise RuntimeError("weights unreadable")
        return _verdict("none", [])(items)

    flow, _, _ = _flow(screen)
    for n in range(3):
        await flow.process([_post("day 3").model_copy(update={"post_id": f"p{n}"})])
    assert flow.fail_closed.problem() == "screening failed for the last 3 posts (each held for a human)"
    broken = False
    await flow.process([_post("day 4").model_copy(update={"post_id": "p9"})])
    assert flow.fail_closed.problem() is None
