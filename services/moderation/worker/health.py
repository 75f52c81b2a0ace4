"""The screening worker's own /healthz, /readyz and /metrics (HAVEN_WORKER_PORT, default 8083).

The worker is a faust process without an HTTP API, so without these a stalled worker would leave
every other service's /readyz green while posts wait. Ready means: the agent is running, Kafka
answers, no batch has been failing for longer than `unready_after_s`, and screening has not failed
for the last few posts in a row (fail_closed.py). Alive means: no inference is hanging past its
deadline (inference_deadline.py); only a restart frees the thread it holds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.common.consuming import ConsumerMetrics
from services.common.health import setup_health
from services.common.http_serving import capped_connections, connection_counts_key, start_site
from services.moderation.worker.fail_closed import FailClosedTally
from services.moderation.worker.inference_deadline import GuardedInference
from streams.kafka_probe import KafkaProbe
from streams.lag import LagProbe
from streams.settings import Settings

log = logging.getLogger(__name__)

UNREADY_AFTER_S = 30.0


@dataclass
class WorkerMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.consumer = ConsumerMetrics(self.registry)
        self.screened = Counter(
            "haven_worker_posts_screened_total",
            "Post revisions screened and emitted",
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "haven_worker_batch_seconds",
            "Time to screen and emit one batch",
            registry=self.registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.lag = Gauge(
            "haven_worker_lag_events",
            "posts.submitted events not yet screened (committed)",
            registry=self.registry,
        )
        self.assigned_partitions = Gauge(
            "haven_worker_assigned_partitions",
            "Partitions of posts.submitted this worker is assigned",
            registry=self.registry,
        )
        self.oldest_waiting = Gauge(
            "haven_worker_oldest_unscreened_seconds",
            "Age of the oldest post waiting for screening",
            registry=self.registry,
        )
        self.failed_closed = Counter(
            "haven_worker_posts_failed_closed_total",
            "Posts held for a human because screening failed or stalled",
            ["reason"],
            registry=self.registry,
        )
        self.unwritten_records = Gauge(
            "haven_worker_screening_records_unwritten",
            "Screening records kept in memory while the database is out of reach",
            registry=self.registry,
        )


class WorkerState:
    """What the agent tells the health endpoints: started, and since when a batch keeps failing."""

    def __init__(self, metrics: WorkerMetrics, clock: Callable[[], float] = time.monotonic) -> None:
        self.metrics = metrics
        self._clock = clock
        self.agent_running = False
        self._failing_since: float | None = None
        self.fail_closed = FailClosedTally(lambda reason, count: metrics.failed_closed.labels(reason).inc(count))
        #: Set by the agent when it starts.
        self.inference: GuardedInference | None = None

    def batch_failed(self) -> None:
        if self._failing_since is None:
            self._failing_since = self._clock()
        self.metrics.consumer.retries.labels("moderation-worker").inc()
        self.metrics.consumer.retrying.labels("moderation-worker").set(1)

    def batch_done(self) -> None:
        self._failing_since = None
        self.metrics.consumer.retrying.labels("moderation-worker").set(0)

    def problem(self, unready_after_s: float = UNREADY_AFTER_S) -> str | None:
        if not self.agent_running:
            return "the screening agent is not running"
        if self._failing_since is not None and self._clock() - self._failing_since > unready_after_s:
            return f"a batch has been failing for {self._clock() - self._failing_since:.0f} s"
        return self.fail_closed.problem() or self.liveness_problem()

    def liveness_problem(self) -> str | None:
        stalled_s = self.inference.stalled_for() if self.inference is not None else None
        if stalled_s is not None:
            return f"an inference has run {stalled_s:.0f} s past its deadline"
        return None


def create_health_app(
    settings: Settings, state: WorkerState, probe: LagProbe | None, assigned: Callable[[], int] | None = None
) -> web.Application:
    app = web.Application()
    # Health and metrics only, but a port all the same: one client must not hold it from the probes.
    app[connection_counts_key] = capped_connections("moderation-worker", settings, state.metrics.registry)
    checks = setup_health(app, state.metrics.registry, alive=state.liveness_problem)

    async def agent_problem() -> str | None:
        return state.problem(settings.consumer_unready_after_s)

    kafka = KafkaProbe(settings)

    async def kafka_problem() -> str | None:
        return None if await kafka.ready() else "Kafka unreachable"

    checks["agent"] = agent_problem
    checks["kafka"] = kafka_problem

    async def refresh_lag(request: web.Request, handler: Callable[[web.Request], object]) -> web.StreamResponse:
        if request.path == "/metrics" and assigned is not None:
            state.metrics.assigned_partitions.set(assigned())
        if request.path == "/metrics" and probe is not None:
            try:
                lag = await probe.measure()
                state.metrics.lag.set(lag.events)
                state.metrics.oldest_waiting.set(lag.oldest_waiting_s or 0)
            except Exception as exc:  # a scrape still answers; the Kafka check says what is wrong
                log.warning("measuring the screening lag failed: %s", type(exc).__name__)
        return await handler(request)  # type: ignore[misc,no-any-return]  # aiohttp's handler type is untyped in middlewares

    app.middlewares.append(web.middleware(refresh_lag))

    async def lag_probe_ctx(app: web.Application) -> AsyncIterator[None]:
        if probe is not None:
            await probe.start()
        yield
        if probe is not None:
            await probe.stop()
        await kafka.close()

    app.cleanup_ctx.append(lag_probe_ctx)
    return app


async def serve_health(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = await start_site(app, host, port)
    log.info("moderation-worker health on http://%s:%d", host, port)
    return runner
