"""A rule holds a post by itself only where it is precise: on the hand-labelled training corpus,
at least 85 % of the posts its match calls high or imminent are labelled high or imminent. A rule
below that still shows its match and supports the model, but alone gives resources only."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from services.moderation.screening.data import LabeledPost, default_corpus_dir, read_corpus
from services.moderation.screening.head import HEAD_NAMES, Head, Thresholds
from services.moderation.screening.rules import RISK_ORDER, RULES, RuleFindings, Signal, apply_rules
from services.moderation.screening.screener import PostScores, decide

PRECISION_TO_HOLD = 0.85
#: Below this many matches on the corpus a rule's precision is not measured, and it keeps its level.
MIN_MATCHES = 5


def _severe_counts(posts: list[LabeledPost]) -> dict[str, tuple[int, int]]:
    """Per rule: (matches that call the post high or imminent, how many of those posts are)."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for post in posts:
        for signal in apply_rules(post.text).signals:
            if RISK_ORDER[signal.risk] >= RISK_ORDER["high"]:
                counts[signal.rule.name][0] += 1
                counts[signal.rule.name][1] += RISK_ORDER[post.risk] >= RISK_ORDER["high"]
    return {name: (n, right) for name, (n, right) in counts.items()}


@pytest.fixture(scope="module")
def severe_matches() -> dict[str, tuple[int, int]]:
    return _severe_counts(read_corpus(default_corpus_dir()))


def test_every_rule_that_holds_alone_is_precise_on_the_corpus(severe_matches: dict[str, tuple[int, int]]) -> None:
    imprecise = {
        rule.name: f"{right}/{n}"
        for rule in RULES
        if rule.holds
        for n, right in [severe_matches.get(rule.name, (0, 0))]
        if n >= MIN_MATCHES and right / n < PRECISION_TO_HOLD
    }
    assert imprecise == {}, "these rules hold posts they should not: set holds=False or make them precise"


def test_a_rule_marked_not_to_hold_is_in_fact_imprecise(severe_matches: dict[str, tuple[int, int]]) -> None:
    precise_but_silenced = {
        rule.name: f"{right}/{n}"
        for rule in RULES
        if not rule.holds and not rule.silenced_for
        for n, right in [severe_matches.get(rule.name, (0, 0))]
        if n >= MIN_MATCHES and right / n >= PRECISION_TO_HOLD
    }
    assert precise_but_silenced == {}


def test_a_rule_silenced_for_a_safe_kind_of_post_would_page_that_post_alone() -> None:
    """A precise rule kept from holding alone names the safe posts it would page; this checks the
    claim, so a reason cannot outlive the rule it excuses."""
    amends = "Wrote a letter to my daughter apologizing for the years I missed. Step 9. Mailing it tomorrow."
    signals = [s for s in apply_rules(amends).signals if s.rule.name == "preparation"]
    assert [s.risk for s in signals] == ["imminent"], "the rule matches the amends letter at imminent"
    assert signals[0].floor == "concern", "so alone it gives resources, and the model decides"
    assert all(rule.name == "preparation" for rule in RULES if rule.silenced_for)


def test_a_stated_plan_alone_does_not_hold_because_most_plans_on_a_recovery_forum_are_safe() -> None:
    """Measured on every hand-labelled post, pending ones included: the corpus alone has too few
    plans to measure, and the everyday posts that do were written to show this kind."""
    labelled = read_corpus(default_corpus_dir()) + read_corpus(default_corpus_dir().parent / "pending")
    n, right = _severe_counts(labelled)["stated_plan"]
    assert n >= MIN_MATCHES and right / n < PRECISION_TO_HOLD
    [rule] = [rule for rule in RULES if rule.name == "stated_plan"]
    assert not rule.holds
    holiday = "First sober Christmas coming up. Nervous but I have a plan: meetings on the 24th and 25th."
    assert [s.floor for s in apply_rules(holiday).signals] == ["concern"]
    with_intent = apply_rules("I want to die and I have a plan.").signals
    assert {(s.rule.name, s.risk) for s in with_intent} == {("wish_to_die", "imminent"), ("stated_plan", "imminent")}


HEAD = Head(
    np.zeros((len(HEAD_NAMES), 4), dtype=np.float32),
    np.zeros(len(HEAD_NAMES), dtype=np.float32),
    Thresholds(high=0.6, imminent=0.9, concern=0.5, category=0.5),
    "test",
)


def _scores(crisis: float, imminent: float, concern: float) -> PostScores:
    values = dict.fromkeys(HEAD_NAMES, 0.0)
    values.update(crisis=crisis, imminent=imminent, concern=concern)
    return PostScores(values)


def test_a_rule_that_does_not_hold_gives_resources_alone_and_lets_the_model_page() -> None:
    silenced = next(rule for rule in RULES if not rule.holds and RISK_ORDER[rule.risk] >= RISK_ORDER["high"])
    found = RuleFindings(signals=[Signal(silenced, "words", silenced.risk)])
    alone, *_ = decide(_scores(0.1, 0.1, 0.2), found, HEAD)
    assert alone == "concern"
    model_imminent, *_, matches = decide(_scores(0.95, 0.97, 0.9), found, HEAD)
    assert model_imminent == "imminent", "the match supports the model's imminence"
    assert [m.rule for m in matches] == [silenced.name], "and moderators still see it"


def test_a_precise_rule_holds_alone() -> None:
    precise = next(rule for rule in RULES if rule.holds and rule.risk == "imminent")
    alone, *_ = decide(_scores(0.1, 0.1, 0.2), RuleFindings(signals=[Signal(precise, "words", "imminent")]), HEAD)
    assert alone == "imminent"
