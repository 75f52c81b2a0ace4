"""Look-alike characters inside a word are read as the letters they stand for, and nothing else is."""

from __future__ import annotations

import random

import pytest

from services.moderation.screening import obfuscation, rule_lists
from services.moderation.screening.imminence import signs_of_now
from services.moderation.screening.obfuscation import LOOK_ALIKES, screening_view
from services.moderation.screening.rules import apply_rules


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("i want to k1ll mys3lf tonight", "i want to kill myself tonight"),
        ("thinking about su1c1de", "thinking about suicide"),
        ("i want to un@live", "i want to unalive"),
        ("g00d bye", "good bye"),
        ("I K1LL3D it", "I KiLLeD it"),
        ("quiero m4tarme", "quiero matarme"),
        ("the p1lls are counted", "the pills are counted"),
        ("ca$h for d0pe", "cash for dope"),
    ],
)
def test_look_alikes_between_letters_are_read_as_letters(written: str, read: str) -> None:
    assert screening_view(written) == read


@pytest.mark.parametrize(
    "text",
    [
        "meeting at 4am, my 3rd day, 2nd week",
        "b12 shots, an mp3, covid19, a ps4 and vitamin d3",
        "it cost $20, 100% worth it, 24/7 support <3",
        "3nding",  # a look-alike that opens a word has no letter before it
        "help!i cant",  # a sentence ended without a space, not "i"
        "call 988 or text 741741",
    ],
)
def test_numbers_codes_and_prices_stay_as_written(text: str) -> None:
    assert screening_view(text) == text


def test_text_without_look_alikes_is_returned_as_it_is() -> None:
    text = "Went to my first meeting tonight."
    assert screening_view(text) is text


def test_the_view_has_the_posts_length_and_reading_it_again_changes_nothing() -> None:
    rng = random.Random(7)
    alphabet = "ab sE" + "".join(LOOK_ALIKES) + "é9!\n"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        view = screening_view(text)
        assert len(view) == len(text)
        assert screening_view(view) == view


def test_rules_match_the_view_and_quote_the_post_as_written() -> None:
    written = "i want to k1ll mys3lf tonight"
    signals = apply_rules(screening_view(written), quoted_from=written).signals
    assert signals, "the intent rule reads 'k1ll mys3lf' as 'kill myself'"
    assert any("k1ll mys3lf" in s.words for s in signals)
    assert not apply_rules(written).signals, "without the view the rules do not see it"


def test_signs_of_now_are_quoted_as_written() -> None:
    written = "the pills are in front of me t0night"
    quoted = signs_of_now(screening_view(written), quoted_from=written)
    assert "t0night" in quoted
    assert "tonight" not in quoted


def test_quoting_from_a_text_of_another_length_is_refused() -> None:
    with pytest.raises(ValueError, match="length"):
        apply_rules("i want to kill myself", quoted_from="i want to k1ll")
    with pytest.raises(ValueError, match="length"):
        signs_of_now("the pills are in front of me tonight", quoted_from="t0night")


def test_changing_the_look_alikes_changes_the_rule_lists_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    before = rule_lists.rule_lists_fingerprint()
    monkeypatch.setattr(obfuscation, "LOOK_ALIKES", {**LOOK_ALIKES, "8": "b"})
    assert rule_lists.rule_lists_fingerprint() != before
