"""A verdict's version names the rule lists that decided it, not only the model."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from services.moderation.screening import Screener, imminence, rules
from services.moderation.screening.linear import LinearPattern
from services.moderation.screening.rule_lists import rule_lists_fingerprint
from services.moderation.screening.screener import MODEL_DIR


def test_the_fingerprint_is_the_same_in_another_process_with_other_hash_seeds() -> None:
    script = "from services.moderation.screening.rule_lists import rule_lists_fingerprint as f; print(f())"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert other.stdout.strip() == rule_lists_fingerprint()


def test_changing_a_rules_pattern_changes_the_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    before = rule_lists_fingerprint()
    first, *others = rules.RULES
    widened = dataclasses.replace(first, pattern=LinearPattern(first.pattern.pattern + "|a new phrase"))
    monkeypatch.setattr(rules, "RULES", (widened, *others))
    assert rule_lists_fingerprint() != before


def test_changing_a_rules_level_changes_the_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    before = rule_lists_fingerprint()
    first, *others = rules.RULES
    monkeypatch.setattr(rules, "RULES", (dataclasses.replace(first, holds=not first.holds), *others))
    assert rule_lists_fingerprint() != before


def test_changing_the_signs_of_now_changes_the_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    before = rule_lists_fingerprint()
    monkeypatch.setattr(imminence, "_NOW", LinearPattern(r"\b(?:tonight)", word_start=True))
    assert rule_lists_fingerprint() != before


def test_the_screeners_version_is_the_models_and_the_rule_lists(screener: Screener) -> None:
    head = json.loads((MODEL_DIR / "head.json").read_text())
    assert screener.model_version == f"{head['version']}+rules-{rule_lists_fingerprint()}"
