"""The forum app factory: anonymous identities, boards, threads and posts."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import CollectorRegistry

from services.common.consuming import EventConsumerLoop, consumer_metrics, watch_consumer
from services.common.health import setup_health
from services.common.http_serving import service_application
from services.common.kafka_context import kafka_producer_context
from services.common.lifecycle import background_task
from services.common.mongo import create_mongo_client, mongo_problem
from services.common.openapi import setup_openapi
from services.forum import member_views, post_actions, views
from services.forum.boards import SEEDED_BOARDS
from services.forum.crisis_lines import StandingLines, standing_lines_key
from services.forum.edit_resends import keep_resending_edits
from services.forum.idempotency import (
    IdempotencyRecords,
    keep_forgetting_old_keys,
    keep_writing_late_answers,
    write_late_answers_before_leaving,
)
from services.forum.keys import (
    hotline_numbers_key,
    idempotency_key,
    identity_window_key,
    limits_key,
    member_turns_key,
    producer_key,
    publisher_key,
    settings_key,
    store_key,
)
from services.forum.limits import AddressWindow, MemberTurns, RateLimits
from services.forum.materializer import PostStateMaterializer
from services.forum.openapi import forum_openapi
from services.forum.page_lists import build_page_lists
from services.forum.publisher import ForumPublisher
from services.forum.store import ForumStore
from streams.events import Event
from streams.kafka import create_consumer
from streams.producer import RenewingProducer
from streams.settings import Settings
from streams.topics import Topics


def create_app(
    settings: Settings,
    *,
    standing_lines: StandingLines,
    limits: RateLimits | None = None,
    hotline_numbers: frozenset[str] = frozenset(),
) -> web.Application:
    """The forum. `standing_lines` gives the crisis lines a refused post's answer carries
    (services/forum/crisis_lines.py); `hotline_numbers` are never redacted from a post."""
    registry = CollectorRegistry()
    app = service_application("forum", settings, registry)
    app[settings_key] = settings
    app[limits_key] = limits or RateLimits()
    app[identity_window_key] = AddressWindow(app[limits_key].identities_per_hour_per_address)
    app[member_turns_key] = MemberTurns()
    app[hotline_numbers_key] = hotline_numbers
    app[standing_lines_key] = standing_lines
    checks = setup_health(app, registry, serves_degraded=True)
    setup_openapi(app, forum_openapi())
    views.setup_routes(app)
    member_views.setup_routes(app)
    post_actions.setup_routes(app)

    async def database(app: web.Application) -> AsyncIterator[None]:
        client = create_mongo_client(settings)
        store = ForumStore(client[settings.database_name("forum")])
        await store.ensure_indexes()
        await store.seed_boards(SEEDED_BOARDS)
        if not await store.page_lists_complete():
            await build_page_lists(store)  # old data, or a new database (then it takes no time)
        await store.link_every_token()  # likewise: once per database
        app[store_key] = store
        records = app[idempotency_key] = IdempotencyRecords(store.db["idempotency_keys"])
        await records.ensure_indexes()
        checks["database"] = lambda: mongo_problem(client)

        async def list_quotes() -> None:
            await store.quotes.build(store.posts)

        async with (
            background_task("idempotency-expiry", lambda: keep_forgetting_old_keys(records)),
            background_task("idempotency-late-answers", lambda: keep_writing_late_answers(records)),
            # Once per database, beside serving (16 s at 100,000 posts); quotes are searched for until then.
            background_task("quote-lists", list_quotes),
        ):
            yield
        await write_late_answers_before_leaving(records)
        await client.close()

    async def materializer(app: web.Application) -> AsyncIterator[None]:
        topics = Topics(settings.topic_prefix)
        state = PostStateMaterializer(app[store_key], topics, app[publisher_key])
        consumer = create_consumer(
            settings, list(state.decoders()), group_id=f"{settings.topic_prefix}forum", client_id="forum"
        )
        await consumer.start()
        loop: EventConsumerLoop[Event] = EventConsumerLoop(
            name="forum",
            consumer=consumer,
            producer=app[producer_key],
            dead_letter_topic=topics.dead_letter("forum"),
            decoders=state.decoders(),
            handle=state.handle,
            prepare=state.prepare,
            metrics=consumer_metrics(app),
            unready_after_s=settings.consumer_unready_after_s,
        )
        watch_consumer(app, "consumer:posts", loop)
        async with background_task("forum-materializer", loop.run):
            yield
        await consumer.stop()

    def attach_publisher(app: web.Application, producer: RenewingProducer) -> None:
        app[publisher_key] = ForumPublisher(producer, Topics(settings.topic_prefix))

    async def edit_resends(app: web.Application) -> AsyncIterator[None]:
        async with background_task("edit-resends", lambda: keep_resending_edits(app[store_key], app[publisher_key])):
            yield

    kafka = kafka_producer_context(settings, "forum", producer_key, checks, on_started=attach_publisher)
    app.cleanup_ctx.extend([database, kafka, materializer, edit_resends])
    return app
