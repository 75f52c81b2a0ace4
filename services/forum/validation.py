"""Text input rules shared by titles and bodies: NFC, no control characters, length limits."""

from __future__ import annotations

import unicodedata

_ALLOWED_CONTROLS = {"\n", "\t"}


class InvalidInput(ValueError):
    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


def normalize_text(raw: str, *, field: str, min_len: int, max_len: int) -> str:
    text = unicodedata.normalize("NFC", raw).replace("\r\n", "\n").strip()
    for char in text:
        if unicodedata.category(char) == "Cc" and char not in _ALLOWED_CONTROLS:
            raise InvalidInput(field, f"'{field}' contains a control character (U+{ord(char):04X}).")
    if len(text) < min_len:
        if min_len == 1:
            raise InvalidInput(field, f"'{field}' is empty.")
        raise InvalidInput(field, f"'{field}' must be at least {min_len} characters.")
    if len(text) > max_len:
        raise InvalidInput(field, f"'{field}' must be at most {max_len:,} characters (it has {len(text):,}).")
    return text
