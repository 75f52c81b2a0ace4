"""The Kafka part of every service's lifecycle: topics, the producer, the readiness check."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from streams.kafka import create_producer, ensure_topics
from streams.kafka_probe import KafkaProbe
from streams.producer import RenewingProducer
from streams.settings import Settings


def kafka_producer_context(
    settings: Settings,
    client_id: str,
    producer_key: web.AppKey[RenewingProducer],
    checks: dict[str, Callable[[], Awaitable[str | None]]],
    on_started: Callable[[web.Application, RenewingProducer], None] | None = None,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """Create missing topics, run one idempotent producer for the app, and report Kafka readiness."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        await ensure_topics(settings)
        producer = create_producer(settings, client_id=client_id)
        await producer.start()
        app[producer_key] = producer
        if on_started is not None:
            on_started(app, producer)
        probe = KafkaProbe(settings)

        async def kafka_problem() -> str | None:
            return None if await probe.ready() else "Kafka unreachable"

        checks["kafka"] = kafka_problem
        yield
        await probe.close()
        await producer.stop()

    return context
