"""Regular expressions that run in time linear in the text, for the screening rules.

The rules read member text, so a pattern must never backtrack: RE2 (automata, no backtracking)
matches them. RE2 has no lookarounds and its `\\b`, `\\w`, `\\s` and `\\d` are ASCII, while the rules
were written for Python's `re`. `LinearPattern` closes those gaps with checks on each match:

- `\\w`, `\\s` and `\\d` are rewritten to the Unicode classes of Python's (`W`, `S`, `D` below), and
  `$` to Python's "end, or before a final newline".
- `word_start=True` says the pattern starts at `\\b` before a letter; the match start is then also
  checked against Python's Unicode word characters (RE2's ASCII `\\b` alone would let "ñkms" match).
- A group named `aheadN` stands in for a positive lookahead at the very end of the pattern: it is
  matched, then cut off, so the match ends where the lookahead began.
- A group named `vetoN` stands in for a negative lookahead: a match in which it took part is
  rejected and the search goes on from the next character, as `re` would.

Inner `\\b`s stay ASCII: they differ from `re` only where a non-ASCII letter touches a keyword
("kmsé"), and there RE2 sees a boundary and `re` does not.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate

import re2

#: Python's `\w` on str: str.isalnum() or "_" (letters and every numeric character).
W = r"[\pL\pN_]"
#: Python's `\s` on str: exactly the characters for which str.isspace() is true.
S = r"[\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
#: Python's `\d` on str: decimal digits of any script.
D = r"\p{Nd}"

# Python's IGNORECASE also equates these with "i"; RE2's case folding does not. Each is one
# character for one character, so offsets into the original text stay valid.
_FOLD_TO_I = str.maketrans({"\u0130": "i", "\u0131": "i"})


_OPTIONS = re2.Options()
# When a big pattern's DFA runs out of memory on hostile text, RE2 falls back to its NFA: still
# linear and still correct, but it would log an error line per search, flooding the worker's log.
_OPTIONS.log_errors = False


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _utf8_length(char: str) -> int:
    code = ord(char)
    return 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4


class Subject:
    """A text encoded once for RE2, with its byte offsets mapped back to str offsets.

    RE2's own str API re-encodes the whole text on every call, which would make repeated searches
    quadratic; matching on these bytes keeps each search proportional to what it scans.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self._folded = text.translate(_FOLD_TO_I)
        # Lone surrogates can arrive in JSON; they must not make screening fail.
        self.data = self._folded.encode("utf-8", "surrogatepass")
        self._ascii = len(self.data) == len(text)

    @cached_property
    def _byte_offsets(self) -> list[int]:
        return list(accumulate(map(_utf8_length, self._folded), initial=0))

    @cached_property
    def _char_at_byte(self) -> dict[int, int]:
        return dict(zip(self._byte_offsets, range(len(self._byte_offsets)), strict=True))

    def to_char(self, byte_offset: int) -> int:
        return byte_offset if self._ascii or byte_offset == 0 else self._char_at_byte[byte_offset]

    def to_byte(self, char_offset: int) -> int:
        return char_offset if self._ascii or char_offset == 0 else self._byte_offsets[char_offset]


@dataclass(frozen=True)
class Span:
    start: int
    end: int


class LinearPattern:
    """A case-insensitive RE2 pattern with `re`'s finditer/search semantics (see the module doc)."""

    def __init__(self, pattern: str, *, word_start: bool = False) -> None:
        if word_start and not pattern.startswith(r"\b"):
            raise ValueError("word_start needs a pattern that starts with \\b")
        self.pattern = pattern
        self._regex = re2.compile(("(?i)" + _as_re2(pattern)).encode("utf-8"), _OPTIONS)
        names = {name.decode(): index for name, index in self._regex.groupindex.items()}
        self._ahead = [index for name, index in names.items() if name.startswith("ahead")]
        self._veto = [index for name, index in names.items() if name.startswith("veto")]
        self._word_start = word_start

    def finditer(self, subject: Subject, pos: int = 0) -> Iterator[Span]:
        """Non-overlapping matches from str offset `pos` on, left to right, as `re.finditer` finds them.

        Text before `pos` is context only, as for `re`'s `pos`: it decides a leading `\\b`.
        """
        data, text = subject.data, subject.text
        position = subject.to_byte(pos)
        while position <= len(data):
            match = self._regex.search(data, position)
            if match is None:
                return
            start_byte, end_byte = match.span()
            start = subject.to_char(start_byte)
            if any(match.start(group) != -1 for group in self._veto) or (
                self._word_start and start > 0 and _is_word(text[start - 1])
            ):
                position = subject.to_byte(start + 1)
                continue
            for group in self._ahead:
                if match.start(group) != -1:
                    end_byte = match.start(group)
            # A match that is empty (none of the rules' is) must still move the search on.
            position = end_byte if end_byte > start_byte else subject.to_byte(start + 1)
            yield Span(start, subject.to_char(end_byte))

    def search(self, subject: Subject, pos: int = 0) -> Span | None:
        return next(self.finditer(subject, pos), None)

    def matches(self, text: str) -> bool:
        return self.search(Subject(text)) is not None


_CLASSES = {"w": W, "s": S, "d": D}


def _as_re2(pattern: str) -> str:
    """`pattern` with Python's meaning of `\\w`, `\\s`, `\\d` and `$` spelled out for RE2."""
    out: list[str] = []
    in_class = False
    eol = 0
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            escaped = pattern[index + 1]
            if escaped in _CLASSES:
                if in_class:
                    raise ValueError(f"\\{escaped} inside [...] is not supported: {pattern!r}")
                out.append(_CLASSES[escaped])
            else:
                out.append(pattern[index : index + 2])
            index += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        elif char == "$" and not in_class:
            # re's `$` also matches just before a final newline, which stays outside the match.
            eol += 1
            char = rf"(?P<ahead_eol{eol}>\n)?$"
        out.append(char)
        index += 1
    return "".join(out)
