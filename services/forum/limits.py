"""Abuse limits: posts per member (kept in the database, so every forum instance agrees) and
identity creation per client address (counted in memory only: addresses are never stored in the
database nor logged)."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from services.common.proxies import client_address, rate_key
from streams.settings import Settings


@dataclass(frozen=True)
class RateLimits:
    posts_per_minute: int = 10
    posts_per_hour: int = 60
    identities_per_hour_per_address: int = 30

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits:
        return cls(
            posts_per_minute=settings.posts_per_minute,
            posts_per_hour=settings.posts_per_hour,
            identities_per_hour_per_address=settings.identities_per_hour,
        )


@dataclass(frozen=True)
class PostLimitHit:
    detail: str
    retry_after_s: int


def member_post_window(
    recent: list[datetime], now: datetime, limits: RateLimits
) -> tuple[list[datetime], PostLimitHit | None]:
    """The member's post times still inside the hour, and the limit one more post would break.

    The times live on the member's identity document, which every posting request loads anyway:
    checking them costs no query (a count over the posts would scan them on FerretDB).
    """
    kept = sorted(t for t in recent if t > now - timedelta(hours=1))
    last_minute = [t for t in kept if t > now - timedelta(minutes=1)]
    if len(last_minute) >= limits.posts_per_minute:
        wait = 60 - int((now - last_minute[-limits.posts_per_minute]).total_seconds())
        return kept, PostLimitHit(
            f"You can post {limits.posts_per_minute} times a minute; please wait a moment.", max(1, wait)
        )
    if len(kept) >= limits.posts_per_hour:
        wait = 3600 - int((now - kept[-limits.posts_per_hour]).total_seconds())
        return kept, PostLimitHit(
            f"You can post {limits.posts_per_hour} times an hour; please come back a little later.", max(1, wait)
        )
    return kept, None


#: Keys tracked at most (about 330 bytes each for an IPv6 /64 seen once); past it the least recently seen go.
MAX_TRACKED_KEYS = 50_000


def identity_limit_key(request: web.Request, trusted_proxies: tuple[str, ...]) -> str:
    return rate_key(client_address(request, trusted_proxies))


class AddressWindow:
    """A sliding window of events per client key, in memory only and bounded in size.

    Keys are kept least recently seen first: a key whose window has emptied is dropped as soon as
    it reaches the front, and beyond `max_keys` the front goes even if not yet empty. A flood of
    fresh addresses can thus only make us forget the quietest clients, never exhaust memory.
    Not thread-safe; each call is O(1) amortized.
    """

    def __init__(
        self,
        limit: int,
        window_s: float = 3600.0,
        *,
        max_keys: int = MAX_TRACKED_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self._window_s = window_s
        self._max_keys = max_keys
        self._clock = clock
        # A list, not a deque: a deque costs over 600 bytes even when it holds one time.
        self._events: OrderedDict[str, list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._events)

    def allow(self, key: str) -> float | None:
        """None when allowed (and counted); otherwise the seconds to wait."""
        now = self._clock()
        horizon = now - self._window_s
        self._forget_idle(horizon)
        events = self._events.pop(key, None) or []
        expired = 0
        while expired < len(events) and events[expired] <= horizon:
            expired += 1
        del events[:expired]
        self._events[key] = events  # re-inserted last: the most recently seen
        if len(events) >= self._limit:
            return events[0] + self._window_s - now if events else self._window_s
        events.append(now)
        while len(self._events) > self._max_keys:
            self._events.popitem(last=False)
        return None

    def _forget_idle(self, horizon: float) -> None:
        while self._events:
            key, events = next(iter(self._events.items()))
            if events and events[-1] > horizon:
                return
            del self._events[key]


class MemberTurns:
    """One post slot at a time per member in this process, and a way to tell a stale identity.

    A post's slot is a compare-and-set on the member's recent post times, checked against the
    identity as the request read it when it checked the token. Two posts of one member sent
    together would read the same times; here the second waits for the first, and since this
    process remembers the version it wrote last, the second reads the identity again instead of
    counting from times it knows are old. Across processes, the database's guard decides.
    """

    def __init__(self, max_members: int = MAX_TRACKED_KEYS) -> None:
        self._max_members = max_members
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, int] = {}
        self._written: OrderedDict[str, int] = OrderedDict()

    @asynccontextmanager
    async def turn(self, member_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(member_id, asyncio.Lock())
        self._waiting[member_id] = self._waiting.get(member_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._waiting[member_id] -= 1
            if not self._waiting[member_id]:
                del self._waiting[member_id], self._locks[member_id]

    def is_stale(self, identity: Mapping[str, Any]) -> bool:
        """Whether this process has counted a post for the member after `identity` was read."""
        written = self._written.get(identity["_id"])
        return written is not None and (identity.get("post_times_version") or 0) < written

    def wrote(self, member_id: str, version: int) -> None:
        self._written[member_id] = version
        self._written.move_to_end(member_id)
        while len(self._written) > self._max_members:
            self._written.popitem(last=False)
