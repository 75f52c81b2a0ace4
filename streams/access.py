"""Who may do what on Kafka: each service's principal, the topics it reads and writes, its groups.

This table is the least privilege each service needs, taken from the code (which topics it
sends to, which it consumes, under which consumer group). The Strimzi KafkaUsers in
deploy/k8s/base/kafka-users.yaml and the table in docs/security.md are checked against it.
Dead-letter topics are written by their consumer and read by no service: operators only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from streams.topics import (
    IDENTITIES,
    MODERATION_DECISIONS,
    NOTIFICATIONS,
    POSTS_DELETED,
    POSTS_REPORTED,
    POSTS_SCREENED,
    POSTS_SUBMITTED,
    Topics,
)


class Operation(StrEnum):
    """Kafka ACL operations, with the codes of the CreateAcls protocol."""

    READ = "Read"
    WRITE = "Write"
    DESCRIBE = "Describe"

    @property
    def code(self) -> int:
        return {"Read": 3, "Write": 4, "Describe": 8}[self.value]


@dataclass(frozen=True)
class Acl:
    """Allow `operation` on a topic or group (`kind`) named `name`, or on every name starting with it."""

    kind: str  # "topic" | "group"
    name: str
    operation: Operation
    prefixed: bool = False


@dataclass(frozen=True)
class ServiceAccess:
    principal: str
    reads: frozenset[str]
    writes: frozenset[str]
    #: Consumer group names without the prefix; consumers without a group need none.
    groups: frozenset[str]
    #: The consumer whose dead-letter topic this service writes (topics.dead_letter(...)).
    dead_letter_of: str
    #: Other services' groups whose committed offsets this service reads (lag), without the prefix.
    watched_groups: frozenset[str] = frozenset()

    def acls(self, prefix: str) -> set[Acl]:
        topics = Topics(prefix)
        acls = {
            # Metadata of every Haven topic: `ensure_topics` at start-up must see that all exist,
            # or it would try to create (and be refused) the ones this principal cannot read.
            Acl("topic", prefix, Operation.DESCRIBE, prefixed=True),
        }
        acls |= {Acl("topic", topics.name(base), Operation.READ) for base in self.reads}
        acls |= {Acl("topic", topics.name(base), Operation.WRITE) for base in self.writes}
        acls.add(Acl("topic", topics.dead_letter(self.dead_letter_of), Operation.WRITE))
        acls |= {Acl("group", f"{prefix}{group}", Operation.READ) for group in self.groups}
        acls |= {Acl("group", f"{prefix}{group}", Operation.DESCRIBE) for group in self.watched_groups}
        return acls


def _access(
    principal: str,
    *,
    reads: set[str],
    writes: set[str],
    groups: set[str],
    dead_letter_of: str,
    watched_groups: frozenset[str] = frozenset(),
) -> ServiceAccess:
    return ServiceAccess(
        principal, frozenset(reads), frozenset(writes), frozenset(groups), dead_letter_of, watched_groups
    )


#: Service name (as in `haven serve NAME`) -> its access.
SERVICE_ACCESS: dict[str, ServiceAccess] = {
    "forum": _access(
        "haven-forum",
        reads={POSTS_SCREENED, MODERATION_DECISIONS},
        writes={IDENTITIES, POSTS_SUBMITTED, POSTS_REPORTED, POSTS_DELETED, NOTIFICATIONS},
        groups={"forum"},
        dead_letter_of="forum",
    ),
    "moderation-worker": _access(
        "haven-moderation-worker",
        reads={POSTS_SUBMITTED},
        writes={POSTS_SCREENED, NOTIFICATIONS},
        groups={"moderation-worker"},  # the faust app id
        dead_letter_of="moderation-worker",
    ),
    "moderation-api": _access(
        "haven-moderation-api",
        # posts.submitted and the worker's group: the screening watchdog measures how long the
        # oldest post has waited (streams/lag.py reads that post's timestamp). Its words reach
        # this service anyway, on posts.screened.
        reads={POSTS_SCREENED, POSTS_REPORTED, POSTS_DELETED, IDENTITIES, POSTS_SUBMITTED},
        # identities: moderator accounts (`haven moderators add`, run in this service's pod).
        writes={IDENTITIES, MODERATION_DECISIONS, NOTIFICATIONS},
        groups={"moderation-api", "moderation-api-identity-tokens"},
        dead_letter_of="moderation-api",
        watched_groups=frozenset({"moderation-worker"}),
    ),
    "notify": _access(
        "haven-notify",
        # posts.deleted: a moderator's note or message about a deleted post loses its words.
        reads={IDENTITIES, NOTIFICATIONS, POSTS_DELETED},
        writes=set(),
        groups={"notify-inbox", "notify-identity-tokens"},
        dead_letter_of="notify",
    ),
}
