"""Rules as data, and the structured matches a verdict carries: which rule, which words, which reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np

from services.moderation.api.queue_listing import listing_entry
from services.moderation.api.representations import item_view
from services.moderation.api.store import without_words
from services.moderation.screening import Screener, ScreeningInput
from services.moderation.screening.head import HEAD_NAMES, Head, Thresholds
from services.moderation.screening.imminence import signs_of_now
from services.moderation.screening.rules import RULES, RuleFindings, apply_rules
from services.moderation.screening.screener import PostScores, decide
from streams.events import SIGNS_OF_NOW, RuleMatch, Verdict

HEAD = Head(
    np.zeros((len(HEAD_NAMES), 4), dtype=np.float32),
    np.zeros(len(HEAD_NAMES), dtype=np.float32),
    Thresholds(high=0.6, imminent=0.6, concern=0.5, category=0.5),
    "test",
)
CRISIS = "I want to die. I've saved up my pills. I'm not going to hurt myself with a knife though."


def _quotes_exactly_its_words(verdict_reasons: list[str], match: RuleMatch) -> bool:
    return verdict_reasons[match.reason] == f"{match.heading}: '{match.words}'"


def test_every_rule_is_a_record_with_its_own_name_and_a_label_for_moderators() -> None:
    assert len({rule.name for rule in RULES}) == len(RULES) == 36
    assert all(rule.label and rule.label == rule.label.strip() for rule in RULES)
    by_name = {rule.name: rule for rule in RULES}
    assert (by_name["plan_means"].label, by_name["plan_means"].category, by_name["plan_means"].risk) == (
        "plan + means",
        "suicide",
        "imminent",
    )
    assert {r.name for r in RULES if r.escalation == "intent"} == {
        "intent",
        "ideation",
        "slang",
        "es_intent",
        "passive_ideation",
        "wish_to_die",
    }
    assert {r.name for r in RULES if r.escalation == "plan"} == {
        "plan_means",
        "goodbye",
        "es_plan",
        "preparation",
        "method",
        "stated_plan",
    }
    assert {r.name for r in RULES if r.everyday_words} == {"intent", "violence", "wish_to_die"}
    assert [r.name for r in RULES if not r.negation_sets_aside] == ["passive_ideation"]


def test_a_rule_match_names_its_rule_and_carries_the_words_apart_from_the_reason() -> None:
    [signal] = apply_rules("I've saved up my pills for this.").signals
    assert signal.match(reason=2) == RuleMatch(
        rule="plan_means",
        label="plan + means",
        category="suicide",
        risk="imminent",
        words="saved up my pills",
        reason=2,
    )
    assert signal.match(reason=2).counts and signal.reason == "plan + means: 'saved up my pills'"


def test_a_match_set_aside_by_its_context_says_why_and_does_not_count() -> None:
    findings = apply_rules("I'm not going to kill myself. I just needed to say the thought out loud.")
    [set_aside] = findings.set_aside
    match = set_aside.match(reason=0)
    assert (match.rule, match.words, match.set_aside) == ("intent", "going to kill myself", "negated")
    assert not match.counts and match.heading == "intent set aside (negated)"
    assert findings.dismissed == ["intent set aside (negated): 'going to kill myself'"]


def test_intent_and_a_plan_together_raise_the_matches_to_imminent() -> None:
    signals = apply_rules("I want to die. I've saved up my pills.").signals
    assert [(s.rule.name, s.risk) for s in signals] == [("wish_to_die", "imminent"), ("plan_means", "imminent")]
    assert [s.match(reason=0).risk for s in signals] == ["imminent", "imminent"]


def test_signs_of_now_are_matches_of_their_own_that_count_for_no_rule() -> None:
    text = "I have been thinking about it all week and the pills are on the table in front of me"
    values = dict.fromkeys(HEAD_NAMES, 0.0) | {"crisis": 0.95, "imminent": 0.95, "concern": 0.9, "suicide": 0.9}
    risk, _, reasons, matches = decide(PostScores(values), RuleFindings(signals=[]), HEAD, len(text.split()), text)
    assert risk == "imminent"
    assert [m.words for m in matches] == signs_of_now(text) and len(matches) == 2
    assert {(m.rule, m.category, m.reason, m.counts) for m in matches} == {(SIGNS_OF_NOW, None, 1, False)}
    assert reasons[1] == f"{matches[0].heading}: 'on the table', 'in front of me'"


def test_the_screener_puts_every_quoted_phrase_in_the_verdict_as_a_match(screener: Screener) -> None:
    [verdict] = screener.screen_batch([ScreeningInput(id="p1", text=CRISIS)])
    assert verdict.matches is not None
    counting = [(m.rule, m.words) for m in verdict.matches if m.counts]
    assert counting == [("wish_to_die", "I want to die"), ("plan_means", "saved up my pills")]
    assert [(m.rule, m.set_aside) for m in verdict.matches if not m.counts] == [("self_harm", "negated")]
    assert all(_quotes_exactly_its_words(verdict.reasons, m) for m in verdict.matches)
    assert "plan + means: 'saved up my pills'" in verdict.reasons, "the reasons read as before"


def test_verdicts_without_quoted_words_say_so_with_an_empty_list(screener: Screener) -> None:
    empty, ordinary = screener.screen_batch(
        [ScreeningInput(id="e", text=" "), ScreeningInput(id="o", text="Day 12. Went to a meeting and shared.")]
    )
    assert empty.matches == [] and ordinary.matches == []


def test_matches_travel_in_the_verdict_and_an_older_verdict_decodes_without_them(screener: Screener) -> None:
    [verdict] = screener.screen_batch([ScreeningInput(id="p1", text=CRISIS)])
    assert Verdict.model_validate_json(verdict.model_dump_json()) == verdict
    older = {k: v for k, v in json.loads(verdict.model_dump_json()).items() if k != "matches"}
    assert Verdict.model_validate(older).matches is None


def test_the_desk_reads_the_words_of_a_screened_post_from_its_matches(screener: Screener) -> None:
    [verdict] = screener.screen_batch([ScreeningInput(id="p1", text=CRISIS)])
    matches = verdict.matches or []
    item = {
        "_id": "post:p1:1",
        "post_id": "p1",
        "thread_id": "t1",
        "author_id": "a1",
        "revision": 1,
        "title": None,
        "body": CRISIS,
        "verdict": verdict.model_dump(),
        "resources": [],
        "reports": [],
        "level_rank": 3,
        "status": "open",
        "claim": None,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    full = item_view(item)
    assert full["highlights"] == ["I want to die", "saved up my pills"]
    listed = listing_entry(full)
    assert matches and not any(m.words in json.dumps(listed) for m in matches)
    assert "plan + means" in listed["reasons"] and "self_harm set aside (negated)" in listed["reasons"]
    erased = item_view({**item, **without_words(item)})
    assert erased["highlights"] == [] and not any(m.words in json.dumps(erased, default=str) for m in matches)
    assert "plan + means: [words removed]" in erased["reasons"]
