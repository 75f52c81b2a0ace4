"""Digits and symbols written for letters inside a word ("k1ll mys3lf", "su1c1de", "k!ll").

People who have learned that platforms filter crisis words write around the filter, and some do
it out of habit on a forum that does not. The screener reads a view of the post in which the
characters standing for letters inside a word are read as those letters. Only characters with a
letter on both sides are read: "4am", "3rd", "b12", "mp3", "covid19", "$20" and "100%" stay as
they were. Each character stands for exactly one character, so the view has the post's length and
every offset in it is an offset in the post: rules match on the view and quote the post's own
words.

Two kinds of character:
- look-alikes with one common reading (0 3 4 5 7 @ $) are always read;
- characters that stand for a letter only sometimes, or for one of two ("!" for i, "|" for l or
  i, "1" for i or l) are read only when the word they are in then becomes a word of the forum's
  word list (`forum_words.txt`, built by `python -m tools.training.forum_words`), and only when
  that word is ten times as frequent in the list as any other reading. "help!i cant" and
  "home|about" stay (no listed word); "k!ll", "a|one" and "a1one" are read. A "1" with no clear
  listed reading reads i, its most common use.

"*" is not read: it hides a letter that only a word list can guess, and the guesses missed one of
the bars written for them (training/pending/README.md, 2026-12-06).

Letters of another alphabet drawn like Latin ones (Cyrillic "е", "о", "і", Greek "ο", "ι", ...) are
read as their Latin twin inside a word that also holds a Latin letter ("tоnight", "kіll"). A word
written in Cyrillic or Greek alone stays as written: it is more likely a word of that language
than a disguise.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from itertools import product
from pathlib import Path

#: Look-alike → the letter it stands for, in the common "leet" reading.
LOOK_ALIKES: dict[str, str] = {
    "0": "o",
    "1": "i",
    "3": "e",
    "4": "a",
    "5": "s",
    "7": "t",
    "@": "a",
    "$": "s",
}
#: Cyrillic and Greek letters drawn like a Latin letter → that letter (Unicode's confusables, the
#: close ones only: "к" for k, not "м" for m).
LATIN_TWINS: dict[str, str] = {
    # Cyrillic
    "а": "a", "е": "e", "к": "k", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x",
    "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "һ": "h", "ӏ": "l", "ԛ": "q", "ԝ": "w",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S", "Ԛ": "Q", "Ԝ": "W",
    # Greek
    "α": "a", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "υ": "u", "χ": "x",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
}  # fmt: skip
#: Characters read only as part of a listed word → the letters each may stand for.
AMBIGUOUS: dict[str, str] = {
    "!": "i",
    "|": "li",
    "1": "il",
}
#: A word with more ambiguous characters than this is not looked up (its "1"s read i).
MAX_CHOICES_PER_WORD = 4
#: Words looked up in the list per text at most, so no text can make the view slow.
MAX_LOOKUPS_PER_TEXT = 20_000
#: A reading is taken only when its word is this many times as frequent as any other reading's.
CLEAR_MARGIN = 10

WORDS_FILE = Path(__file__).with_name("forum_words.txt")
#: Words shorter than this are not in the list.
MIN_WORD_LENGTH = 3
_READABLE = frozenset(LOOK_ALIKES) | frozenset(AMBIGUOUS)
_TWINS = frozenset(LATIN_TWINS)
#: A run of letters and readable characters: a word as it may be written.
_WRITTEN_WORD = re.compile(r"(?:[^\W\d_]|[" + re.escape("".join(sorted(_READABLE))) + r"])+")


class WordList:
    """Words of the forum's kinds of text and how often each was seen, lowercase."""

    def __init__(self, counts: Mapping[str, int]) -> None:
        self._counts = dict(counts)

    @classmethod
    def read(cls, path: Path | None = None) -> WordList:
        """The list as `tools.training.forum_words` writes it ("word count" a line); the shipped one by default."""
        counts = {}
        for line in (path or WORDS_FILE).read_text(encoding="utf-8").splitlines():
            word, _, count = line.partition(" ")
            counts[word] = int(count)
        return cls(counts)

    def __len__(self) -> int:
        return len(self._counts)

    def clear_reading(self, candidates: Iterable[str]) -> str | None:
        """The most frequent listed candidate, if it is CLEAR_MARGIN times as frequent as the next."""
        listed = sorted({word for word in candidates if word in self._counts}, key=lambda w: (-self._counts[w], w))
        if not listed:
            return None
        if len(listed) > 1 and self._counts[listed[0]] < CLEAR_MARGIN * self._counts[listed[1]]:
            return None
        return listed[0]


@cache
def shipped_words() -> WordList:
    return WordList.read()


def words_fingerprint(path: Path | None = None) -> str:
    return hashlib.sha256((path or WORDS_FILE).read_bytes()).hexdigest()[:12]


