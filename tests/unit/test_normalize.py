"""normalize_text: one canonical form, so invisible and look-alike characters hide nothing."""

from __future__ import annotations

import pytest

from services.common.normalize import normalize_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("555\u200b123\u200b4567", "5551234567"),  # zero-width space
        ("555\u200c123\u200d4567", "5551234567"),  # zero-width non-joiner and joiner between digits
        ("jane\u2060doe\ufeff", "janedoe"),  # word joiner, byte-order mark
        ("so\u00adber", "sober"),  # soft hyphen
        ("a\u180eb", "ab"),  # Mongolian vowel separator
        ("a\u2061b\u2063c", "abc"),  # invisible operators
        ("a\u202eb\u2066c", "abc"),  # bidirectional overrides and isolates
        ("x\U000e0041\U000e0042y", "xy"),  # tag characters outside a flag hide ASCII text
    ],
)
def test_invisible_format_characters_are_removed(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    "space",
    ["\u00a0", "\u2002", "\u2003", "\u2009", "\u200a", "\u202f", "\u205f", "\u3000", "\u1680", "\u2028", "\u2029"],
)
def test_every_unusual_space_or_separator_becomes_a_plain_space(space: str) -> None:
    assert normalize_text(f"555{space}123{space}4567") == "555 123 4567"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("jane＠gmail．com", "jane@gmail.com"),  # fullwidth @ and full stop
        ("５５５-１２３-４５６７", "555-123-4567"),  # fullwidth digits
        ("ｉｎｓｔａ： ｃｏｏｌ", "insta: cool"),
        ("①②③", "123"),  # circled digits
        ("ﬁx", "fix"),  # ligature
        ("e\u0301", "é"),  # composed
    ],
)
def test_compatibility_forms_become_their_plain_letters(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "año, ¿qué tal?",
        "Hauptstraße, Ærø, São Paulo, Łódź, çà et là",
        "Привет, Γειά σου, مرحبا, 你好, こんにちは",
        "💛 🙏 👍🏽 ❤️ 🎉",
        "👩\u200d👩\u200d👧 family, 🏳️\u200d🌈 flag, 👨🏽\u200d💻 coder",
        "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f Scotland",
        "Day 4.\n\n\tStill here.",
    ],
)
def test_ordinary_text_accents_and_emoji_come_through_unchanged(text: str) -> None:
    assert normalize_text(text) == text


def test_a_joiner_is_only_kept_between_emoji() -> None:
    assert normalize_text("a\u200d💛") == "a💛"
    assert normalize_text("💛\u200d5") == "💛5"
    assert normalize_text("\u200d") == ""


@pytest.mark.parametrize(
    "text", ["555\u200b123", "ｊａｎｅ＠ｘ．ｃｏ", "a\u3000b", "👩\u200d👩\u200d👧", "e\u200b\u0301", "ﷺ", "x\u2028y"]
)
def test_normalizing_twice_changes_nothing_more(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once


def test_plain_ascii_is_returned_as_it_is() -> None:
    text = "call me on 555-123-4567\n"
    assert normalize_text(text) is text
