"""The post's words a stored verdict quotes: marked for a moderator, or kept out of a view.

A verdict's reasons quote the words screening matched ("plan + means: 'saved up my pills'");
its `matches` say which words, and which reason quotes them, so nothing here reads the reason
texts. A verdict stored before matches existed (`matches` missing or None) has only those texts,
and is read by legacy_reasons.py instead.
"""

from __future__ import annotations

from typing import Any

from services.moderation.api.legacy_reasons import legacy_highlights, with_words_removed, without_quoted_words
from streams.events import RuleMatch

WORDS_REMOVED = ": [words removed]"


def highlights(reasons: list[str], matches: list[dict[str, Any]] | None = None) -> list[str]:
    """The words each rule matched, for the console to mark; not the ones set aside.

    `matches` as the verdict stored them, or None for a verdict from before matches.
    """
    if matches is None:
        return legacy_highlights(reasons)
    # A cut quote ends in "…", which the post itself does not hold there.
    return [m.words.removesuffix("…") for m in _read(matches) if m.counts and m.words]


def reasons_without_words(reasons: list[str], matches: list[dict[str, Any]] | None = None) -> list[str]:
    """The reasons as a view without post text shows them: a reason that quotes words keeps its heading."""
    if matches is None:
        return [without_quoted_words(reason) for reason in reasons]
    headings = _headings(matches)
    return [headings.get(number, reason) for number, reason in enumerate(reasons)]


def verdict_without_words(verdict: dict[str, Any]) -> dict[str, Any]:
    """A stored verdict with the post's words taken out; each reason that quoted some says so."""
    reasons = verdict.get("reasons", [])
    matches = verdict.get("matches")
    if matches is None:
        return {**verdict, "reasons": [with_words_removed(reason, WORDS_REMOVED) for reason in reasons]}
    headings = _headings(matches)
    return {
        **verdict,
        "reasons": [headings[n] + WORDS_REMOVED if n in headings else reason for n, reason in enumerate(reasons)],
        "matches": [{**match, "words": ""} for match in matches],
    }


def _read(matches: list[dict[str, Any]]) -> list[RuleMatch]:
    return [RuleMatch.model_validate(match) for match in matches]


def _headings(matches: list[dict[str, Any]]) -> dict[int, str]:
    """For each reason that quotes words, by its position: that reason without them."""
    return {m.reason: m.heading for m in _read(matches)}
