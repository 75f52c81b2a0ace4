"""The review desk takes a post's words from the verdict's matches; a verdict stored before matches
existed is still read from its reason texts, as it always was."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from services.moderation.api.queue_listing import listing_entry
from services.moderation.api.quoted_words import highlights, reasons_without_words, verdict_without_words
from services.moderation.api.representations import item_view
from services.moderation.api.store import without_words
from streams.events import SIGNS_OF_NOW, RuleMatch, Verdict

NOW_SUPPORT = "model imminence supported by signs of now"
REASONS = [
    "model: imminent (crisis 0.97, imminent 0.91)",
    "plan + means: 'saved up my pills'",
    f"{NOW_SUPPORT}: 'tonight', 'on the bridge'",
    "wish_to_die set aside (past): 'wanted to die when I was drinking and it was all so very dar…'",
    "context: support for someone else",
]
MATCHES = [
    RuleMatch(
        rule="plan_means",
        label="plan + means",
        category="suicide",
        risk="imminent",
        words="saved up my pills",
        reason=1,
    ),
    RuleMatch(rule=SIGNS_OF_NOW, label=NOW_SUPPORT, risk="imminent", words="tonight", reason=2),
    RuleMatch(rule=SIGNS_OF_NOW, label=NOW_SUPPORT, risk="imminent", words="on the bridge", reason=2),
    RuleMatch(
        rule="wish_to_die",
        label="wish to die",
        category="suicide",
        risk="concern",
        set_aside="past",
        words="wanted to die when I was drinking and it was all so very dar…",
        reason=3,
    ),
]
MEMBER_WORDS = ["pills", "tonight", "bridge", "drinking"]


def _verdict(matches: list[RuleMatch] | None) -> dict[str, Any]:
    return Verdict(
        id="p1",
        risk="imminent",
        categories=["suicide"],
        action="hold_urgent",
        scores={"crisis": 0.97},
        reasons=REASONS,
        model_version="m1",
        matches=matches,
    ).model_dump()


def _item(verdict: dict[str, Any]) -> dict[str, Any]:
    return {
        "_id": "post:p1:1",
        "post_id": "p1",
        "thread_id": "t1",
        "author_id": "a1",
        "revision": 1,
        "title": "t",
        "body": "b",
        "verdict": verdict,
        "resources": [],
        "reports": [],
        "level_rank": 3,
        "status": "open",
        "claim": None,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
    }


def test_highlights_are_the_words_of_the_rule_matches_that_count() -> None:
    stored = _verdict(MATCHES)
    assert highlights(stored["reasons"], stored["matches"]) == ["saved up my pills"]
    assert item_view(_item(stored))["highlights"] == ["saved up my pills"]


def test_highlights_come_from_the_matches_not_from_the_reason_texts() -> None:
    match = RuleMatch(
        rule="plan_means",
        label="plan + means",
        category="suicide",
        risk="imminent",
        words="saved up all of my sleeping pills and the rest of the bottle…",
        reason=0,
    )
    stored = [match.model_dump()]
    assert highlights(["a reason quoting 'something else'"], stored) == [
        "saved up all of my sleeping pills and the rest of the bottle"
    ]
    assert highlights([f"{NOW_SUPPORT}: 'tonight'"], []) == [], "a sign of now is no rule's words"


def test_a_listed_item_shows_each_quoting_reason_by_its_heading_alone() -> None:
    listed = listing_entry(item_view(_item(_verdict(MATCHES))))
    assert listed["reasons"] == [
        "model: imminent (crisis 0.97, imminent 0.91)",
        "plan + means",
        NOW_SUPPORT,
        "wish_to_die set aside (past)",
        "context: support for someone else",
    ]
    assert "matches" not in listed["verdict"]
    assert [w for w in MEMBER_WORDS if w in json.dumps(listed)] == []


def test_erasure_takes_the_words_out_of_the_reasons_and_the_matches_and_can_run_again() -> None:
    item = _item(_verdict(MATCHES))
    erased = {**item, **without_words(item)}
    assert erased["verdict"]["reasons"] == [
        "model: imminent (crisis 0.97, imminent 0.91)",
        "plan + means: [words removed]",
        f"{NOW_SUPPORT}: [words removed]",
        "wish_to_die set aside (past): [words removed]",
        "context: support for someone else",
    ]
    assert [m["words"] for m in erased["verdict"]["matches"]] == ["", "", "", ""]
    assert [m["rule"] for m in erased["verdict"]["matches"]] == [m.rule for m in MATCHES], "which rules fired stays"
    assert [w for w in MEMBER_WORDS if w in json.dumps(item_view(erased), default=str)] == []
    assert item_view(erased)["highlights"] == []
    assert listing_entry(item_view(erased))["reasons"][1:4] == [
        "plan + means",
        NOW_SUPPORT,
        "wish_to_die set aside (past)",
    ]
    assert verdict_without_words(erased["verdict"]) == erased["verdict"]


def test_a_verdict_stored_before_matches_is_read_from_its_reasons_as_before() -> None:
    legacy = {k: v for k, v in _verdict(None).items() if k != "matches"}
    for stored in (legacy, {**legacy, "matches": None}):
        found = highlights(stored["reasons"], stored.get("matches"))
        assert found[0] == "saved up my pills" and not [h for h in found if "drinking" in h]
        assert reasons_without_words(stored["reasons"], stored.get("matches")) == [
            "model: imminent (crisis 0.97, imminent 0.91)",
            "plan + means",
            NOW_SUPPORT,
            "wish_to_die set aside (past)",
            "context: support for someone else",
        ]
        erased = verdict_without_words(stored)
        assert erased["reasons"][1:4] == [
            "plan + means: [words removed]",
            f"{NOW_SUPPORT}: [words removed]",
            "wish_to_die set aside (past): [words removed]",
        ]
        assert [w for w in MEMBER_WORDS if w in json.dumps(listing_entry(item_view(_item(stored))))] == []


def test_a_verdict_whose_reasons_quote_nothing_lists_them_unchanged() -> None:
    reasons = ["model: high (crisis 0.80, imminent 0.10)", "too short for the model alone to hold"]
    assert reasons_without_words(reasons, []) == reasons and highlights(reasons, []) == []
