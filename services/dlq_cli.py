"""`haven dlq list|replay CONSUMER`: what a consumer set aside, and sending it back.

A dead letter holds an event its consumer could never handle (undecodable, or invalid for the
handler). `list` prints where each came from and why, never the payload (it may hold a post).
`replay` writes each payload back to its source topic under its original key, after the cause is
fixed; consumers are idempotent, so replaying a letter twice changes nothing more. Replay reads
through a consumer group of its own, so letters already replayed are not sent again.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys

from streams.settings import Settings
from streams.topics import DEAD_LETTER_CONSUMERS


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("list", "replay"))
    parser.add_argument("consumer", choices=DEAD_LETTER_CONSUMERS, help="whose dead letters")
    parser.add_argument("--limit", type=int, default=1000, help="at most this many letters")


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args.settings, args.action, args.consumer, args.limit))


async def _run(settings: Settings, action: str, consumer: str, limit: int) -> int:
    from aiokafka import AIOKafkaConsumer

    from streams.events import DeadLetter
    from streams.kafka import create_producer
    from streams.kafka_security import aiokafka_security
    from streams.serialization import UndecodableEvent, decode
    from streams.topics import Topics
    from streams.trace_context import context_from_headers, kafka_headers

    topics = Topics(settings.topic_prefix)
    replaying = action == "replay"
    reader = AIOKafkaConsumer(
        topics.dead_letter(consumer),
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=f"{settings.topic_prefix}dlq-replay-{consumer}" if replaying else None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **aiokafka_security(settings),
    )
    producer = create_producer(settings, client_id="haven-dlq") if replaying else None
    await reader.start()
    if producer is not None:
        await producer.start()
    count = 0
    try:
        while count < limit:
            batches = await reader.getmany(timeout_ms=2000, max_records=min(100, limit - count))
            if not batches:
                break
            for records in batches.values():
                for record in records:
                    try:
                        letter = decode(DeadLetter, record.value)
                    except UndecodableEvent:
                        print(f"{record.offset:>8}  (not a dead letter)", file=sys.stderr)
                        continue
                    count += 1
                    print(
                        f"{record.offset:>8}  {letter.source_topic}[{letter.partition}]@{letter.offset}"
                        f"  {letter.occurred_at.isoformat()}  {letter.reason}"
                    )
                    if producer is not None:
                        key = base64.b64decode(letter.key_b64) if letter.key_b64 else None
                        # The letter was sent in its event's trace: the replayed event goes on in it.
                        await producer.send_and_wait(
                            letter.source_topic,
                            value=base64.b64decode(letter.payload_b64),
                            key=key,
                            headers=kafka_headers(context_from_headers(record.headers)),
                        )
            if replaying:
                await reader.commit()
    finally:
        await reader.stop()
        if producer is not None:
            await producer.stop()
    verb = "replayed" if replaying else "dead letters"
    print(f"{count} {verb} for {consumer}", file=sys.stderr)
    return 0
