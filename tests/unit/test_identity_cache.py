"""The shared token check: unknown tokens pay the ~2 s wait once, new tokens work at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from pymongo.errors import AutoReconnect

from services.common.database_absence import RETRY_AFTER_S, DatabaseAway
from services.common.identities import (
    UNKNOWN_TOKEN_TTL_S,
    UNKNOWN_TOKEN_WAIT_S,
    Identity,
    IdentityCache,
    watched_identity_event,
)
from services.common.tokens import ExpiringHashes, hash_token, new_token
from streams.events import IdentityChanged


class FakeClock:
    """Time moves only when the code under test sleeps (or a test says so)."""

    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


class FakeTokens:
    """The identity_tokens collection: documents by token hash, counting reads."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.reads = 0
        self.away = False
        self.during_read: Callable[[], None] | None = None

    async def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        self.reads += 1
        if self.away:
            raise AutoReconnect("connection refused")
        await asyncio.sleep(0)
        if self.during_read is not None:
            self.during_read()
        return self.docs.get(query["_id"])

    async def update_one(self, query: dict[str, Any], update: dict[str, Any], upsert: bool = False) -> None:
        self.docs.setdefault(query["_id"], {"_id": query["_id"]}).update(update["$set"])

    async def delete_one(self, query: dict[str, Any]) -> None:
        self.docs.pop(query["_id"], None)

    async def delete_many(self, query: dict[str, Any]) -> None:
        [(field, value)] = query.items()
        self.docs = {key: doc for key, doc in self.docs.items() if doc.get(field) != value}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tokens() -> FakeTokens:
    return FakeTokens()


@pytest.fixture
def revoked() -> list[str]:
    return []


@pytest.fixture
def cache(tokens: FakeTokens, clock: FakeClock, revoked: list[str]) -> IdentityCache:
    return IdentityCache(tokens, on_revoked=revoked.append, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]


def member(token: str, **changes: Any) -> IdentityChanged:
    return IdentityChanged(id="u-1", token_hash=hash_token(token), kind="user", **changes)


async def test_an_unknown_token_waits_once_then_is_refused_without_reading_until_the_entry_expires(
    cache: IdentityCache, tokens: FakeTokens, clock: FakeClock
) -> None:
    token, started = new_token(), clock.now
    assert await cache.by_token(token) is None
    assert clock.now - started >= UNKNOWN_TOKEN_WAIT_S, "the first miss waits for a late identity event"
    reads_of_one_wait = tokens.reads
    assert reads_of_one_wait > 1

    started = clock.now
    for _ in range(20):
        assert await cache.by_token(token) is None
    assert tokens.reads == reads_of_one_wait and clock.now == started, "no wait, no database read"

    clock.now += UNKNOWN_TOKEN_TTL_S
    assert await cache.by_token(token) is None
    assert tokens.reads == 2 * reads_of_one_wait, "an expired entry is looked up (and waited for) again"


async def test_a_token_used_before_its_identity_event_works_as_soon_as_the_event_is_applied(
    cache: IdentityCache, clock: FakeClock
) -> None:
    token = new_token()
    assert await cache.by_token(token) is None  # used too early: now cached as unknown
    await cache.apply(member(token))
    assert await cache.by_token(token) == Identity("u-1", "user", "member", "")


async def test_an_event_seen_by_the_watcher_before_the_database_has_it_keeps_the_token_out_of_the_cache(
    cache: IdentityCache, tokens: FakeTokens
) -> None:
    token = new_token()
    cache.notice(member(token))  # another instance has not written it to the database yet
    assert await cache.by_token(token) is None
    reads = tokens.reads
    await IdentityCache(tokens).apply(member(token))  # ...now it has
    assert await cache.by_token(token) == Identity("u-1", "user", "member", "")
    assert tokens.reads == reads + 1


async def test_an_event_arriving_during_the_wait_ends_it_with_the_identity(
    cache: IdentityCache, tokens: FakeTokens, clock: FakeClock
) -> None:
    token, started = new_token(), clock.now
    lookup = asyncio.create_task(cache.by_token(token))
    while tokens.reads < 3:
        await asyncio.sleep(0)
    await cache.apply(member(token))
    assert await lookup == Identity("u-1", "user", "member", "")
    assert clock.now - started < UNKNOWN_TOKEN_WAIT_S


async def test_concurrent_checks_of_one_unknown_token_share_one_wait_and_a_caller_leaving_does_not_end_it(
    cache: IdentityCache, tokens: FakeTokens
) -> None:
    token = new_token()
    lookups = [asyncio.create_task(cache.by_token(token)) for _ in range(10)]
    await asyncio.sleep(0)
    lookups[0].cancel()  # one client hangs up
    results = await asyncio.gather(*lookups[1:])
    assert results == [None] * 9
    shared_reads = tokens.reads
    tokens.reads = 0
    alone = FakeClock()
    assert await IdentityCache(tokens, clock=alone, sleep=alone.sleep).by_token(token) is None  # type: ignore[arg-type]
    assert shared_reads == tokens.reads, "ten callers cost the reads of one wait"


async def test_a_disabled_or_erased_identity_is_refused_at_once_and_reported_as_revoked(
    cache: IdentityCache, tokens: FakeTokens, clock: FakeClock, revoked: list[str]
) -> None:
    token = new_token()
    await cache.apply(member(token))
    assert await cache.by_token(token) is not None
    await cache.apply(member(token, disabled=True))
    started = clock.now
    assert await cache.by_token(token) is None
    assert clock.now == started and revoked == ["u-1"]
    await cache.apply(member(token, disabled=True, erased=True))
    assert revoked == ["u-1", "u-1"] and hash_token(token) not in tokens.docs
    cache.notice(member(token, handle="renamed"))  # an ordinary change revokes nothing
    assert revoked == ["u-1", "u-1"]


