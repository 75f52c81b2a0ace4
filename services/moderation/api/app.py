"""The moderation API app factory: the resource directory, the review queue, moderators' actions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web
from prometheus_client import CollectorRegistry

from services.common.consuming import EventConsumerLoop, consumer_metrics, watch_consumer
from services.common.health import setup_health
from services.common.http_serving import service_application
from services.common.identities import IdentityCache, identities_context
from services.common.kafka_context import kafka_producer_context
from services.common.lifecycle import background_task
from services.common.mongo import create_mongo_client, mongo_problem
from services.common.openapi import setup_openapi
from services.moderation.api import console_views, resources_view, views
from services.moderation.api.console_sessions import ConsoleSessions
from services.moderation.api.decision_resends import keep_resending_decisions
from services.moderation.api.keys import (
    console_sessions_key,
    directory_key,
    identities_key,
    producer_key,
    publisher_key,
    settings_key,
    sla_key,
    store_key,
)
from services.moderation.api.openapi import moderation_openapi
from services.moderation.api.publisher import ModerationPublisher
from services.moderation.api.realert import UrgentRealerter
from services.moderation.api.sla import SlaMetrics
from services.moderation.api.stall_watch import StallWatch
from services.moderation.api.store import ModerationStore
from services.moderation.api.urgent_pages import UrgentPager, queue_item_id
from services.moderation.resources import ResourceDirectory
from streams.events import Event, PostDeleted, PostReported, PostScreened
from streams.kafka import create_consumer
from streams.lag import LagProbe
from streams.producer import RenewingProducer
from streams.settings import Settings
from streams.topics import Topics

CONSUMER_NAME = "moderation-api"
#: The screening worker's consumer name (services/moderation/worker/app.py; faust would be a heavy import here).
WORKER_CONSUMER_NAME = "moderation-worker"


def create_app(settings: Settings, directory: ResourceDirectory) -> web.Application:
    registry = CollectorRegistry()
    app = service_application("moderation", settings, registry)
    app[settings_key] = settings
    app[directory_key] = directory
    app[sla_key] = SlaMetrics(registry)
    checks = setup_health(app, registry, serves_degraded=True)
    setup_openapi(app, moderation_openapi())
    resources_view.setup_routes(app)
    views.setup_routes(app)
    console_views.setup_routes(app)
    topics = Topics(settings.topic_prefix)

    async def database(app: web.Application) -> AsyncIterator[None]:
        client = create_mongo_client(settings)
        db = client[settings.database_name("moderation")]
        review = ModerationStore(db, claim_lease=timedelta(seconds=settings.claim_lease_s))
        await review.ensure_indexes()
        app[store_key] = review
        identities = IdentityCache(db["identity_tokens"], on_erased=review.forget_author)
        await identities.ensure_indexes()
        app[identities_key] = identities
        app[console_sessions_key] = ConsoleSessions(
            db["console_sessions"], identities, timedelta(hours=settings.console_session_hours)
        )
        checks["database"] = lambda: mongo_problem(client)
        # Once per database, beside serving (a long audit log takes minutes); trails are read
        # with the query until it is done.
        async with background_task("audit-trails", review.build_audit_trails_once):
            yield
        await client.close()

    async def queue_feed(app: web.Application) -> AsyncIterator[None]:
        review, publisher = app[store_key], app[publisher_key]
        decoders: dict[str, type[Event]] = {
            topics.posts_screened: PostScreened,
            topics.posts_reported: PostReported,
            topics.posts_deleted: PostDeleted,
        }
        consumer = create_consumer(
            settings, list(decoders), group_id=f"{settings.topic_prefix}{CONSUMER_NAME}", client_id=CONSUMER_NAME
        )
        await consumer.start()

        pager = UrgentPager(publisher.new_item, review.alerted_items)

        async def handle(topic: str, event: Event) -> None:
            if isinstance(event, PostDeleted):
                await review.forget_post(event.post_id)
                return
            if isinstance(event, PostScreened):
                await pager.page_urgent([event])
                level = await review.add_screened(event)
                if level is not None:
                    item_id = queue_item_id(event)
                    if not pager.already_paged(item_id):
                        await publisher.new_item(item_id, event.post_id, level)
                    await review.mark_alerted(item_id)
            elif isinstance(event, PostReported):
                await review.add_report(event)
            # Only where something about the post was queued: a published post keeps nothing here.
            if isinstance(event, PostReported) or (isinstance(event, PostScreened) and review.queues(event)):
                await review.remove_words_if_gone(event.post_id, event.author_id)

        async def page_ahead(events: list[tuple[str, Event]]) -> None:
            # Runs on every fetch, also when a partition is fetched again behind an event that waits
            # for the database: an urgent verdict queued behind a held one pages now, not after.
            await pager.page_urgent(event for _, event in events)

        loop: EventConsumerLoop[Event] = EventConsumerLoop(
            name=CONSUMER_NAME,
            consumer=consumer,
            producer=app[producer_key],
            dead_letter_topic=topics.dead_letter(CONSUMER_NAME),
            decoders=decoders,
            handle=handle,
            metrics=consumer_metrics(app),
            unready_after_s=settings.consumer_unready_after_s,
            prepare=page_ahead,
        )
        watch_consumer(app, "consumer:queue", loop)
        async with background_task("moderation-queue-feed", loop.run):
            yield
        await consumer.stop()

    async def urgent_realerts(app: web.Application) -> AsyncIterator[None]:
        realerter = UrgentRealerter(
            app[store_key], app[publisher_key], app[sla_key], timedelta(seconds=settings.urgent_realert_after_s)
        )
        async with background_task("moderation-urgent-realerts", realerter.run):
            yield

    async def decision_resends(app: web.Application) -> AsyncIterator[None]:
        async with background_task(
            "moderation-decision-resends", lambda: keep_resending_decisions(app[store_key], app[publisher_key])
        ):
            yield

    async def screening_watchdog(app: web.Application) -> AsyncIterator[None]:
        # The faust worker's consumer group is named after its app id.
        probe = LagProbe(
            settings, group_id=f"{settings.topic_prefix}{WORKER_CONSUMER_NAME}", topic=topics.posts_submitted
        )
        await probe.start()
        watch = StallWatch(
            probe.measure,
            app[publisher_key].screening_stalled,
            registry,
            stalled_after_s=settings.screening_stalled_after_s,
        )
        async with background_task("moderation-screening-watchdog", watch.run):
            yield
        await probe.stop()

    def attach_publisher(app: web.Application, producer: RenewingProducer) -> None:
        app[publisher_key] = ModerationPublisher(producer, topics)

    app.cleanup_ctx.extend(
        [
            database,
            kafka_producer_context(settings, CONSUMER_NAME, producer_key, checks, on_started=attach_publisher),
            identities_context(settings, CONSUMER_NAME, identities_key, producer_key),
            queue_feed,
            urgent_realerts,
            decision_resends,
            screening_watchdog,
        ]
    )
    return app
