"""Text input rules shared by titles and bodies: NFC, no control characters, length limits."""

from __future__ import annotations

import re
import unicodedata

#: Newlines and tabs are ordinary in posts; every other control character is refused.
_ALLOWED_CONTROLS = frozenset("\n\t")
_LINE_BREAKS = re.compile(r"\r\n?|[\u2028\u2029]")
_RUNS_OF_WHITESPACE = re.compile(r"\s+")


class InvalidInput(ValueError):
    """A text field breaks the input rules. `detail` is a message fit to show the person who wrote it."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


def normalize_text(raw: str, *, field: str, min_len: int, max_len: int, single_line: bool = False) -> str:
    """The text in NFC, line breaks as "\\n", without surrounding whitespace; raises InvalidInput.

    Lengths count code points after normalization. `single_line` (for titles) turns every run of
    whitespace, line breaks included, into one space instead of refusing it.
    """
    text = _LINE_BREAKS.sub("\n", unicodedata.normalize("NFC", raw))
    for position, char in enumerate(text):
        kind = unicodedata.category(char)
        if kind == "Cc" and char not in _ALLOWED_CONTROLS:
            raise InvalidInput(
                field,
                f"'{field}' contains an invisible control character (U+{ord(char):04X}) at position {position}. "
                "Please remove it and try again.",
            )
        if kind == "Cs":
            # A lone surrogate is not text at all and cannot be stored as UTF-8.
            raise InvalidInput(field, f"'{field}' contains an invalid character (U+{ord(char):04X}).")
    text = text.strip()
    if single_line:
        text = _RUNS_OF_WHITESPACE.sub(" ", text)
    if not text:
        raise InvalidInput(field, f"'{field}' is empty.")
    if len(text) < min_len:
        raise InvalidInput(field, f"'{field}' must be at least {min_len} characters long (it has {len(text)}).")
    if len(text) > max_len:
        raise InvalidInput(field, f"'{field}' must be at most {max_len:,} characters long (it has {len(text):,}).")
    return text
