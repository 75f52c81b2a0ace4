"""aiokafka helpers: the producer every service uses, consumers, and topic bootstrap."""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.structs import ConsumerRecord

from streams.events import DeadLetter, Event
from streams.kafka_probe import admin_client
from streams.kafka_security import aiokafka_security
from streams.producer import RenewingProducer
from streams.serialization import encode
from streams.settings import Settings
from streams.topics import TopicSpec, topic_specs
from streams.trace_context import kafka_headers

log = logging.getLogger(__name__)

_TOPIC_ALREADY_EXISTS = 36
_TOPIC_AUTHORIZATION_FAILED = 29


#: How long the producer waits for a broker before a request (and a batch) fails.
PRODUCER_REQUEST_TIMEOUT_MS = 10_000
#: How long a publisher waits for the acknowledgement: past the producer's own timeout, so that
#: normally the producer decides (delivered, or expired unsent) before the caller gives up.
PUBLISH_TIMEOUT_S = PRODUCER_REQUEST_TIMEOUT_MS / 1000 + 2


class TopicBootstrapError(RuntimeError):
    pass


def create_producer(settings: Settings, *, client_id: str) -> RenewingProducer:
    """An idempotent producer: acks from every in-sync replica, no duplicates on retry, and a
    fresh producer id when the broker has lost its sequence (`streams.producer`)."""

    def make() -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap,
            client_id=client_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=0,
            request_timeout_ms=PRODUCER_REQUEST_TIMEOUT_MS,
            **aiokafka_security(settings),
        )

    return RenewingProducer(make)


def create_consumer(
    settings: Settings,
    topics: Sequence[str],
    *,
    group_id: str | None,
    client_id: str,
    auto_offset_reset: str = "earliest",
) -> AIOKafkaConsumer:
    """A consumer that commits by hand, after its side effects (at-least-once).

    Without a group it reads every partition and commits nothing (a live view of a topic).
    """
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group_id,
        group_instance_id=f"{group_id}:{settings.instance_id}" if group_id and settings.instance_id else None,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset=auto_offset_reset,
        fetch_max_wait_ms=100,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=1_000,
        **aiokafka_security(settings),
    )


async def send_event(producer: RenewingProducer, topic: str, key: str, event: Event) -> None:
    """Send and wait for the broker's acknowledgement (acks=all): durable when this returns.

    The message carries the current trace context: a dead letter stays in its event's trace.
    """
    await producer.send_and_wait(topic, value=encode(event), key=key.encode("utf-8"), headers=kafka_headers())


async def send_dead_letter(
    producer: RenewingProducer, topic: str, consumer: str, record: ConsumerRecord, reason: str
) -> None:
    letter = DeadLetter(
        consumer=consumer,
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        reason=reason,
        payload_b64=base64.b64encode(record.value or b"").decode("ascii"),
        key_b64=None if record.key is None else base64.b64encode(record.key).decode("ascii"),
    )
    await send_event(producer, topic, f"{record.topic}:{record.partition}", letter)
    log.warning("dead-lettered %s[%d]@%d: %s", record.topic, record.partition, record.offset, reason)


async def ensure_topics(settings: Settings) -> list[str]:
    """Create every missing topic (idempotent). Returns the names it created."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=15_000, **aiokafka_security(settings)
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        specs = topic_specs(settings)
        await _bring_up_to_spec(admin, [spec for spec in specs if spec.name in existing])
        missing = [spec for spec in specs if spec.name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [
                NewTopic(
                    spec.name,
                    num_partitions=spec.partitions,
                    replication_factor=settings.replication_factor,
                    topic_configs=spec.config,
                )
                for spec in missing
            ]
        )
        # aiokafka returns the raw response instead of raising: check each topic's error code.
        for error in getattr(response, "topic_errors", []):
            topic, code = error[0], error[1]
            if code == _TOPIC_AUTHORIZATION_FAILED:
                # Service principals may not create topics (docs/security.md): an administrator does.
                raise TopicBootstrapError(
                    f"topic {topic} is missing and Kafka user {settings.kafka_sasl_username!r} may not create it; "
                    "create Haven's topics once with an administrator's login (docs/security.md)"
                )
            if code not in (0, _TOPIC_ALREADY_EXISTS):
                message = error[2] if len(error) > 2 else ""
                raise TopicBootstrapError(f"could not create topic {topic}: error {code} {message}")
        created = [spec.name for spec in missing]
        log.info("created %d topics", len(created))
        return created
    finally:
        await admin.close()


async def _bring_up_to_spec(admin: AIOKafkaAdminClient, specs: Sequence[TopicSpec]) -> None:
    """Give existing topics the settings their spec names (a topic made by an older version keeps
    its own otherwise: the identities topic's hourly compaction, which takes erased members'
    records off the broker, came later). Best effort: a principal that may not read or change
    topic settings (a cluster, where the KafkaTopic resources carry them) leaves them as they are."""
    if not specs:
        return
    try:
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, s.name) for s in specs])
        current = {
            resource[3]: {entry[0]: entry[1] for entry in resource[4]}
            for response in responses
            for resource in response.resources
            if resource[0] == 0
        }
        stale = [spec for spec in specs if any(current.get(spec.name, {}).get(k) != v for k, v in spec.config.items())]
        if not stale:
            return
        # AlterConfigs replaces a topic's whole set of its own settings: the spec names all of them.
        answers = await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, spec.name, configs=dict(spec.config)) for spec in stale]
        )
        refused = [r[3] for answer in answers for r in answer.resources if r[0] != 0]
        if refused:
            log.warning("the settings of %d topics could not be brought up to date: %s", len(refused), refused)
        else:
            log.info("brought the settings of %d existing topics up to date", len(stale))
    except Exception as exc:  # an old broker, or no permission: the topics still work as they are
        log.warning("topic settings not checked (%s)", type(exc).__name__)


async def kafka_ready(settings: Settings, timeout_s: float = 3.0) -> bool:
    """True when a metadata request to the broker succeeds, on a connection of its own (a
    service's readiness check keeps one instead: `KafkaProbe`)."""
    admin = admin_client(settings, timeout_s)
    try:
        await admin.start()
        await admin.list_topics()
        return True
    except Exception:  # any failure means "not ready"; the caller reports it
        return False
    finally:
        try:
            await admin.close()
        except Exception:  # closing a half-started client may fail; nothing to recover
            pass
