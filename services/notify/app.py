"""The notify app factory: Server-Sent Events push and the inbox."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import CollectorRegistry

from services.common.health import setup_health
from services.common.metrics import http_metrics_middleware
from services.common.mongo import create_mongo_client, mongo_problem
from services.common.problems import problem_middleware
from streams.kafka import ensure_topics, kafka_ready
from streams.settings import Settings

MAX_REQUEST_BYTES = 64 * 1024


def create_app(settings: Settings) -> web.Application:
    registry = CollectorRegistry()
    app = web.Application(
        client_max_size=MAX_REQUEST_BYTES,
        middlewares=[problem_middleware, http_metrics_middleware(registry, "notify")],
    )
    checks = setup_health(app, registry)

    async def database(app: web.Application) -> AsyncIterator[None]:
        client = create_mongo_client(settings)
        checks["database"] = lambda: mongo_problem(client)
        yield
        await client.close()

    async def kafka(app: web.Application) -> AsyncIterator[None]:
        await ensure_topics(settings)

        async def kafka_problem() -> str | None:
            return None if await kafka_ready(settings) else "Kafka unreachable"

        checks["kafka"] = kafka_problem
        yield

    app.cleanup_ctx.extend([database, kafka])
    return app
