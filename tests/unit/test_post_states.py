"""The post state machine: every transition, from each status it lists and from every other one."""

from __future__ import annotations

import bson
import pytest
from pydantic import BaseModel

from services.forum.post_states import (
    LIVE,
    TABLE,
    TERMINAL,
    Transition,
    TransitionRefused,
    leads_to,
    next_status,
    refused_from,
    starts_from,
    verdict_transition,
)
from streams.events import Action, PostStatus

# Read off services/forum/store.py: the statuses each write's filter lets through, in the order the
# filter lists them, and the status it writes (None: it writes none).
EXPECTED: dict[Transition, tuple[tuple[str, ...], str | None]] = {
    Transition.VERDICT_PUBLISHES: (("pending",), "published"),
    Transition.VERDICT_HOLDS: (("pending",), "held"),
    Transition.EDIT_VERDICT_PUBLISHES: (("pending", "published", "held"), "published"),
    Transition.EDIT_VERDICT_HOLDS: (("pending", "published", "held"), "held"),
    Transition.MODERATOR_APPROVES_HELD: (("held",), "published"),
    Transition.MODERATOR_APPROVES_BEFORE_VERDICT: (("pending",), None),
    Transition.MODERATOR_REMOVES: (("pending", "held", "published"), "removed"),
    Transition.AUTHOR_EDITS: (("published", "held", "pending"), None),
    Transition.AUTHOR_DELETES: (("pending", "published", "held", "removed", "deleted"), "deleted"),
}

every_transition = pytest.mark.parametrize("transition", list(Transition), ids=lambda t: t.name)


def test_the_table_holds_every_transition_and_nothing_else() -> None:
    assert set(TABLE) == set(Transition) == set(EXPECTED)


@every_transition
def test_a_transition_starts_from_the_statuses_the_store_filters_on(transition: Transition) -> None:
    # The exact list, order included: it is what the store sends in its `$in` filters.
    assert starts_from(transition) == EXPECTED[transition][0]


@every_transition
def test_a_transition_moves_a_post_from_each_status_it_lists(transition: Transition) -> None:
    sources, target = EXPECTED[transition]
    for status in sources:
        assert next_status(transition, PostStatus(status)) == (target or status)


@every_transition
def test_a_transition_is_refused_from_every_other_status(transition: Transition) -> None:
    others = [status for status in PostStatus if status not in EXPECTED[transition][0]]
    assert refused_from(transition) == tuple(others)
    for status in others:
        with pytest.raises(TransitionRefused):
            next_status(transition, status)


@every_transition
def test_a_transition_writes_its_status_or_refuses_to_name_one(transition: Transition) -> None:
    target = EXPECTED[transition][1]
    if target is None:
        with pytest.raises(ValueError):
            leads_to(transition)
    else:
        assert leads_to(transition) == target


@pytest.mark.parametrize("terminal", TERMINAL, ids=str)
def test_from_a_terminal_status_only_the_authors_deletion_leads_on_and_only_to_deleted(terminal: PostStatus) -> None:
    ways_out = [transition for transition in Transition if terminal in starts_from(transition)]
    assert ways_out == [Transition.AUTHOR_DELETES]
    assert next_status(Transition.AUTHOR_DELETES, terminal) == PostStatus.DELETED


def test_terminal_and_live_statuses_split_them_all() -> None:
    assert TERMINAL == (PostStatus.REMOVED, PostStatus.DELETED)
    assert set(LIVE) | set(TERMINAL) == set(PostStatus) and not set(LIVE) & set(TERMINAL)
    # The edit verdict's guard is `{"$nin": [removed, deleted]}`: it is refused exactly there.
    assert refused_from(Transition.EDIT_VERDICT_PUBLISHES) == refused_from(Transition.EDIT_VERDICT_HOLDS) == TERMINAL


@pytest.mark.parametrize(
    ("action", "on_new_post", "on_edit"),
    [
        ("publish", Transition.VERDICT_PUBLISHES, Transition.EDIT_VERDICT_PUBLISHES),
        ("publish_with_resources", Transition.VERDICT_PUBLISHES, Transition.EDIT_VERDICT_PUBLISHES),
        ("hold", Transition.VERDICT_HOLDS, Transition.EDIT_VERDICT_HOLDS),
        ("hold_urgent", Transition.VERDICT_HOLDS, Transition.EDIT_VERDICT_HOLDS),
    ],
)
def test_each_screening_action_names_its_transition(
    action: Action, on_new_post: Transition, on_edit: Transition
) -> None:
    assert verdict_transition(action, edit=False) is on_new_post
    assert verdict_transition(action, edit=True) is on_edit


def test_a_status_is_stored_and_sent_as_its_plain_string() -> None:
    class Shown(BaseModel):
        status: PostStatus

    assert [str(status) for status in PostStatus] == ["pending", "published", "held", "removed", "deleted"]
    assert bson.encode({"status": PostStatus.HELD}) == bson.encode({"status": "held"})
    assert Shown.model_validate({"status": "held"}).status is PostStatus.HELD
    assert Shown(status=PostStatus.HELD).model_dump_json() == '{"status":"held"}'
