"""How many connections one client may hold open to a service, and the service in all.

aiohttp bounds how long a connection may sit idle (75 s) or take over a body (30 s), not how many
there are: one address opening sockets faster than they time out could hold every file descriptor
the process may open, and then no one gets in, and the service cannot open a socket of its own to
the database or Kafka either. So a connection past `max_connections_per_address` from one client
(an IPv4 address, or the /64 of an IPv6 one) or past `max_connections` in all is answered a 503
at once and closed, before a byte of it is read. Trusted proxies count towards the total only:
behind an ingress every member arrives through it, and limiting clients there is the ingress's job.
Counts live in memory; no address is logged.
"""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge

from services.common.proxies import is_trusted_proxy, parse_address, rate_key

log = logging.getLogger(__name__)

#: File descriptors kept back from client connections: database pools, Kafka, log files.
RESERVED_DESCRIPTORS = 256
#: The key trusted proxies' connections are counted under (in the total only).
_TRUSTED = "trusted proxy"

Reason = Literal["address", "total"]


@dataclass(frozen=True)
class Refused:
    reason: Reason


def descriptor_bound(wanted: int) -> int:
    """`wanted`, or fewer when the process may not open that many descriptors and keep its reserve."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - RESERVED_DESCRIPTORS))


class ConnectionCounts:
    """Open connections by client. Not thread-safe: the event loop's callbacks are its only users."""

    def __init__(
        self,
        *,
        per_address: int,
        total: int,
        trusted_proxies: tuple[str, ...] = (),
        registry: CollectorRegistry | None = None,
        service: str = "",
    ) -> None:
        self.per_address = per_address
        self.total = total
        self._trusted_proxies = trusted_proxies
        self._by_client: dict[str, int] = {}
        self._open = 0
        self._refusals = 0
        self._open_gauge = Gauge(
            "haven_http_connections_open", "Client connections open now", ["service"], registry=registry
        ).labels(service)
        self._refused_counter = Counter(
            "haven_http_connections_refused",
            "Client connections refused at once: over the cap of one address, or of the service",
            ["service", "reason"],
            registry=registry,
        )
        self._service = service

    @property
    def open(self) -> int:
        return self._open

    def admit(self, peer: str | None) -> str | Refused:
        """Count a new connection from `peer` (its IP address, or None for a Unix socket): the key
        to release it with, or why it is refused."""
        if self._open >= self.total:
            return self._refuse("total")
        if is_trusted_proxy(peer, self._trusted_proxies):
            key = _TRUSTED
        else:
            key = rate_key(parse_address(peer))
            if self._by_client.get(key, 0) >= self.per_address:
                return self._refuse("address")
            self._by_client[key] = self._by_client.get(key, 0) + 1
        self._open += 1
        self._open_gauge.set(self._open)
        return key

    def release(self, key: str) -> None:
        self._open -= 1
        self._open_gauge.set(self._open)
        if key == _TRUSTED:
            return
        left = self._by_client[key] - 1
        if left:
            self._by_client[key] = left
        else:
            del self._by_client[key]

    def clients(self) -> int:
        """Clients (other than trusted proxies) with a connection open."""
        return len(self._by_client)

    def _refuse(self, reason: Reason) -> Refused:
        self._refused_counter.labels(self._service, reason).inc()
        self._refusals += 1
        if self._refusals == 1 or self._refusals % 1000 == 0:
            log.warning("refused a connection over the %s cap (%d refused since start)", reason, self._refusals)
        return Refused(reason)
