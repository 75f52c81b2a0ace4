"""Typed events exchanged over Kafka, shared by every service.

Plain pydantic v2 models, free of any stream framework, so forum and notify never import faust.
Every event carries `event_id`, `schema_version` and `occurred_at`. Unknown fields are ignored so
an older consumer keeps working when a newer producer adds fields.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

Risk = Literal["none", "concern", "high", "imminent"]
Category = Literal["suicide", "self_harm", "overdose", "relapse", "violence", "abuse", "medical"]
Action = Literal["publish", "publish_with_resources", "hold", "hold_urgent"]
IdentityKind = Literal["user", "moderator"]
Decision = Literal["approve", "remove", "escalate"]
ReportReason = Literal["worried_about_author", "harassment", "spam", "other"]
ReactionKind = Literal["hug", "strength", "me_too"]

#: The recipient id that means "every moderator and admin" on the notifications topic.
MODERATORS_RECIPIENT = "moderators"

# The values of each Literal, in its order, for the code that lists, checks or documents them.
RISK_LEVELS: tuple[Risk, ...] = get_args(Risk)
CATEGORIES: tuple[Category, ...] = get_args(Category)
DECISIONS: tuple[Decision, ...] = get_args(Decision)
REPORT_REASONS: tuple[ReportReason, ...] = get_args(ReportReason)
REACTION_KINDS: tuple[ReactionKind, ...] = get_args(ReactionKind)
#: The levels of danger: a post at one of them is held for a moderator, never published unreviewed.
DANGER_LEVELS: frozenset[Risk] = frozenset({"high", "imminent"})


class PostStatus(StrEnum):
    """Where a post stands (a thread takes its first post's); stored in MongoDB as these very strings.

    What moves a post from one to another: services/forum/post_states.py.
    """

    PENDING = "pending"
    PUBLISHED = "published"
    HELD = "held"
    REMOVED = "removed"
    DELETED = "deleted"


def new_id() -> str:
    return uuid.uuid4().hex


def utc_now() -> datetime:
    return datetime.now(UTC)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Event(_Model):
    event_id: str = Field(default_factory=new_id)
    schema_version: int = SCHEMA_VERSION
    occurred_at: datetime = Field(default_factory=utc_now)


class Resource(_Model):
    """One crisis or support service, as the hotline notes give it (never invented)."""

    name: str
    #: The verdict category it serves, or "emergency" for the country's emergency number.
    category: Category | Literal["emergency", "any"]
    #: How to reach it: call, text, chat, web, email, whatsapp.
    how: list[str]
    #: Numbers and addresses written as the notes write them ("116 123").
    contact: str
    hours: str = ""
    source: str
    #: ISO 3166-1 alpha-2 country code, or "INTL" for the international fallback.
    country: str
    confidence: Literal["high", "medium"] = "high"
    note: str = ""


#: The `rule` of a match that is no crisis rule but a sign that danger is now ("tonight", "in
#: front of me"): the support the model's imminent level needs (moderation/screening/imminence.py).
SIGNS_OF_NOW = "signs_of_now"


class RuleMatch(_Model):
    """Words of a post that screening matched, and which of the verdict's reasons quotes them.

    Services take the words from here, never out of the reason texts: to mark them for a
    moderator, or to show a reason without them where no post text may be shown.
    """

    #: The rule's name ("plan_means"), or SIGNS_OF_NOW.
    rule: str
    #: What the rule finds, in a few words for moderators ("plan + means").
    label: str
    #: What the rule signals; None for SIGNS_OF_NOW, which says when, not what.
    category: Category | None = None
    #: The level the match gives; for SIGNS_OF_NOW, the imminent level it supports.
    risk: Risk
    #: As the reason quotes them: a match longer than 60 characters is cut and ends in "…".
    words: str
    #: Why the post's context set the match aside ("negated", "past", "quoted", ...); None when it counts.
    set_aside: str | None = None
    #: The position in `Verdict.reasons` of the reason that quotes the words (signs of now share one).
    reason: int

    @property
    def counts(self) -> bool:
        """A crisis rule's words the verdict stands on: neither set aside nor a sign of now."""
        return self.set_aside is None and self.rule != SIGNS_OF_NOW

    @property
    def heading(self) -> str:
        """The reason that quotes the words, without them."""
        return f"{self.rule} set aside ({self.set_aside})" if self.set_aside else self.label


class Verdict(_Model):
    """The screening verdict of the contract."""

    id: str
    risk: Risk
    categories: list[Category] = Field(default_factory=list)
    action: Action
    scores: dict[str, float] = Field(default_factory=dict)
    #: Readable reasons; some quote the post's words, and `matches` says which and where.
    reasons: list[str] = Field(default_factory=list)
    model_version: str
    #: Every piece of the post the reasons quote; an empty list when they quote none. None when the
    #: verdict was made before matches existed (an older message decodes so): its reasons are then
    #: the only record of the words (moderation/api/legacy_reasons.py).
    matches: list[RuleMatch] | None = None


class IdentityChanged(Event):
    """State of one identity on the compacted `identities` topic, keyed by `id`. Never the token."""

    id: str
    token_hash: str
    kind: IdentityKind
    role: str = "member"
    disabled: bool = False
    #: The identity was erased: every service purges what it holds about it.
    erased: bool = False
    #: A moderator's name. A member's handle is not sent: no consumer needs it, and beside the
    #: token hash on a compacted topic it would tie the public handle to the login.
    handle: str | None = None
    country: str | None = None
    language: str | None = None


class PostSubmitted(Event):
    """A new post or an edit, waiting to be screened. Keyed by thread id."""

    post_id: str
    thread_id: str
    board_slug: str
    author_id: str
    #: Increases with every edit; a verdict applies only to the revision it screened.
    revision: int = 1
    kind: Literal["new", "edit"] = "new"
    body: str
    #: The thread's title, on the thread's first post only; it is screened with that post.
    title: str | None = None
    is_thread_start: bool = False
    reply_to: str | None = None
    country: str | None = None
    language: str | None = None


class PostScreened(Event):
    """The verdict on one revision of a post, with the resources routed to its author."""

    post_id: str
    thread_id: str
    board_slug: str
    author_id: str
    revision: int = 1
    kind: Literal["new", "edit"] = "new"
    verdict: Verdict
    resources: list[Resource] = Field(default_factory=list)
    body: str
    title: str | None = None
    is_thread_start: bool = False
    country: str | None = None


class PostReported(Event):
    """A peer report. Nothing reaches the reported person automatically."""

    report_id: str
    post_id: str
    thread_id: str
    reporter_id: str
    author_id: str
    reason: ReportReason
    note: str = ""
    body: str = ""
    title: str | None = None


class PostDeleted(Event):
    """A post's words are gone from the forum: its author deleted it. Keyed by thread id.

    Consumers remove every copy of the post's words they hold (body, title, quoted phrases,
    notes) and keep ids, levels and decisions. Applying it again changes nothing more; it may
    arrive before the post's other events, so a consumer remembers the post id.
    """

    post_id: str
    thread_id: str
    is_thread_start: bool = False


class ModerationDecided(Event):
    """A moderator's decision on a queue item. Keyed by thread id."""

    item_id: str
    post_id: str
    thread_id: str
    author_id: str
    decision: Decision
    note: str = ""
    moderator_id: str
    #: The post revision the decision was made on.
    revision: int = 1


class Notification(Event):
    """Something to tell one recipient (an identity id, or "moderators" for every moderator)."""

    notification_id: str = Field(default_factory=new_id)
    recipient_id: str
    kind: str
    post_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class DeadLetter(Event):
    """An event a consumer could not decode or process, kept briefly for a human to look at."""

    consumer: str
    source_topic: str
    partition: int
    offset: int
    reason: str
    #: The raw value, base64: it may not even be text.
    payload_b64: str = ""
    #: The raw key, base64, so a replay lands on the same partition as the original.
    key_b64: str | None = None
