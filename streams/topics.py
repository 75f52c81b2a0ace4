"""Topic names of the contract, under a configurable prefix, and how each topic is configured."""

from __future__ import annotations

from dataclasses import dataclass

from streams.settings import Settings

IDENTITIES = "identities"
POSTS_SUBMITTED = "posts.submitted"
POSTS_SCREENED = "posts.screened"
POSTS_REPORTED = "posts.reported"
POSTS_DELETED = "posts.deleted"
MODERATION_DECISIONS = "moderation.decisions"
NOTIFICATIONS = "notifications"

#: Topics whose events carry post bodies or titles: kept for a bounded time only.
BODY_TOPICS = frozenset({POSTS_SUBMITTED, POSTS_SCREENED, POSTS_REPORTED, MODERATION_DECISIONS, NOTIFICATIONS})
#: Topics of ids only, with the same bounded retention (nothing there is needed for longer).
ID_TOPICS = frozenset({POSTS_DELETED})

#: One dead-letter topic per consumer, named after the consumer.
DEAD_LETTER_CONSUMERS = ("moderation-worker", "moderation-api", "forum", "notify")

_HOUR_MS = 60 * 60 * 1000
_DAY_MS = 24 * _HOUR_MS


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]


class Topics:
    """Full topic names for one deployment (prefix applied)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def name(self, base: str) -> str:
        return f"{self.prefix}{base}"

    @property
    def identities(self) -> str:
        return self.name(IDENTITIES)

    @property
    def posts_submitted(self) -> str:
        return self.name(POSTS_SUBMITTED)

    @property
    def posts_screened(self) -> str:
        return self.name(POSTS_SCREENED)

    @property
    def posts_reported(self) -> str:
        return self.name(POSTS_REPORTED)

    @property
    def posts_deleted(self) -> str:
        return self.name(POSTS_DELETED)

    @property
    def moderation_decisions(self) -> str:
        return self.name(MODERATION_DECISIONS)

    @property
    def notifications(self) -> str:
        return self.name(NOTIFICATIONS)

    def dead_letter(self, consumer: str) -> str:
        return self.name(f"dlq.{consumer}")


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every topic Haven needs, with partitions and retention per the design."""
    topics = Topics(settings.topic_prefix)
    durability = {"min.insync.replicas": str(settings.min_insync_replicas)}
    body_retention = str(settings.body_retention_days * _DAY_MS)
    specs = [
        TopicSpec(
            topics.identities,
            settings.partitions,
            # An erased member's records go within hours, not when a 1 GiB or 7-day segment
            # happens to close: compaction never touches the segment still being written.
            {
                "cleanup.policy": "compact",
                "min.compaction.lag.ms": "0",
                "max.compaction.lag.ms": str(_HOUR_MS),
                "segment.ms": str(_HOUR_MS),
                **durability,
            },
        )
    ]
    for base in sorted(BODY_TOPICS | ID_TOPICS):
        specs.append(TopicSpec(topics.name(base), settings.partitions, {"retention.ms": body_retention, **durability}))
    dead_letter_retention = str(settings.dead_letter_retention_days * _DAY_MS)
    for consumer in DEAD_LETTER_CONSUMERS:
        specs.append(TopicSpec(topics.dead_letter(consumer), 1, {"retention.ms": dead_letter_retention, **durability}))
    return specs
