"""When the rules set aside every crisis phrase of a post (past, negated, quoted, in support) and
find no signal, the model alone holds it only when it is confident: at or above the head's
dismissal override. Below that, or without an override, the author gets resources, not a hold.
The objective that chooses the thresholds mirrors the run-time decision."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from services.moderation.screening.data import LabeledPost
from services.moderation.screening.head import HEAD_NAMES, Head, HeadLoadError, Thresholds
from services.moderation.screening.rules import RISK_ORDER, apply_rules
from services.moderation.screening.screener import PostScores, decide
from tools.training.objective import Objective

PAST_ATTEMPT_STILL_WISHING = (
    "Two weeks ago I tried to kill myself with my pills. Nobody here knows, and most days I still wish it had worked."
)
WITH_OVERRIDE = Thresholds(high=0.4, imminent=0.9, concern=0.3, category=0.5, dismissal_override=0.8)
WITHOUT_OVERRIDE = Thresholds(high=0.4, imminent=0.9, concern=0.3, category=0.5)


def _head(thresholds: Thresholds) -> Head:
    return Head(
        np.zeros((len(HEAD_NAMES), 4), dtype=np.float32), np.zeros(len(HEAD_NAMES), dtype=np.float32), thresholds, "t"
    )


def _scores(crisis: float) -> dict[str, float]:
    values = dict.fromkeys(HEAD_NAMES, 0.0)
    values.update(crisis=crisis, imminent=0.1, concern=0.95, suicide=0.9)
    return values


def _decided(crisis: float, thresholds: Thresholds) -> tuple[str, list[str]]:
    text = PAST_ATTEMPT_STILL_WISHING
    risk, _, reasons, _ = decide(
        PostScores(_scores(crisis)), apply_rules(text), _head(thresholds), len(text.split()), text
    )
    return risk, reasons


def test_precondition_the_rules_set_the_post_aside_and_find_no_signal() -> None:
    findings = apply_rules(PAST_ATTEMPT_STILL_WISHING)
    assert findings.dismissed and not findings.signals


def test_a_confident_model_holds_a_post_the_rules_set_aside() -> None:
    risk, reasons = _decided(0.9, WITH_OVERRIDE)
    assert risk == "high"
    assert any("the model is confident: held" in r for r in reasons)


def test_below_the_override_the_set_aside_post_gets_resources_not_a_hold() -> None:
    risk, reasons = _decided(0.7, WITH_OVERRIDE)
    assert risk == "concern"
    assert any("context says past" in r for r in reasons)


def test_without_an_override_the_rules_context_always_caps_the_model() -> None:
    assert _decided(0.99, WITHOUT_OVERRIDE)[0] == "concern"


@pytest.mark.parametrize("thresholds", [WITH_OVERRIDE, WITHOUT_OVERRIDE])
@pytest.mark.parametrize("crisis", [0.35, 0.7, 0.9])
def test_the_objective_decides_as_the_screener_does(crisis: float, thresholds: Thresholds) -> None:
    post = LabeledPost("p", PAST_ATTEMPT_STILL_WISHING, "corpus:test", "high")
    row = np.array([_scores(crisis)[name] for name in HEAD_NAMES])
    level = Objective([post], row[None, :]).levels(thresholds)[0]
    assert level == RISK_ORDER[_decided(crisis, thresholds)[0]]


def test_the_objective_chooses_an_override_only_where_it_pays() -> None:
    # Crises told in the past tense that the model is sure of, and recovery stories it is not.
    crises = [LabeledPost(f"c{n}", f"{PAST_ATTEMPT_STILL_WISHING} ({n})", "corpus:test", "high") for n in range(20)]
    stories = [
        LabeledPost(
            f"s{n}", f"I tried to kill myself three years ago. Today I have {n + 2} months clean.", "corpus:t", "none"
        )
        for n in range(20)
    ]
    assert all(apply_rules(p.text).dismissed and not apply_rules(p.text).signals for p in crises + stories)
    rows = [[_scores(0.97)[h] for h in HEAD_NAMES]] * 20 + [[_scores(0.5)[h] for h in HEAD_NAMES]] * 20
    chosen = Objective(crises + stories, np.array(rows)).best()
    assert chosen.dismissal_override is not None and 0.5 < chosen.dismissal_override <= 0.97

    # Reversed, any override that would hold the stories costs more than it gains.
    rows = [[_scores(0.5)[h] for h in HEAD_NAMES]] * 20 + [[_scores(0.97)[h] for h in HEAD_NAMES]] * 20
    override = Objective(crises + stories, np.array(rows)).best().dismissal_override
    assert override is None or override > 0.97


def test_the_override_is_saved_and_loaded_with_the_head(tmp_path: Path) -> None:
    _head(WITH_OVERRIDE).save(tmp_path, {})
    assert Head.load(tmp_path).thresholds == WITH_OVERRIDE


def test_a_head_without_an_override_keeps_its_old_thresholds_record() -> None:
    assert "dismissal_override" not in WITHOUT_OVERRIDE.as_dict()
    assert WITH_OVERRIDE.as_dict()["dismissal_override"] == 0.8


@pytest.mark.parametrize(
    "thresholds",
    [
        {"high": 0.4, "imminent": 0.5, "concern": 0.3, "category": 0.5, "dismissal_override": "0.8"},
        {"high": 0.4, "imminent": 0.5, "concern": 0.3, "category": 0.5, "dismissal_override": 1.5},
        {"high": 0.4, "imminent": 0.5, "concern": 0.3},
        {"high": 0.4, "imminent": 0.5, "concern": 0.3, "category": 0.5, "tonight": 0.1},
        [0.4, 0.5, 0.3, 0.5],
    ],
)
def test_a_head_with_malformed_thresholds_refuses_to_load(tmp_path: Path, thresholds: object) -> None:
    _head(WITH_OVERRIDE).save(tmp_path, {})
    meta = json.loads((tmp_path / "head.json").read_text())
    meta["thresholds"] = thresholds
    (tmp_path / "head.json").write_text(json.dumps(meta))
    with pytest.raises(HeadLoadError):
        Head.load(tmp_path)
