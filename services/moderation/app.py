"""The moderation API app factory: the resource directory, the review queue, the console."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import CollectorRegistry

from services.common.health import setup_health
from services.common.metrics import http_metrics_middleware
from services.common.mongo import create_mongo_client, mongo_problem
from services.common.problems import problem_middleware
from services.moderation import resources_view
from services.moderation.keys import directory_key, settings_key
from services.moderation.resources import ResourceDirectory
from streams.kafka import ensure_topics, kafka_ready
from streams.settings import Settings

MAX_REQUEST_BYTES = 64 * 1024


def create_app(settings: Settings, directory: ResourceDirectory) -> web.Application:
    registry = CollectorRegistry()
    app = web.Application(
        client_max_size=MAX_REQUEST_BYTES,
        middlewares=[problem_middleware, http_metrics_middleware(registry, "moderation")],
    )
    app[settings_key] = settings
    app[directory_key] = directory
    checks = setup_health(app, registry)
    resources_view.setup_routes(app)

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
