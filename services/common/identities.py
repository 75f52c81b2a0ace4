"""A service's own materialized copy of the `identities` topic, for checking bearer tokens.

Each service that checks tokens consumes the compacted topic into its own database (never the
token itself, only its hash). An unknown token is looked up again for up to ~2 s, since the
identity event may still be on its way, before the answer is 401.

That wait is paid once: concurrent checks of the same unknown token share one wait, and a token
found unknown is then answered 401 at once, without reading the database, for a few seconds. Every
instance also watches the whole topic (no consumer group, from its end) so that an identity event
drops such an entry wherever it is held, and so that a disabled or erased identity's live
connections can be ended on every instance, not only on the one whose consumer applied the event.

The identity each token last read as valid is also kept in memory (bounded), and answers only when
the database does not: an author whose stream drops while the databases are gone can open it again
and get their crisis resources. An identity event for the token (read by the watcher from Kafka,
so it arrives without the database) replaces the entry with its state; a disabled or erased
identity drops every entry it has.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from aiohttp import web
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from services.common.consuming import EventConsumerLoop, consumer_metrics, watch_consumer
from services.common.database_absence import DatabaseAbsence, DatabaseAway
from services.common.lifecycle import background_task
from services.common.problems import Problem
from services.common.tokens import ExpiringHashes, bearer_token, hash_token
from streams.events import Event, IdentityChanged
from streams.kafka import create_consumer
from streams.producer import RenewingProducer
from streams.serialization import UndecodableEvent, decode
from streams.settings import Settings
from streams.topics import Topics

UNKNOWN_TOKEN_WAIT_S = 2.0
UNKNOWN_TOKEN_POLL_S = 0.2
#: How long a token found unknown is answered 401 without a look-up. Short, because the only
#: way a real token gets here is being used before its identity event arrived.
UNKNOWN_TOKEN_TTL_S = 5.0
#: A hash whose identity event was seen this recently is never cached as unknown: the event can
#: reach this instance's watcher before another instance has written it to the database.
ANNOUNCED_TTL_S = 60.0
#: Bounds the memory a flood of made-up tokens (or of new identities) can take.
MAX_REMEMBERED_HASHES = 10_000
#: How long a token check waits for the database before it answers from the identities it
#: remembers (or, for a token it does not remember, with a 503).
READ_WAIT_S = 3.0
#: Identities remembered for a database outage: one entry per token lately seen valid.
MAX_REMEMBERED_IDENTITIES = 50_000


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

    def __init__(
        self,
        collection: AsyncCollection[dict[str, Any]],
        on_erased: Callable[[str], Awaitable[None]] | None = None,
        *,
        on_revoked: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        unknown_ttl_s: float = UNKNOWN_TOKEN_TTL_S,
        max_remembered: int = MAX_REMEMBERED_HASHES,
        read_wait_s: float = READ_WAIT_S,
        max_remembered_identities: int = MAX_REMEMBERED_IDENTITIES,
    ) -> None:
        self._collection = collection
        self._on_erased = on_erased
        self._on_revoked = on_revoked
        self._clock = clock
        self._sleep = sleep
        self._unknown = ExpiringHashes(ttl_s=unknown_ttl_s, max_entries=max_remembered, clock=clock)
        self._announced = ExpiringHashes(ttl_s=ANNOUNCED_TTL_S, max_entries=max_remembered, clock=clock)
        self._waits: dict[str, asyncio.Future[Identity | None]] = {}
        self._read_wait_s = read_wait_s
        self._absence = DatabaseAbsence("the identity tokens", clock=clock)
        self._valid: OrderedDict[str, Identity] = OrderedDict()
        self._max_valid = max_remembered_identities
        #: Token hashes being read now (with how many reads), and those of them an identity event
        #: overtook: such a read is older than the event, so it is not remembered.
        self._reading: dict[str, int] = {}
        self._overtaken: set[str] = set()

    async def ensure_indexes(self) -> None:
        # An erasure drops every token of the identity (a tombstone knows only its id).
        await self._collection.create_index([("identity_id", ASCENDING)])

    async def apply(self, event: IdentityChanged) -> None:
        if event.erased:
            # By identity too: a tombstone read as an erasure knows the id only (see identity_gone).
            await self._collection.delete_one({"_id": event.token_hash})
            await self._collection.delete_many({"identity_id": event.id})
            self.notice(event)
            if self._on_erased is not None:
                await self._on_erased(event.id)
            return
        identity = _identity_of(event)
        await self._collection.update_one(
            {"_id": event.token_hash},
            {
                "$set": {
                    "identity_id": identity.id,
                    "kind": identity.kind,
                    "role": identity.role,
                    "disabled": event.disabled,
                    "name": identity.name,
                }
            },
            upsert=True,
        )
        self.notice(event)

    def notice(self, event: IdentityChanged) -> None:
        """Take note of an identity event seen on this instance (applied here or only watched).

        Never blocks and is idempotent. Drops any "unknown" entry for the event's token hash, so a
        brand-new token works as soon as its event is here, and reports a disabled or erased
        identity to `on_revoked` (which must not block either).
        """
        self._unknown.discard(event.token_hash)
        self._announced.add(event.token_hash)
        if event.token_hash in self._reading:
            self._overtaken.add(event.token_hash)
        if event.disabled or event.erased:
            self._valid.pop(event.token_hash, None)
            for token_hash in [h for h, identity in self._valid.items() if identity.id == event.id]:
                del self._valid[token_hash]
            if self._on_revoked is not None:
                self._on_revoked(event.id)
        elif event.token_hash in self._valid or event.token_hash in self._reading:
            # The event is the identity's newest state (the same event is seen twice: applied, and
            # by the watcher); only tokens read here are kept, so new identities push none out.
            self._remember_valid(event.token_hash, _identity_of(event))

    async def by_token(self, token: str, *, wait_s: float = UNKNOWN_TOKEN_WAIT_S) -> Identity | None:
        return await self.by_token_hash(hash_token(token), wait_s=wait_s)

    async def by_token_hash(self, token_hash: str, *, wait_s: float = UNKNOWN_TOKEN_WAIT_S) -> Identity | None:
        """The identity holding this token, or None (unknown, disabled or erased).

        With `wait_s` > 0 an unknown hash is looked up again until `wait_s` has passed (callers
        asking about the same hash meanwhile share that wait), and is then answered None at once
        for a few seconds. With `wait_s` == 0: exactly one read, no cache.

        When the database does not answer within `read_wait_s`, a token lately seen valid is
        answered from memory; any other raises DatabaseAway (a 503).
        """
        if wait_s <= 0:
            _, identity = await self._read(token_hash)
            return identity
        if token_hash in self._unknown:
            return None
        wait = self._waits.get(token_hash)
        if wait is None:
            wait = asyncio.ensure_future(self._wait_for(token_hash, wait_s))
            self._waits[token_hash] = wait
            wait.add_done_callback(lambda done: self._end_wait(token_hash, done))
        # Shielded: a caller that gives up (a client that hangs up) must not cancel the others' wait.
        return await asyncio.shield(wait)

    async def _wait_for(self, token_hash: str, wait_s: float) -> Identity | None:
        deadline = self._clock() + wait_s
        while True:
            found, identity = await self._read(token_hash)
            if found:
                return identity
            if self._clock() >= deadline:
                break
            await self._sleep(UNKNOWN_TOKEN_POLL_S)
        # No await between this check and the add, so an event noticed during the wait either
        # is seen here or drops the entry afterwards.
        if token_hash not in self._announced:
            self._unknown.add(token_hash)
        return None

    def _end_wait(self, token_hash: str, done: asyncio.Future[Identity | None]) -> None:
        if self._waits.get(token_hash) is done:
            del self._waits[token_hash]
        if not done.cancelled():
            # Retrieved here so that a failed wait whose callers all left is not reported as an
            # unretrieved task exception; callers still awaiting it get the exception themselves.
            done.exception()

    async def _read(self, token_hash: str) -> tuple[bool, Identity | None]:
        self._reading[token_hash] = self._reading.get(token_hash, 0) + 1
        try:
            try:
                doc = await self._absence.ask(
                    partial(self._collection.find_one, {"_id": token_hash}), self._read_wait_s
                )
            except DatabaseAway:
                remembered = self._valid.get(token_hash)
                if remembered is None:
                    raise
                return True, remembered
            found = doc is not None
            identity = None if doc is None or doc.get("disabled") else _identity_of_document(doc)
            if token_hash not in self._overtaken:
                if identity is None:
                    self._valid.pop(token_hash, None)
                else:
                    self._remember_valid(token_hash, identity)
            return found, identity
        finally:
            left = self._reading.pop(token_hash) - 1
            if left:
                self._reading[token_hash] = left
            else:
                self._overtaken.discard(token_hash)

    def _remember_valid(self, token_hash: str, identity: Identity) -> None:
        self._valid[token_hash] = identity
        self._valid.move_to_end(token_hash)
        while len(self._valid) > self._max_valid:
            self._valid.popitem(last=False)


def _identity_of(event: IdentityChanged) -> Identity:
    """The identity an event describes, as stored and remembered (only a moderator's name is kept)."""
    return Identity(event.id, event.kind, event.role, (event.handle or "") if event.kind == "moderator" else "")


def _identity_of_document(doc: dict[str, Any]) -> Identity:
    return Identity(doc["identity_id"], doc["kind"], doc.get("role", "member"), doc.get("name", ""))


async def require_identity(request: web.Request, cache: IdentityCache, *, kinds: set[str] | None = None) -> Identity:
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        raise Problem(
            401, "Send your token as 'Authorization: Bearer <token>'.", headers={"WWW-Authenticate": "Bearer"}
        )
    return await identity_for_token(cache, token, kinds=kinds)


async def identity_for_token(cache: IdentityCache, token: str, *, kinds: set[str] | None = None) -> Identity:
    """401 for a token nobody holds (or a disabled one), 403 for one without the needed kind."""
    identity = await cache.by_token(token)
    if identity is None:
        raise Problem(
            401,
            "This token is not valid (it may have been disabled or erased).",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    if kinds is not None and identity.kind not in kinds:
        raise Problem(403, "This token does not allow that.")
    return identity


def identity_gone(key: bytes) -> IdentityChanged:
    """A tombstone (null value, keyed by the identity id) means "identity gone": an erasure.

    The forum writes one after each erasure; compaction may already have dropped the erased record
    it follows, so the tombstone must erase on its own rather than be dead-lettered as undecodable.
    """
    return IdentityChanged(id=key.decode("utf-8", "replace"), token_hash="", kind="user", disabled=True, erased=True)


def watched_identity_event(key: bytes | None, value: bytes | None) -> IdentityChanged | None:
    """What a watched record of `identities` says, if anything: a tombstone is an erasure too."""
    if value is None:
        return identity_gone(key) if key else None
    try:
        return decode(IdentityChanged, value)
    except UndecodableEvent:
        return None  # the service's own identities consumer dead-letters it


def identities_context(
    settings: Settings,
    service: str,
    cache_key: web.AppKey[IdentityCache],
    producer_key: web.AppKey[RenewingProducer],
) -> Callable[[web.Application], AsyncIterator[None]]:
    """An aiohttp cleanup context that keeps the app's IdentityCache in step with the topic."""
    topics = Topics(settings.topic_prefix)

    async def context(app: web.Application) -> AsyncIterator[None]:
        cache = app[cache_key]
        consumer = create_consumer(
            # The group is named after the collection it fills: a new collection is filled by
            # reading the compacted topic from its start.
            settings,
            [topics.identities],
            group_id=f"{settings.topic_prefix}{service}-identity-tokens",
            client_id=service,
        )
        await consumer.start()

        async def handle(topic: str, event: Event) -> None:
            assert isinstance(event, IdentityChanged)
            await cache.apply(event)

        loop: EventConsumerLoop[Event] = EventConsumerLoop(
            name=service,
            consumer=consumer,
            producer=app[producer_key],
            dead_letter_topic=topics.dead_letter(service),
            decoders={topics.identities: IdentityChanged},
            handle=handle,
            metrics=consumer_metrics(app),
            unready_after_s=settings.consumer_unready_after_s,
            tombstone=identity_gone,
        )
        watch_consumer(app, "consumer:identities", loop)
        watcher = create_consumer(
            # No group: every instance reads every partition, from the end (only what happens from
            # now on matters; the database already holds the rest). Nothing is committed.
            settings,
            [topics.identities],
            group_id=None,
            client_id=f"{service}-identity-watch",
            auto_offset_reset="latest",
        )
        await watcher.start()

        async def watch() -> None:
            async for record in watcher:
                event = watched_identity_event(record.key, record.value)
                if event is not None:
                    cache.notice(event)

        async with (
            background_task(f"{service}-identities", loop.run),
            background_task(f"{service}-identity-watch", watch),
        ):
            yield
        await watcher.stop()
        await consumer.stop()

    return context
