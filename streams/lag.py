"""How far a consumer group is behind on a topic, and how long its oldest unhandled event has waited.

Read from outside the group (an admin client for its committed offsets, a group-less consumer for
the ends of the partitions and the timestamps), so measuring never disturbs the group. The worker
reports it on /metrics; the moderation API uses it to alert moderators when screening stalls,
which works even while the worker itself is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from streams.kafka_security import aiokafka_security
from streams.settings import Settings


@dataclass(frozen=True)
class Lag:
    #: Events on the topic that the group has not committed yet, over all partitions.
    events: int
    #: Seconds since the oldest of those was written; None when there are none.
    oldest_waiting_s: float | None
    #: Where the oldest waiting event is, as "partition:offset" (stable while it waits).
    oldest_position: str | None = None


class LagProbe:
    """Measures one group's lag on one topic. Start once, measure as often as needed, then stop."""

    def __init__(self, settings: Settings, *, group_id: str, topic: str) -> None:
        self._settings = settings
        self._group_id = group_id
        self._topic = topic
        self._admin: AIOKafkaAdminClient | None = None
        self._reader: AIOKafkaConsumer | None = None
        self._partitions: list[int] = []

    async def start(self) -> None:
        security = aiokafka_security(self._settings)
        self._admin = AIOKafkaAdminClient(
            bootstrap_servers=self._settings.kafka_bootstrap, request_timeout_ms=5_000, **security
        )
        self._reader = AIOKafkaConsumer(
            bootstrap_servers=self._settings.kafka_bootstrap,
            group_id=None,
            enable_auto_commit=False,
            request_timeout_ms=5_000,
            **security,
        )
        await self._admin.start()
        await self._reader.start()

    async def stop(self) -> None:
        # Closing after a broker outage may fail; there is nothing left to release then.
        with contextlib.suppress(Exception):
            if self._reader is not None:
                await self._reader.stop()
        with contextlib.suppress(Exception):
            if self._admin is not None:
                await self._admin.close()

    async def measure(self) -> Lag:
        assert self._admin is not None and self._reader is not None, "start() first"
        if not self._partitions:
            described = await self._admin.describe_topics([self._topic])
            self._partitions = sorted(p["partition"] for p in described[0].get("partitions", []))
        tps = [TopicPartition(self._topic, p) for p in self._partitions]
        if not tps:
            return Lag(0, None)
        ends = await self._reader.end_offsets(tps)
        committed_meta = await self._admin.list_consumer_group_offsets(self._group_id, partitions=tps)
        waiting: dict[TopicPartition, int] = {}
        for tp in tps:
            meta = committed_meta.get(tp)
            committed = meta.offset if meta is not None and meta.offset >= 0 else 0
            if ends[tp] > committed:
                waiting[tp] = committed
        events = sum(ends[tp] - offset for tp, offset in waiting.items())
        if not waiting:
            return Lag(0, None)
        oldest = await self._oldest_timestamp(waiting)
        if oldest is None:
            return Lag(events, None)
        timestamp_ms, position = oldest
        return Lag(events, max(0.0, time.time() - timestamp_ms / 1000), position)

    async def _oldest_timestamp(self, waiting: dict[TopicPartition, int]) -> tuple[int, str] | None:
        assert self._reader is not None
        self._reader.assign(list(waiting))
        for tp, offset in waiting.items():
            self._reader.seek(tp, offset)
        found: dict[TopicPartition, tuple[int, int]] = {}
        deadline = time.monotonic() + 3
        while len(found) < len(waiting) and time.monotonic() < deadline:
            batches = await self._reader.getmany(timeout_ms=500, max_records=len(waiting))
            for tp, records in batches.items():
                if records and tp not in found:
                    found[tp] = (records[0].timestamp, records[0].offset)
                    self._reader.pause(tp)
            await asyncio.sleep(0)
        self._reader.resume(*waiting)
        if not found:
            return None
        tp, (timestamp, offset) = min(found.items(), key=lambda item: item[1][0])
        return timestamp, f"{tp.partition}:{offset}"
