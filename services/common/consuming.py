"""A consume loop with at-least-once delivery: offsets are committed only after side effects.

Handlers must be idempotent (upsert by id), because a crash between a side effect and the
commit redelivers the event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from streams.events import Event
from streams.kafka import send_dead_letter
from streams.serialization import UndecodableEvent, decode

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)

#: After this many failed attempts an event goes to the dead-letter topic instead of blocking
#: its partition for ever; a human can replay it from there.
MAX_ATTEMPTS = 8


class EventConsumerLoop(Generic[E]):
    def __init__(
        self,
        *,
        name: str,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        dead_letter_topic: str,
        decoders: dict[str, type[Event]],
        handle: Callable[[str, Event], Awaitable[None]],
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self._name = name
        self._consumer = consumer
        self._producer = producer
        self._dead_letter_topic = dead_letter_topic
        self._decoders = decoders
        self._handle = handle
        self._max_attempts = max_attempts
        self.processed = 0

    async def run(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=500, max_records=100)
            for partition, records in batches.items():
                for record in records:
                    await self._process(record)
                await self._consumer.commit({partition: records[-1].offset + 1})

    async def _process(self, record: ConsumerRecord) -> None:
        model = self._decoders[record.topic]
        try:
            event = decode(model, record.value)
        except UndecodableEvent as exc:
            await send_dead_letter(self._producer, self._dead_letter_topic, self._name, record, str(exc))
            return
        delay = 0.2
        for attempt in range(1, self._max_attempts + 1):
            try:
                await self._handle(record.topic, event)
                self.processed += 1
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "%s: attempt %d failed for %s[%d]@%d: %s",
                    self._name, attempt, record.topic, record.partition, record.offset, type(exc).__name__,
                )
                if attempt == self._max_attempts:
                    await send_dead_letter(
                        self._producer, self._dead_letter_topic, self._name, record,
                        f"handler failed {attempt} times: {type(exc).__name__}",
                    )
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