async def test_a_token_lately_seen_valid_still_works_while_the_database_is_away(
    cache: IdentityCache, tokens: FakeTokens
) -> None:
    seen, unseen = new_token(), new_token()
    await cache.apply(member(seen))
    await cache.apply(IdentityChanged(id="u-2", token_hash=hash_token(unseen), kind="user"))
    identity = await cache.by_token(seen)
    tokens.away = True
    assert await cache.by_token(seen) == identity, "answered from memory, so the author's stream can open"
    with pytest.raises(DatabaseAway):
        await cache.by_token(unseen)  # never read here: a 503, never a guess


async def test_while_the_database_is_away_it_is_asked_again_only_after_a_pause(
    cache: IdentityCache, tokens: FakeTokens, clock: FakeClock
) -> None:
    token = new_token()
    await cache.apply(member(token))
    await cache.by_token(token)
    tokens.away = True
    reads_before = tokens.reads
    for _ in range(5):
        assert await cache.by_token(token) is not None
    assert tokens.reads == reads_before + 1, "one failed read, then memory alone"
    clock.now += RETRY_AFTER_S
    tokens.away = False
    assert await cache.by_token(token) is not None
    assert tokens.reads == reads_before + 2


async def test_a_disabled_or_erased_identity_is_forgotten_even_while_the_database_is_away(
    cache: IdentityCache, tokens: FakeTokens
) -> None:
    first, second, other = new_token(), new_token(), new_token()
    for token in (first, second):
        await cache.apply(member(token))
        await cache.by_token(token)
    await cache.apply(IdentityChanged(id="u-2", token_hash=hash_token(other), kind="user"))
    await cache.by_token(other)
    tokens.away = True
    cache.notice(member(first, disabled=True))  # seen by the watcher, from Kafka
    for token in (first, second):
        with pytest.raises(DatabaseAway):
            await cache.by_token(token)
    assert await cache.by_token(other) is not None, "another identity's token is not touched"


async def test_a_read_overtaken_by_an_identity_event_is_not_remembered(
    cache: IdentityCache, tokens: FakeTokens
) -> None:
    token = new_token()
    await cache.apply(member(token))
    tokens.during_read = lambda: cache.notice(member(token, disabled=True))
    assert await cache.by_token(token) is not None  # the read began before the event
    tokens.during_read, tokens.away = None, True
    with pytest.raises(DatabaseAway):
        await cache.by_token(token)


async def test_the_watcher_seeing_the_join_after_the_read_keeps_the_token_remembered(
    cache: IdentityCache, tokens: FakeTokens
) -> None:
    token = new_token()
    await cache.apply(member(token))  # the identities consumer applies the join...
    await cache.by_token(token)
    cache.notice(member(token))  # ...and the watcher sees the same event a moment later
    tokens.away = True
    assert await cache.by_token(token) is not None


async def test_a_change_seen_during_the_read_is_what_is_remembered(cache: IdentityCache, tokens: FakeTokens) -> None:
    token = new_token()
    await cache.apply(IdentityChanged(id="m-1", token_hash=hash_token(token), kind="moderator", role="admin"))
    tokens.during_read = lambda: cache.notice(
        IdentityChanged(id="m-1", token_hash=hash_token(token), kind="moderator", role="moderator")
    )
    assert (await cache.by_token(token)).role == "admin"  # type: ignore[union-attr]  # read before the change
    tokens.during_read, tokens.away = None, True
    assert (await cache.by_token(token)).role == "moderator", "the newer state, not the older read"  # type: ignore[union-attr]


async def test_the_remembered_identities_are_bounded(tokens: FakeTokens, clock: FakeClock) -> None:
    cache = IdentityCache(tokens, clock=clock, sleep=clock.sleep, max_remembered_identities=2)  # type: ignore[arg-type]
    held = [new_token() for _ in range(3)]
    for token in held:
        await cache.apply(member(token))
        await cache.by_token(token)
    tokens.away = True
    with pytest.raises(DatabaseAway):
        await cache.by_token(held[0])  # the oldest was pushed out
    assert await cache.by_token(held[2]) is not None


def test_expiring_hashes_hold_a_bounded_number_of_entries_for_a_limited_time(clock: FakeClock) -> None:
    hashes = ExpiringHashes(ttl_s=5, max_entries=3, clock=clock)
    for name in "abcd":
        hashes.add(name)
        clock.now += 1
    assert "a" not in hashes and len(hashes) == 3, "the oldest is pushed out"
    hashes.add("b")  # re-adding renews
    clock.now += 3
    assert "b" in hashes and "c" not in hashes and "d" in hashes
    hashes.discard("d")
    assert "d" not in hashes and len(hashes) == 1


async def test_a_watched_tombstone_forgets_the_identity_even_while_the_database_is_away(
    cache: IdentityCache, tokens: FakeTokens
) -> None:
    """A profile change and an erasure racing leave the erasure's tombstone last on the topic."""
    token = new_token()
    await cache.apply(member(token))
    await cache.by_token(token)
    tokens.away = True
    event = watched_identity_event(b"u-1", None)
    assert event is not None
    cache.notice(event)
    with pytest.raises(DatabaseAway):
        await cache.by_token(token)
    assert watched_identity_event(None, None) is None, "a record without a key says nothing"
