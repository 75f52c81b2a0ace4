"""One canonical form for text that is screened, redacted, stored and shown.

Screening and redaction only see what a pattern or model can see. Invisible characters
("555\\u200b123\\u200b4567"), look-alike forms ("＠", "５") and odd spaces let a contact detail or
a harmful phrase slip past both while reading the same to a person. `normalize_text` removes that
difference: what is stored and shown is exactly the text that was checked.
"""

from __future__ import annotations

import re
import unicodedata

_SPACE = " "
_ZWJ = "\u200d"
#: Format characters outside category Cf that are just as invisible: Mongolian vowel separator
#: (Cf only in old Unicode versions) and the reserved, invisible-operator block.
_ALSO_REMOVED = frozenset("\u180e\u00ad\ufeff") | frozenset(map(chr, range(0x2060, 0x2070)))
#: Line and paragraph separators read as a space inside a post; newlines stay what they are.
_ALSO_SPACES = frozenset("\u2028\u2029")
#: A subdivision flag (England, Scotland, Wales): black flag, tag letters, cancel tag. Any other tag
#: characters are removed, since they can carry hidden ASCII text. Bounded, so linear to scan.
_TAGS = re.compile("(\U0001f3f4[\U000e0020-\U000e007e]{1,12}\U000e007f)|[\U000e0000-\U000e007f]")


class _Translation(dict[int, "str | None"]):
    """str.translate table filled on first sight of each code point (so import stays cheap)."""

    def __missing__(self, code: int) -> str | int | None:
        char = chr(code)
        category = unicodedata.category(char)
        value: str | int | None
        if char == _ZWJ or 0xE0000 <= code <= 0xE007F:
            value = code  # decided with its neighbours, below
        elif category == "Cf" or char in _ALSO_REMOVED:
            value = None
        elif (category == "Zs" and char != _SPACE) or char in _ALSO_SPACES:
            value = _SPACE
        else:
            value = code
        self[code] = value  # type: ignore[assignment]  # str.translate tables accept str values; the dict subclass is typed for ints
        return value


_TRANSLATION = _Translation()


def normalize_text(text: str) -> str:
    """`text` in NFKC, without invisible format characters, with every kind of space as " ".

    Pure, total (any str), idempotent and linear in the length of `text`. Newlines and tabs stay;
    emoji, including skin tones and joined sequences ("👩‍👩‍👧", "🏳️‍🌈"), and accented letters
    come through as they were written.
    """
    if text.isascii():
        # ASCII has no format characters, odd spaces or compatibility forms: the common case.
        return text
    text = text.translate(_TRANSLATION)
    if _ZWJ in text:
        text = _drop_stray_joiners(text)
    text = _TAGS.sub(lambda match: match.group(1) or "", text)
    return unicodedata.normalize("NFKC", text)


def _is_emoji_part(char: str) -> bool:
    # Emoji, skin-tone modifiers (Sk) and the emoji variation selector; never a letter or digit.
    return unicodedata.category(char) in ("So", "Sk") or char == "\ufe0f"


def _drop_stray_joiners(text: str) -> str:
    """Keep a zero-width joiner only inside an emoji sequence; anywhere else it hides a split."""
    pieces: list[str] = []
    start = 0
    position = text.find(_ZWJ)
    while position != -1:
        joins_emoji = (
            0 < position < len(text) - 1
            and _is_emoji_part(text[position - 1])
            and unicodedata.category(text[position + 1]) == "So"
        )
        if not joins_emoji:
            pieces.append(text[start:position])
            start = position + 1
        position = text.find(_ZWJ, position + 1)
    pieces.append(text[start:])
    return "".join(pieces)
