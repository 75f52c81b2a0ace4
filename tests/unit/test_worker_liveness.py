"""A worker whose inference thread hangs says so on /healthz, so the kubelet restarts it (only a
new process gets the thread back), and a worker whose every post fails closed is not ready, so a
rollout of a broken model stops at its first pod."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.moderation.screening import ScreeningInput
from services.moderation.worker.health import WorkerMetrics, WorkerState, create_health_app
from services.moderation.worker.inference_deadline import GuardedInference, InferenceDeadline, InferenceStalled
from streams.events import Verdict
from streams.settings import Settings


@pytest.fixture
async def hanging() -> AsyncIterator[tuple[WorkerState, TestClient]]:  # type: ignore[type-arg]
    release = threading.Event()

    def screen(items: Sequence[ScreeningInput]) -> list[Verdict]:
        release.wait(30)
        return []

    state = WorkerState(WorkerMetrics())
    state.agent_running = True
    state.inference = GuardedInference(screen, ThreadPoolExecutor(1), InferenceDeadline(base_s=0.05))
    client = TestClient(TestServer(create_health_app(Settings(), state, probe=None)))
    await client.start_server()
    try:
        yield state, client
    finally:
        release.set()
        await client.close()


async def test_an_inference_past_its_deadline_fails_liveness_until_it_ends(hanging) -> None:  # type: ignore[no-untyped-def]
    state, client = hanging
    assert (await client.get("/healthz")).status == 200
    with pytest.raises(InferenceStalled):
        await state.inference.screen([ScreeningInput(id="p1", text="day 3")])

    response = await client.get("/healthz")
    assert response.status == 503
    assert (await response.json())["problem"].startswith("an inference has run")
    ready = await (await client.get("/readyz")).json()
    assert ready["failing"]["agent"].startswith("an inference has run")


async def test_every_post_failing_closed_makes_the_worker_unready_but_alive(hanging) -> None:  # type: ignore[no-untyped-def]
    state, client = hanging
    state.fail_closed.record(0, {"screening failed": 3})
    ready = await (await client.get("/readyz")).json()
    assert ready["failing"]["agent"] == "screening failed for the last 3 posts (each held for a human)"
    assert (await client.get("/healthz")).status == 200, "a restart would not mend a broken model"
    metrics = await (await client.get("/metrics")).text()
    assert 'haven_worker_posts_failed_closed_total{reason="screening failed"} 3.0' in metrics


async def test_the_same_thread_screens_again_once_a_late_inference_ends() -> None:
    release = threading.Event()

    def screen(items: Sequence[ScreeningInput]) -> list[Verdict]:
        release.wait(30)
        return [Verdict(id=i.id, risk="none", categories=[], action="publish", model_version="t") for i in items]

    inference = GuardedInference(screen, ThreadPoolExecutor(1), InferenceDeadline(base_s=0.05))
    with pytest.raises(InferenceStalled):
        await inference.screen([ScreeningInput(id="p1", text="day 3")])
    with pytest.raises(InferenceStalled, match="still running"):
        await inference.screen([ScreeningInput(id="p2", text="day 4")])
    release.set()
    while inference.stalled_for() is not None:
        await asyncio.sleep(0.01)
    [verdict] = await inference.screen([ScreeningInput(id="p3", text="day 5")])
    assert verdict.id == "p3"
