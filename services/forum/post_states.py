"""A post's state machine as one table: what may move a post, from which statuses, to which.

The store (services/forum/store.py) takes its status filters and writes from here; a move from
any other status matches no document, so the database refuses it. Each transition lists the
statuses it starts from in the order the store's filters have always sent them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from streams.events import Action, PostStatus

PENDING, PUBLISHED, HELD, REMOVED, DELETED = (
    PostStatus.PENDING,
    PostStatus.PUBLISHED,
    PostStatus.HELD,
    PostStatus.REMOVED,
    PostStatus.DELETED,
)

#: Statuses a post still has its words in, and that a moderator may still act on.
LIVE: tuple[PostStatus, ...] = (PENDING, HELD, PUBLISHED)
#: Statuses nothing brings a post back from.
TERMINAL: tuple[PostStatus, ...] = (REMOVED, DELETED)


class Transition(Enum):
    VERDICT_PUBLISHES = "the verdict on a new post publishes it"
    VERDICT_HOLDS = "the verdict on a new post holds it for a moderator"
    EDIT_VERDICT_PUBLISHES = "the verdict on an edit publishes the new body"
    EDIT_VERDICT_HOLDS = "the verdict on an edit holds the post, new body and all"
    MODERATOR_APPROVES_HELD = "a moderator approves a held post"
    MODERATOR_APPROVES_BEFORE_VERDICT = "a moderator approves a revision whose verdict has not arrived"
    MODERATOR_REMOVES = "a moderator removes the post"
    AUTHOR_EDITS = "the author edits: the shown body stays while the new one is screened"
    AUTHOR_DELETES = "the author deletes the post, or is erased with their posts"


@dataclass(frozen=True)
class Move:
    starts_from: tuple[PostStatus, ...]
    #: None: the post keeps the status it had.
    leads_to: PostStatus | None


TABLE: dict[Transition, Move] = {
    Transition.VERDICT_PUBLISHES: Move((PENDING,), PUBLISHED),
    Transition.VERDICT_HOLDS: Move((PENDING,), HELD),
    # A post edited before its first verdict is still pending: the edit's verdict decides.
    Transition.EDIT_VERDICT_PUBLISHES: Move((PENDING, PUBLISHED, HELD), PUBLISHED),
    Transition.EDIT_VERDICT_HOLDS: Move((PENDING, PUBLISHED, HELD), HELD),
    Transition.MODERATOR_APPROVES_HELD: Move((HELD,), PUBLISHED),
    # Remembered on the post; applied as MODERATOR_APPROVES_HELD once a hold verdict lands.
    Transition.MODERATOR_APPROVES_BEFORE_VERDICT: Move((PENDING,), None),
    Transition.MODERATOR_REMOVES: Move(LIVE, REMOVED),
    Transition.AUTHOR_EDITS: Move((PUBLISHED, HELD, PENDING), None),
    # From any status: erasure takes the words of a removed post too, and repeating it is safe.
    Transition.AUTHOR_DELETES: Move(tuple(PostStatus), DELETED),
}

# The transition each screening action makes: (on a new post, on an edit).
_BY_ACTION: dict[Action, tuple[Transition, Transition]] = {
    "publish": (Transition.VERDICT_PUBLISHES, Transition.EDIT_VERDICT_PUBLISHES),
    "publish_with_resources": (Transition.VERDICT_PUBLISHES, Transition.EDIT_VERDICT_PUBLISHES),
    "hold": (Transition.VERDICT_HOLDS, Transition.EDIT_VERDICT_HOLDS),
    "hold_urgent": (Transition.VERDICT_HOLDS, Transition.EDIT_VERDICT_HOLDS),
}


class TransitionRefused(ValueError):
    pass


def verdict_transition(action: Action, *, edit: bool) -> Transition:
    on_new_post, on_edit = _BY_ACTION[action]
    return on_edit if edit else on_new_post


def starts_from(transition: Transition) -> tuple[PostStatus, ...]:
    return TABLE[transition].starts_from


def refused_from(transition: Transition) -> tuple[PostStatus, ...]:
    """Every status the transition may not start from, in PostStatus order."""
    return tuple(status for status in PostStatus if status not in TABLE[transition].starts_from)


def leads_to(transition: Transition) -> PostStatus:
    """The status the transition writes; ValueError for one that leaves the status as it was."""
    status = TABLE[transition].leads_to
    if status is None:
        raise ValueError(f"{transition.name} writes no status")
    return status


def next_status(transition: Transition, current: PostStatus) -> PostStatus:
    move = TABLE[transition]
    if current not in move.starts_from:
        raise TransitionRefused(f"{transition.name} does not start from {current}")
    return current if move.leads_to is None else move.leads_to
