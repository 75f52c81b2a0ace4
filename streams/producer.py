"""The idempotent producer every service uses, renewed when the broker has lost its sequence.

An idempotent producer numbers its batches per partition. When a broker stops while batches are
in flight, a batch the producer gave up on can leave a gap in those numbers; from then on the
broker answers every batch for that partition with OutOfOrderSequenceNumber (or
UnknownProducerId, if it has forgotten the producer), and aiokafka never starts a new sequence
itself. Seen in Haven's fault tests: after a broker restart the forum's producer failed every
send for minutes, until the process was restarted. The Java client resets its producer id in
that case; `RenewingProducer` does the equivalent by replacing the aiokafka producer, so the
sends that failed are retried by their callers on a fresh producer id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import OutOfOrderSequenceNumber, UnknownProducerId

log = logging.getLogger(__name__)

#: Answers after which the producer's sequence numbers can never be accepted again.
LOST_SEQUENCE = (OutOfOrderSequenceNumber, UnknownProducerId)


class RenewingProducer:
    """An aiokafka producer behind a stable handle, replaced when its sequence is lost."""

    def __init__(self, make: Callable[[], AIOKafkaProducer]) -> None:
        self._make = make
        self._producer = make()
        self._renewal: asyncio.Task[None] | None = None
        self._stopped = False
        #: How many times the producer was replaced (for logs and tests).
        self.renewals = 0

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        self._stopped = True
        if self._renewal is not None:
            await asyncio.gather(self._renewal, return_exceptions=True)
        await self._producer.stop()

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[Any]:
        """Hand a record to the current producer; the returned future resolves on its ack."""
        producer = self._producer
        delivery: asyncio.Future[Any] = await producer.send(topic, value=value, key=key, headers=headers)
        delivery.add_done_callback(lambda done: self._after_delivery(done, producer))
        return delivery

    async def send_and_wait(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Any:
        return await (await self.send(topic, value=value, key=key, headers=headers))

    def _after_delivery(self, delivery: asyncio.Future[Any], producer: AIOKafkaProducer) -> None:
        if delivery.cancelled() or not isinstance(delivery.exception(), LOST_SEQUENCE):
            return
        if producer is not self._producer or self._renewal is not None or self._stopped:
            return  # an older producer's late failure, or a renewal already under way
        self._renewal = asyncio.get_running_loop().create_task(self._renew(producer))

    async def _renew(self, lost: AIOKafkaProducer) -> None:
        try:
            fresh = self._make()
            await fresh.start()
        except Exception as exc:  # keep the old one; the next lost-sequence answer tries again
            log.warning("could not renew the Kafka producer: %s", type(exc).__name__)
            return
        finally:
            self._renewal = None
        self._producer = fresh
        self.renewals += 1
        log.warning("Kafka lost this producer's sequence numbers; continuing with a new producer")
        await lost.stop()
