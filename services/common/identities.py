"""A service's own materialized copy of the `identities` topic, for checking bearer tokens.

Each service that checks tokens consumes the compacted topic into its own database (never the
token itself, only its hash). An unknown token is looked up again for up to ~2 s, since the
identity event may still be on its way, before the answer is 401.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from aiokafka import AIOKafkaProducer
from pymongo.asynchronous.collection import AsyncCollection

from services.common.consuming import EventConsumerLoop, consumer_metrics, watch_consumer
from services.common.lifecycle import background_task
from services.common.problems import Problem
from services.common.tokens import bearer_token, hash_token
from streams.events import Event, IdentityChanged
from streams.kafka import create_consumer
from streams.settings import Settings
from streams.topics import Topics

UNKNOWN_TOKEN_WAIT_S = 2.0


@dataclass(frozen=True)
class Identity:
    id: str
    kind: str
    role: str
    #: A moderator's account name (members' handles are not kept here).
    name: str = ""


class IdentityCache:
    """Identities by token hash: one document per token, keyed by its hash.

    Keying by the hash makes each check a primary-key lookup on any database (FerretDB, for one,
    uses an index only for a filter of exactly {_id: value}).
    """

    def __init__(self, collection: AsyncCollection, on_erased: Callable[[str], Awaitable[None]] | None = None) -> None:
        self._collection = collection
        self._on_erased = on_erased

    async def apply(self, event: IdentityChanged) -> None:
        if event.erased:
            await self._collection.delete_one({"_id": event.token_hash})
            if self._on_erased is not None:
                await self._on_erased(event.id)
            return
        await self._collection.update_one(
            {"_id": event.token_hash},
            {"$set": {
                "identity_id": event.id, "kind": event.kind, "role": event.role, "disabled": event.disabled,
                "name": (event.handle or "") if event.kind == "moderator" else "",
            }},
            upsert=True,
        )

    async def by_token(self, token: str, *, wait_s: float = UNKNOWN_TOKEN_WAIT_S) -> Identity | None:
        return await self.by_token_hash(hash_token(token), wait_s=wait_s)

    async def by_token_hash(self, token_hash: str, *, wait_s: float = UNKNOWN_TOKEN_WAIT_S) -> Identity | None:
        deadline = time.monotonic() + wait_s
        while True:
            doc = await self._collection.find_one({"_id": token_hash})
            if doc is not None:
                if doc.get("disabled"):
                    return None
                return Identity(doc["identity_id"], doc["kind"], doc.get("role", "member"), doc.get("name", ""))
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(0.2)


async def require_identity(request: web.Request, cache: IdentityCache, *, kinds: set[str] | None = None) -> Identity:
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        raise Problem(401, "Send your token as 'Authorization: Bearer <token>'.", headers={"WWW-Authenticate": "Bearer"})
    return await identity_for_token(cache, token, kinds=kinds)


async def identity_for_token(cache: IdentityCache, token: str, *, kinds: set[str] | None = None) -> Identity:
    """401 for a token nobody holds (or a disabled one), 403 for one without the needed kind."""
    identity = await cache.by_token(token)
    if identity is None:
        raise Problem(401, "This token is not valid (it may have been disabled or erased).",
                      headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if kinds is not None and identity.kind not in kinds:
        raise Problem(403, "This token does not allow that.")
    return identity


def identities_context(
    settings: Settings,
    service: str,
    cache_key: web.AppKey[IdentityCache],
    producer_key: web.AppKey[AIOKafkaProducer],
) -> Callable[[web.Application], AsyncIterator[None]]:
    """An aiohttp cleanup context that keeps the app's IdentityCache in step with the topic."""
    topics = Topics(settings.topic_prefix)

    async def context(app: web.Application) -> AsyncIterator[None]:
        cache = app[cache_key]
        consumer = create_consumer(
            # The group is named after the collection it fills: a new collection is filled by
            # reading the compacted topic from its start.
            settings, [topics.identities], group_id=f"{settings.topic_prefix}{service}-identity-tokens",
            client_id=service,
        )
        await consumer.start()

        async def handle(topic: str, event: Event) -> None:
            assert isinstance(event, IdentityChanged)
            await cache.apply(event)

        loop = EventConsumerLoop(
            name=service, consumer=consumer, producer=app[producer_key],
            dead_letter_topic=topics.dead_letter(service), decoders={topics.identities: IdentityChanged}, handle=handle,
            metrics=consumer_metrics(app),
        )
        watch_consumer(app, "consumer:identities", loop)
        async with background_task(f"{service}-identities", loop.run):
            yield
        await consumer.stop()

    return context
