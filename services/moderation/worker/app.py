"""The screening worker: a faust-streaming agent over posts.submitted.

Posts are screened in micro-batches: the agent takes whatever arrived within a short window
(BATCH_WINDOW_S), so under load the model runs batched, while a lone post waits at most that
long. Inference runs in a thread so the event loop keeps consuming and heartbeating.

Tracing: each post's span continues the trace of its message's `traceparent` header
(`screening_spans.py`), and its verdict is sent inside that span.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import faust

from services.common.mongo import create_mongo_client
from services.common.tracing import consumer_span
from services.moderation.resources import ResourceDirectory
from services.moderation.screening.policy import Policy
from services.moderation.screening.screener import ScreenBatch
from services.moderation.worker.health import WorkerMetrics, WorkerState, create_health_app, serve_health
from services.moderation.worker.inference_deadline import GuardedInference, InferenceDeadline
from services.moderation.worker.screening_flow import ScreeningFlow
from services.moderation.worker.screening_records import ScreeningRecords, keep_writing_unwritten
from services.moderation.worker.screening_spans import PostSpans
from streams.events import PostSubmitted
from streams.kafka import create_producer, send_dead_letter
from streams.kafka_security import faust_credentials
from streams.lag import LagProbe
from streams.serialization import UndecodableEvent, decode
from streams.settings import Settings
from streams.topics import Topics

log = logging.getLogger(__name__)

BATCH_SIZE = 32
BATCH_WINDOW_S = 0.03
CONSUMER_NAME = "moderation-worker"


def create_worker_app(
    settings: Settings, screen_batch: ScreenBatch, policy: Policy, directory: ResourceDirectory
) -> faust.App:
    topics = Topics(settings.topic_prefix)
    faust_dir = settings.state_dir / "faust"
    faust_dir.mkdir(parents=True, exist_ok=True)  # faust creates only the last level itself
    app = faust.App(
        f"{settings.topic_prefix}{CONSUMER_NAME}",
        broker=f"kafka://{settings.kafka_bootstrap}",
        # The same principal, mechanism and TLS as every aiokafka client (streams/kafka_security.py).
        broker_credentials=faust_credentials(settings),
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        # Topics are created by `ensure_topics` with their retention; faust must not declare them.
        topic_allow_declare=False,
        topic_disable_leader=True,
        store="memory://",
        # Faust keeps a (here empty) data directory per app id: under the state dir, not the cwd.
        datadir=str(faust_dir / "{conf.id}"),
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=0.5,
        # A killed worker's partitions go to the others after 10 s, not faust's default 60 s.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        producer_acks=-1,
    )
    submitted_topic = app.topic(topics.posts_submitted, key_type=bytes, value_type=bytes)

    metrics = WorkerMetrics()
    state = WorkerState(metrics)
    dead_letter_topic = topics.dead_letter(CONSUMER_NAME)

    async def screen_submitted_posts(stream: Any) -> None:
        mongo = create_mongo_client(settings)
        records = ScreeningRecords(mongo[settings.database_name("moderation")]["screenings"])
        producer = create_producer(settings, client_id=CONSUMER_NAME)
        await producer.start()
        # One inference thread: torch itself uses both cores inside it.
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="screener")
        inference = GuardedInference(screen_batch, executor, InferenceDeadline(base_s=settings.screening_deadline_s))
        state.inference = inference
        flow = ScreeningFlow(
            inference=inference,
            policy=policy,
            directory=directory,
            producer=producer,
            topics=topics,
            records=records,
            fail_closed=state.fail_closed,
        )
        metrics.unwritten_records.set_function(lambda: records.unwritten)
        state.agent_running = True
        writing_unwritten = asyncio.create_task(keep_writing_unwritten(records))
        try:
            async for events in stream.take_events(BATCH_SIZE, within=BATCH_WINDOW_S):
                posts = []
                spans = PostSpans()
                for event in events:
                    # faust 0.15: the record's headers as aiokafka gave them, (name, bytes) pairs.
                    message = event.message
                    try:
                        post = decode(PostSubmitted, event.value)
                    except UndecodableEvent as exc:
                        # Faust acknowledges whatever leaves the agent, so the dead letter must be
                        # written before we go on: retried like any other transient failure.
                        with consumer_span(None, message.topic, message.headers, {"haven.outcome": "undecodable"}):
                            await _until_done(
                                state,
                                partial(
                                    send_dead_letter,
                                    producer,
                                    dead_letter_topic,
                                    CONSUMER_NAME,
                                    message,
                                    f"undecodable: {exc}",
                                ),
                            )
                        metrics.consumer.dead_letters.labels(CONSUMER_NAME, "undecodable").inc()
                        continue
                    posts.append(post)
                    spans.start(post, message.topic, message.headers, len(events))
                started = time.perf_counter()
                try:
                    await _until_done(state, partial(_screen_and_count, flow, posts, metrics, spans))
                finally:
                    spans.end()
                metrics.batch_seconds.observe(time.perf_counter() - started)
        finally:
            state.agent_running = False
            writing_unwritten.cancel()
            executor.shutdown(wait=False)
            await producer.stop()
            await mongo.close()

    def _assigned_count() -> int:
        try:
            return sum(1 for tp in app.consumer.assignment() if tp.topic == topics.posts_submitted)
        except Exception:  # the consumer is not started yet, or is between assignments
            return 0

    async def serve_health_endpoints() -> None:
        probe = LagProbe(settings, group_id=app.conf.id, topic=topics.posts_submitted)
        try:
            runner = await serve_health(
                create_health_app(settings, state, probe, assigned=_assigned_count), settings.host, settings.worker_port
            )
        except OSError as exc:
            # Screening goes on without them (a second worker on one machine, say); readiness
            # checks against this worker will fail, which says the same thing loudly.
            log.error(
                "worker health endpoints not served on port %d (%s); set HAVEN_WORKER_PORT",
                settings.worker_port,
                exc.strerror,
            )
            return
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    app.agent(submitted_topic, name="screen_submitted_posts")(screen_submitted_posts)
    app.task(serve_health_endpoints)
    return app


async def _screen_and_count(
    flow: ScreeningFlow, posts: list[PostSubmitted], metrics: WorkerMetrics, spans: PostSpans
) -> None:
    metrics.screened.inc(await flow.process(posts, spans.emitting))


async def _until_done(state: WorkerState, attempt: Callable[[], Awaitable[object]]) -> None:
    """Retry until it succeeds: the batch is acknowledged only after its verdicts are out, and a
    transient failure (Kafka; a database out of reach does not stop a batch, see
    screening_records.py) lasts as long as it lasts. Its duration shows on /readyz."""
    delay = 0.2
    attempts = 0
    while True:
        try:
            await attempt()
            state.batch_done()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            attempts += 1
            state.batch_failed()
            if attempts == 1 or attempts % 12 == 0:
                log.warning(
                    "emitting verdicts failed (%s), attempt %d; retrying in %.1f s", type(exc).__name__, attempts, delay
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
