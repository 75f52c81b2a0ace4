"""Careless rewrites of training posts: the same words typed fast at 3 a.m.

The corpus was written mostly in a tidy voice, and out of fold the model held lowercase and
typo-ridden safe posts more often than plain ones (false holds 0.125 and 0.117 against 0.098 on
the shipped recipe's scores), so voice leaks into risk. A careless rewrite keeps what a post says
and changes only how it is typed: case, apostrophes, punctuation, accents, chat abbreviations and
slips of the finger. Training may read a hand-labelled post's rewrite in its place (finetune.py,
`Variants`), labelled as the post, so voice carries no label.

Every change is general (no word of any post is special) and seeded, so a run reproduces.
Tried on 2026-12-05 (`--careless-voice 0.3`) and not adopted: the careless-voiced safe posts
were held as often as before, so the gap is in what they say (training/pending/README.md).
"""

from __future__ import annotations

import random
import re
import unicodedata

#: Chat spellings of common words. Only words whose spelling, not meaning, changes.
_ENGLISH_SHORT = {
    "you": "u",
    "your": "ur",
    "you're": "ur",
    "are": "r",
    "because": "bc",
    "though": "tho",
    "really": "rly",
    "people": "ppl",
    "probably": "prob",
    "tonight": "tonite",
    "going to": "gonna",
    "want to": "wanna",
    "don't know": "dunno",
    "right now": "rn",
    "to be honest": "tbh",
    "i don't know": "idk",
}
_SPANISH_SHORT = {
    "que": "q",
    "porque": "xq",
    "por qué": "xq",
    "también": "tb",
    "por favor": "porfa",
    "para": "pa",
}

_WORD = re.compile(r"[^\W\d_]{4,}")


def careless(text: str, language: str, rng: random.Random) -> str:
    """`text` as someone might type it in a hurry; what it says is unchanged."""
    if rng.random() < 0.35:
        text = _abbreviate(text, _SPANISH_SHORT if language == "es" else _ENGLISH_SHORT, rng)
    if rng.random() < 0.6:
        text = text.lower()
    if rng.random() < 0.5:
        text = text.replace("'", "").replace("\u2019", "")
    if rng.random() < 0.4:
        text = re.sub(r"[.,;:](?=\s|$)", "", text)
    if language == "es":
        if rng.random() < 0.6:
            text = _without_accents(text)
        if rng.random() < 0.7:
            text = text.replace("¿", "").replace("¡", "")
    if rng.random() < 0.5:
        text = _slips(text, rng, rate=0.06)
    return text


def _abbreviate(text: str, short: dict[str, str], rng: random.Random) -> str:
    for long, brief in sorted(short.items(), key=lambda item: -len(item[0])):
        if rng.random() < 0.7:
            text = re.sub(rf"\b{re.escape(long)}\b", brief, text, flags=re.IGNORECASE)
    return text


def _without_accents(text: str) -> str:
    """Drop accents but keep ñ, as most people typing Spanish on a phone in a hurry do."""
    kept = text.replace("ñ", "\0").replace("Ñ", "\1")
    bare = "".join(c for c in unicodedata.normalize("NFD", kept) if unicodedata.category(c) != "Mn")
    return unicodedata.normalize("NFC", bare).replace("\0", "ñ").replace("\1", "Ñ")


def _slips(text: str, rng: random.Random, rate: float) -> str:
    """Slips of the finger in about `rate` of the words of four letters or more: two letters
    swapped, one dropped or one doubled, never the first letter."""

    def slip(match: re.Match[str]) -> str:
        word = match.group(0)
        if rng.random() >= rate:
            return word
        at = rng.randrange(1, len(word) - 1)
        kind = rng.randrange(3)
        if kind == 0:
            return word[:at] + word[at + 1] + word[at] + word[at + 2 :]
        if kind == 1:
            return word[:at] + word[at + 1 :]
        return word[:at] + word[at] + word[at:]

    return _WORD.sub(slip, text)


__all__ = ["careless"]
