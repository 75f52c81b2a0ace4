"""Abuse limits: posts per member (kept in the database, so every forum instance agrees) and
identity creation per client address (counted in memory only: addresses are never stored)."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import ip_address

from aiohttp import web


@dataclass(frozen=True)
class RateLimits:
    posts_per_minute: int = 10
    posts_per_hour: int = 60
    identities_per_hour_per_address: int = 30

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RateLimits:
        defaults = cls()
        return cls(
            posts_per_minute=int(env.get("HAVEN_POSTS_PER_MINUTE", defaults.posts_per_minute)),
            posts_per_hour=int(env.get("HAVEN_POSTS_PER_HOUR", defaults.posts_per_hour)),
            identities_per_hour_per_address=int(
                env.get("HAVEN_IDENTITIES_PER_HOUR", defaults.identities_per_hour_per_address)
            ),
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
        return kept, PostLimitHit(f"You can post {limits.posts_per_minute} times a minute; please wait a moment.",
                                  max(1, wait))
    if len(kept) >= limits.posts_per_hour:
        wait = 3600 - int((now - kept[-limits.posts_per_hour]).total_seconds())
        return kept, PostLimitHit(
            f"You can post {limits.posts_per_hour} times an hour; please come back a little later.", max(1, wait)
        )
    return kept, None


class AddressWindow:
    """A sliding one-hour window of events per client address, in memory only."""

    def __init__(self, limit: int, window_s: float = 3600.0) -> None:
        self._limit = limit
        self._window_s = window_s
        self._events: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, address: str) -> float | None:
        """None when allowed (and counted); otherwise the seconds to wait."""
        now = time.monotonic()
        events = self._events[address]
        while events and events[0] <= now - self._window_s:
            events.popleft()
        if len(events) >= self._limit:
            return events[0] + self._window_s - now
        events.append(now)
        return None


def client_address(request: web.Request, trusted_proxies: tuple[str, ...]) -> str:
    """The client's address; X-Forwarded-For counts only when the direct peer is a trusted proxy."""
    peer = request.remote or "unknown"
    forwarded = request.headers.get("X-Forwarded-For")
    if forwarded and peer in trusted_proxies:
        candidate = forwarded.split(",")[-1].strip()
        try:
            return str(ip_address(candidate))
        except ValueError:
            return peer
    return peer
