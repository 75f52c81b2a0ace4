"""The notify app factory: Server-Sent Events push and the inbox.

The instances share one consumer group that stores each notification in the inbox once. Each
instance also reads every partition from the topic's end, without a group, and pushes what
arrives to the connections open on it; the inbox is the source of replay.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from services.common.consuming import EventConsumerLoop, consumer_metrics, watch_consumer
from services.common.database_absence import DatabaseAbsence
from services.common.health import setup_health
from services.common.http_serving import service_application
from services.common.identities import IdentityCache, identities_context
from services.common.kafka_context import kafka_producer_context
from services.common.lifecycle import background_task
from services.common.mongo import create_mongo_client, mongo_problem
from services.common.openapi import setup_openapi
from services.notify import views
from services.notify.hub import Hub
from services.notify.keys import heartbeat_key, hub_key, identities_key, inbox_absence_key, store_key
from services.notify.live_items import LiveItems
from services.notify.openapi import notify_openapi
from services.notify.store import Inbox, StoredBatch
from streams.events import Event, Notification, PostDeleted
from streams.kafka import create_consumer
from streams.producer import RenewingProducer
from streams.settings import Settings
from streams.topics import Topics

producer_key = web.AppKey("producer", RenewingProducer)


def default_instance_name(settings: Settings) -> str:
    """Unique per running instance: the host name (a pod's name on Kubernetes) and the port.

    Instances that shared a name would share a consumer group, split the partitions between them,
    and each miss the events meant for the other's connections.
    """
    return settings.notify_instance or f"{socket.gethostname()}-{settings.notify_port}"


def create_app(settings: Settings, *, instance: str | None = None, heartbeat_s: float | None = None) -> web.Application:
    registry = CollectorRegistry()
    app = service_application("notify", settings, registry)
    checks = setup_health(app, registry, serves_degraded=True)
    unstored_pushes = Counter(
        "haven_notify_pushed_unstored_total",
        "Notifications pushed to live streams before the inbox could store them",
        registry=registry,
    )
    setup_openapi(app, notify_openapi())
    views.setup_routes(app)
    hub = Hub(max_streams_per_identity=settings.max_streams_per_identity)
    app[hub_key] = hub
    app[heartbeat_key] = heartbeat_s or settings.sse_heartbeat_s
    inbox_absence = app[inbox_absence_key] = DatabaseAbsence("the inbox")
    instance_name = instance or default_instance_name(settings)
    topics = Topics(settings.topic_prefix)

    async def database(app: web.Application) -> AsyncIterator[None]:
        client = create_mongo_client(settings)
        db = client[settings.database_name("notify")]
        inbox = Inbox(db)
        await inbox.ensure_indexes()
        await inbox.lists.build(db["inbox"])  # once: lists items stored before the lists existed
        app[store_key] = inbox
        # A disabled or erased identity's open streams end at once, on every instance.
        app[identities_key] = IdentityCache(db["identity_tokens"], on_erased=inbox.purge, on_revoked=hub.revoke)
        await app[identities_key].ensure_indexes()
        checks["database"] = lambda: mongo_problem(client)

        async def list_words_by_post() -> None:
            await inbox.words_by_post.build(db["inbox"])

        # Once per database, beside serving; a deleted post's notes are searched for until then.
        async with background_task("inbox-words-by-post", list_words_by_post):
            yield
        await client.close()

    async def store(app: web.Application) -> AsyncIterator[None]:
        """The inbox is written by one consumer group shared by every instance: durable, committed,
        so a restart neither loses nor replays what was stored (nor resurrects what erasure purged)."""
        inbox = app[store_key]
        consumer = create_consumer(
            settings,
            [topics.notifications, topics.posts_deleted],
            group_id=f"{settings.topic_prefix}notify-inbox",
            client_id="notify",
        )
        await consumer.start()
        batch = StoredBatch(inbox)

        async def handle(topic: str, event: Event) -> None:
            if isinstance(event, PostDeleted):
                await inbox.forget_words(event.post_id)
                return
            assert isinstance(event, Notification)
            await batch.stored(event)

        loop: EventConsumerLoop[Event] = EventConsumerLoop(
            name="notify",
            consumer=consumer,
            producer=app[producer_key],
            dead_letter_topic=topics.dead_letter("notify"),
            decoders={topics.notifications: Notification, topics.posts_deleted: PostDeleted},
            handle=handle,
            prepare=batch.prepare,
            metrics=consumer_metrics(app),
            unready_after_s=settings.consumer_unready_after_s,
        )
        watch_consumer(app, "consumer:notifications", loop)
        async with background_task("notify-inbox", loop.run):
            yield
        await consumer.stop()

    async def push(app: web.Application) -> AsyncIterator[None]:
        """Live push to this instance's connections: every partition, no group, from the topic's end.

        Nothing is committed, so a restarted or added instance never replays old notifications to
        live streams; a client that was away catches up from the inbox (Last-Event-ID)."""
        inbox = app[store_key]
        consumer = create_consumer(
            settings,
            [topics.notifications],
            group_id=None,
            client_id=f"notify-{instance_name}",
            auto_offset_reset="latest",
        )
        await consumer.start()

        live_items = LiveItems(inbox, absence=inbox_absence, on_unstored=unstored_pushes.inc)

        async def handle(topic: str, event: Event) -> None:
            assert isinstance(event, Notification)
            if not hub.listening(event.recipient_id):
                return  # no one to push to here; the inbox consumer stores it
            hub.publish(await live_items.item_for(event))

        loop: EventConsumerLoop[Event] = EventConsumerLoop(
            name="notify-push",
            consumer=consumer,
            producer=app[producer_key],
            dead_letter_topic=topics.dead_letter("notify"),
            decoders={topics.notifications: Notification},
            handle=handle,
            metrics=consumer_metrics(app),
            unready_after_s=settings.consumer_unready_after_s,
            commits=False,
        )
        async with background_task("notify-push", loop.run):
            yield
        hub.close_all()
        await consumer.stop()

    async def close_streams(app: web.Application) -> None:
        hub.close_all()

    app.on_shutdown.append(close_streams)
    app.cleanup_ctx.extend(
        [
            database,
            kafka_producer_context(settings, "notify", producer_key, checks),
            identities_context(settings, "notify", identities_key, producer_key),
            store,
            push,
        ]
    )
    return app