def screening_view(text: str, words: WordList | None = None, *, read_twins: bool = True) -> str:
    """`text` with the characters standing for letters inside words read as letters; same length.

    `words` is the shipped word list unless given; `read_twins=False` leaves other alphabets'
    letters as written (the view before they were read, for measuring). Linear in the length of
    `text` (lookups per text are bounded); returns `text` itself when it has nothing to read.
    """
    if read_twins:
        text = _latin_twins_read(text)
    if _READABLE.isdisjoint(text):
        return text
    word_list = shipped_words() if words is None else words
    chars = list(text)
    lookups_left = MAX_LOOKUPS_PER_TEXT
    for match in _WRITTEN_WORD.finditer(text):
        written = match.group(0)
        if _READABLE.isdisjoint(written):
            continue
        inner = list(_inner_positions(written))
        if inner:
            reading, spent = _read_word(written, inner, word_list, lookups_left)
            lookups_left -= spent
            chars[match.start() : match.end()] = reading
    return "".join(chars)


def _latin_twins_read(text: str) -> str:
    """`text` with the Latin twins in words that also hold a Latin letter (or a look-alike between
    letters) read as Latin; same length."""
    if _TWINS.isdisjoint(text):
        return text

    def read(match: re.Match[str]) -> str:
        word = match.group(0)
        if _TWINS.isdisjoint(word):
            return word
        # A look-alike between letters will be read as a Latin letter, so it makes the word Latin too.
        if not any(_is_latin(c) for c in word) and next(_inner_positions(word), None) is None:
            return word
        return "".join(LATIN_TWINS.get(c, c) for c in word)

    return _WRITTEN_WORD.sub(read, text)


def _is_latin(char: str) -> bool:
    # "a" to "z" only: a Russian writer marks stress with a Latin "ó" inside a Cyrillic word
    # ("замóк"), which must not make the word Latin.
    return char.isascii() and char.isalpha()


def _inner_positions(word: str) -> Iterator[int]:
    """Positions of readable characters in runs with a letter on each side.

    A word may also hold characters that are neither letters nor readable (a number sign such as
    "〇" or "৴" counts as a word character): they stand where letters stand, never in a run.
    """
    position = 0
    length = len(word)
    while position < length:
        if word[position] not in _READABLE:
            position += 1
            continue
        run_end = position
        while run_end < length and word[run_end] in _READABLE:
            run_end += 1
        if position > 0 and run_end < length:
            yield from range(position, run_end)
        position = run_end


def _read_word(written: str, inner: list[int], words: WordList, lookups_left: int) -> tuple[str, int]:
    """`written` with its inner readable characters read, and the lookups that took; same length."""
    in_capitals = all(c.isupper() for c in written if c.isalpha())
    reading = list(written)
    for i in inner:
        if written[i] not in AMBIGUOUS:
            reading[i] = LOOK_ALIKES[written[i]]
    choices = [i for i in inner if written[i] in AMBIGUOUS]
    spent = 0
    if choices:
        listed, spent = _listed_reading(reading, choices, words, lookups_left)
        if listed is None:
            # No clear listed word: "1" takes its common reading, and the rest is tried again with
            # it, as a second reading of the view would try it.
            ones = [i for i in choices if written[i] in LOOK_ALIKES]
            for i in ones:
                reading[i] = LOOK_ALIKES[written[i]]
            rest = [i for i in choices if i not in ones]
            if ones and rest:
                listed, more = _listed_reading(reading, rest, words, lookups_left - spent)
                spent += more
        if listed is not None:
            reading = listed
    if in_capitals:
        reading = [c.upper() if i in inner else c for i, c in enumerate(reading)]
    return "".join(reading), spent


def _listed_reading(
    reading: list[str], choices: list[int], words: WordList, lookups_left: int
) -> tuple[list[str] | None, int]:
    """`reading` with its choices made so that the word is a clear listed one, and the lookups spent."""
    if len(choices) > MAX_CHOICES_PER_WORD:
        return None, 0
    # The word runs from its first letter to its last: what stands outside ("!kill!") is not read.
    letters = [i for i, c in enumerate(reading) if c.isalpha()]
    if not letters:
        return None, 0  # between number signs ("²1²"): no word to read it into
    start, end = letters[0], letters[-1] + 1
    if end - start < MIN_WORD_LENGTH:
        return None, 0
    lowered = [c.lower() for c in reading]
    candidates: dict[str, tuple[str, ...]] = {}
    spent = 0
    for picks in product(*(AMBIGUOUS[reading[i]] for i in choices)):
        if spent >= lookups_left:
            return None, spent
        spent += 1
        for i, letter in zip(choices, picks, strict=True):
            lowered[i] = letter
        candidates.setdefault("".join(lowered[start:end]), picks)
    best = words.clear_reading(candidates)
    if best is None:
        return None, spent
    made = list(reading)
    for i, letter in zip(choices, candidates[best], strict=True):
        made[i] = letter
    return made, spent


def quoting_source(text: str, quoted_from: str | None) -> str:
    """The text matches in `text` are quoted from: `quoted_from` (the post as written, when `text`
    is its screening view, so of the same length) or `text` itself."""
    if quoted_from is None:
        return text
    if len(quoted_from) != len(text):
        raise ValueError("quoted_from must have the length of text: offsets in one are offsets in the other")
    return quoted_from
