"""Input rules for titles and post bodies."""

from __future__ import annotations

import pytest

from services.forum.validation import InvalidInput, normalize_text


def body(raw: str) -> str:
    return normalize_text(raw, field="body", min_len=1, max_len=20_000)


def title(raw: str) -> str:
    return normalize_text(raw, field="title", min_len=3, max_len=200, single_line=True)


def test_text_is_stripped_and_composed_to_nfc() -> None:
    decomposed = "  Cafe\u0301 day 3 \n"
    assert body(decomposed) == "Café day 3"
    assert len(body(decomposed)) == len("Café day 3")


def test_newlines_and_tabs_are_kept_and_line_endings_unified() -> None:
    assert body("Day 1\r\nDay 2\rDay 3\n\tthanks") == "Day 1\nDay 2\nDay 3\n\tthanks"


def test_emoji_sequences_with_joiners_are_fine() -> None:
    family = "thank you \U0001f468\u200d\U0001f469\u200d\U0001f467 \U0001f1ec\U0001f1e7"
    assert body(family) == family


@pytest.mark.parametrize("control", ["\x00", "\x07", "\x1b", "\x7f", "\u0085"])
def test_control_characters_are_refused_with_a_clear_message(control: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        body(f"hello{control}there")
    assert caught.value.field == "body"
    assert f"U+{ord(control):04X}" in caught.value.detail
    assert "control character" in str(caught.value)


def test_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(InvalidInput, match="invalid character"):
        body("broken \ud800 text")


@pytest.mark.parametrize("raw", ["", "   ", "\n\t\n"])
def test_empty_or_blank_text_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput, match="'body' is empty"):
        body(raw)


def test_length_limits_count_after_normalization() -> None:
    assert body("x" * 20_000) == "x" * 20_000
    assert body("  " + "x" * 20_000 + "  ") == "x" * 20_000
    # 20,000 "e" + combining accent: 40,000 code points raw, 20,000 after NFC.
    assert len(body("e\u0301" * 20_000)) == 20_000
    with pytest.raises(InvalidInput, match="at most 20,000 characters") as caught:
        body("x" * 20_001)
    assert "20,001" in caught.value.detail


def test_title_limits() -> None:
    assert title("Day") == "Day"
    assert title("t" * 200) == "t" * 200
    with pytest.raises(InvalidInput, match="at least 3 characters") as caught:
        title("Hi")
    assert caught.value.field == "title"
    with pytest.raises(InvalidInput, match="at most 200"):
        title("t" * 201)


def test_a_title_is_one_line() -> None:
    assert title("Thirty\n days\t  today") == "Thirty days today"
    assert body("Thirty\n days") == "Thirty\n days"
