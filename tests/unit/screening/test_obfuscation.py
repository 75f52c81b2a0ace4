"""Characters written for letters inside a word are read as those letters, and nothing else is.

Look-alikes with one reading are always read; masks and ambiguous characters only as a listed word.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from pathlib import Path

import pytest

from services.moderation.screening import obfuscation, rule_lists
from services.moderation.screening.data import default_corpus_dir, default_data_dir
from services.moderation.screening.imminence import signs_of_now
from services.moderation.screening.obfuscation import (
    AMBIGUOUS,
    LATIN_TWINS,
    LOOK_ALIKES,
    MAX_LOOKUPS_PER_TEXT,
    WORDS_FILE,
    WordList,
    screening_view,
)
from services.moderation.screening.rules import apply_rules
from tools.training.forum_words import word_list_text


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("i want to k1ll mys3lf tonight", "i want to kill myself tonight"),
        ("thinking about su1c1de", "thinking about suicide"),
        ("i want to un@live", "i want to unalive"),
        ("g00d bye", "good bye"),
        ("I K1LL3D it", "I KILLED it"),  # a word in capitals is read in capitals
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
        "help!i cant",  # a sentence ended without a space: "helpii" is no word
        "call 988 or text 741741",
        "home|about|contact",  # a separator: no listed word fits
        "*** and ki!! and |kill|",  # nothing with a letter on each side
    ],
)
def test_numbers_codes_and_prices_stay_as_written(text: str) -> None:
    assert screening_view(text) == text


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("i want to k!ll myself tonight", "i want to kill myself tonight"),
        ("thinking about su!c!de again", "thinking about suicide again"),
        ("so a1one and so a|one", "so alone and so alone"),
        ("the p!||s are here", "the pills are here"),
        ("K!LL MYS3LF", "KILL MYSELF"),
        ("!k!ll!", "!kill!"),  # what stands outside the word's letters is not read
    ],
)
def test_ambiguous_characters_are_read_as_the_listed_word_they_make(written: str, read: str) -> None:
    assert screening_view(written) == read


def test_a_reading_is_taken_only_when_its_word_is_ten_times_as_frequent_as_any_other() -> None:
    words = WordList({"sip": 50, "slip": 2, "hill": 30, "slid": 20, "siid": 10})
    assert screening_view("s|p h1ll", words) == "sip hill"
    assert screening_view("s|id", words) == "s|id"  # slid against siid: not clear
    assert screening_view("s1id", words) == "siid"  # not clear, so "1" reads i as a look-alike


def test_masks_are_not_read() -> None:
    assert screening_view("s*icide, k*ll, f**k") == "s*icide, k*ll, f**k"


def test_a_one_that_makes_no_listed_word_reads_i_as_a_look_alike() -> None:
    assert screening_view("a1one k1ll", WordList({"alone": 3})) == "alone kill"
    assert screening_view("k!ll a|one", WordList({})) == "k!ll a|one"


def test_a_text_of_ambiguous_words_costs_a_bounded_number_of_lookups() -> None:
    class CountingWords(WordList):
        lookups = 0

        def clear_reading(self, candidates: Iterable[str]) -> str | None:
            candidates = list(candidates)
            CountingWords.lookups += len(candidates)
            return super().clear_reading(candidates)

    words = CountingWords({"kill": 1})
    rng = random.Random(3)
    text = " ".join("".join(rng.choice("ab1|!") for _ in range(9)) for _ in range(5000))
    view = screening_view(text, words)
    assert len(view) == len(text)
    assert 0 < CountingWords.lookups <= MAX_LOOKUPS_PER_TEXT


def test_the_shipped_word_list_is_what_the_corpus_and_the_unfrozen_reddit_posts_give() -> None:
    assert WORDS_FILE.read_text(encoding="utf-8") == word_list_text(default_corpus_dir(), default_data_dir()), (
        "run python -m tools.training.forum_words"
    )
    assert len(WordList.read()) > 10_000


def test_text_without_look_alikes_is_returned_as_it_is() -> None:
    text = "Went to my first meeting tonight."
    assert screening_view(text) is text


def test_the_view_has_the_posts_length_and_reading_it_again_changes_nothing() -> None:
    rng = random.Random(7)
    alphabet = "ab sE" + "".join(LOOK_ALIKES) + "".join(AMBIGUOUS) + "é9\n" + "еоіοжд"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        view = screening_view(text)
        assert len(view) == len(text)
        assert screening_view(view) == view


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("i'm going to еnd it tоnight", "i'm going to end it tonight"),  # Cyrillic е, о
        ("i want to kіll mysеlf", "i want to kill myself"),  # Cyrillic і, е
        ("thinking about suιcιde", "thinking about suicide"),  # Greek ι
        ("ТHE PILLS", "THE PILLS"),  # Cyrillic capital Т
        ("k1іll", "kiill"),  # a twin beside a look-alike digit
        ("ѕ3х", "sex"),  # Cyrillic letters alone, but a look-alike between them is read as Latin
    ],
)
def test_latin_twins_from_other_alphabets_are_read_inside_latin_words(written: str, read: str) -> None:
    assert screening_view(written) == read


@pytest.mark.parametrize(
    "text",
    [
        "Я живу в Крыму, задавайте вопросы.",  # Russian: every word Cyrillic alone
        "ад. сос",  # Cyrillic words made only of letters with Latin twins stay too
        "το κακό ήρθε",  # Greek
        "met a friend from Київ at the meeting",  # a Cyrillic word among English ones
        "alpha α and beta β",  # a Greek letter standing alone, as in a formula
        "замóк и вода",  # a Latin accent marking stress in Russian does not make the word Latin
        "kв",  # "в" is drawn like a capital B, not like b: no twin of a Latin letter
    ],
)
def test_words_of_other_alphabets_stay_as_written(text: str) -> None:
    assert screening_view(text) == text


def test_each_latin_twin_reads_as_one_latin_letter() -> None:
    for twin, latin in LATIN_TWINS.items():
        assert len(latin) == 1 and latin.isascii() and latin.isalpha()
        assert not twin.isascii()
        assert twin.isupper() == latin.isupper()


def test_a_crisis_written_with_twins_is_read_by_the_rules_and_quoted_as_written() -> None:
    written = "im going to end it tоnight"  # Cyrillic о
    quoted = signs_of_now(screening_view(written), quoted_from=written)
    assert "tоnight" in quoted
    assert not signs_of_now(written), "without the view the sign of now is not seen"


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


def test_changing_the_latin_twins_changes_the_rule_lists_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    before = rule_lists.rule_lists_fingerprint()
    monkeypatch.setattr(obfuscation, "LATIN_TWINS", {**LATIN_TWINS, "м": "m"})
    assert rule_lists.rule_lists_fingerprint() != before


def test_changing_the_word_list_changes_the_rule_lists_fingerprint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    before = rule_lists.rule_lists_fingerprint()
    changed = tmp_path / "forum_words.txt"
    changed.write_text(WORDS_FILE.read_text(encoding="utf-8") + "zzzq 2\n", encoding="utf-8")
    monkeypatch.setattr(obfuscation, "WORDS_FILE", changed)
    assert rule_lists.rule_lists_fingerprint() != before


def _word_characters_that_are_not_letters() -> list[str]:
    """Characters a word may hold that are neither letters nor digits: number signs such as "〇"
    (a Chinese zero, written in dates) or "৴" (a Bengali fraction sign)."""
    word_character = re.compile(r"[^\W\d_]")
    return [c for c in map(chr, range(0x110000)) if word_character.match(c) and not c.isalpha()]


def test_no_word_character_breaks_the_view_and_the_view_keeps_every_length() -> None:
    odd = _word_characters_that_are_not_letters()
    assert "〇" in odd and "৴" in odd and len(odd) > 100
    for c in odd:
        for text in (f"a{c}0b", f"l0{c}st", f"{c}1{c}", f"s3{c}"):
            assert len(screening_view(text)) == len(text), text
    assert len(screening_view("二〇一5年")) == 5
    assert screening_view("l0৴st k1ll") == "lo৴st kill"
