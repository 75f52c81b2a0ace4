"""Kafka readiness on one connection kept for the service's life.

`/readyz` is asked every few seconds by every replica's kubelet. A check that opened a client of
its own each time gave the broker a new connection, a bootstrap and a metadata round per probe,
per pod. The probe keeps one admin client and sends one metadata request per check over its
connection; a client that failed, or whose check ran out of time half-way, is closed and the next
check starts a fresh one, so a broker that went away and came back is found again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from streams.kafka_security import aiokafka_security
from streams.settings import Settings

log = logging.getLogger(__name__)


def admin_client(settings: Settings, timeout_s: float) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap,
        request_timeout_ms=int(timeout_s * 1000),
        **aiokafka_security(settings),
    )


class KafkaProbe:
    def __init__(self, settings: Settings, timeout_s: float = 3.0, new_client: Callable[[], Any] | None = None) -> None:
        self._new_client = new_client or (lambda: admin_client(settings, timeout_s))
        self._client: Any = None
        self._lock = asyncio.Lock()
        self._closing: set[asyncio.Task[None]] = set()
        #: How many clients this probe has started: one for as long as the broker stays reachable.
        self.clients_started = 0

    async def ready(self) -> bool:
        """True when a metadata request to the broker succeeds."""
        async with self._lock:
            try:
                if self._client is None:
                    self._client = self._new_client()
                    self.clients_started += 1
                    await self._client.start()
                await self._client.list_topics()
                return True
            except asyncio.CancelledError:
                # The caller's time ran out with a request in flight: that client is not reused.
                self._close_in_background()
                raise
            except Exception as exc:  # any failure means "not ready"; the caller reports it
                log.debug("Kafka readiness check failed: %s", type(exc).__name__)
                await _close_quietly(self._client)
                self._client = None
                return False

    async def close(self) -> None:
        client, self._client = self._client, None
        await _close_quietly(client)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    def _close_in_background(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            task = asyncio.ensure_future(_close_quietly(client))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)


async def _close_quietly(client: Any) -> None:
    if client is None:
        return
    try:
        await client.close()
    except Exception:  # closing a half-started client may fail; nothing to recover
        pass
