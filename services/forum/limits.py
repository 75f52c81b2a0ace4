"""Abuse limits: posts per member (counted in the database, so every forum instance agrees) and
identity creation per client address (counted in memory only: addresses are never stored)."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass
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
