"""Digits and symbols written for letters inside a word ("k1ll mys3lf", "su1c1de", "un@live").

People who have learned that platforms filter crisis words write around the filter, and some do
it out of habit on a forum that does not. The screener reads a view of the post in which a run of
look-alike characters standing between two letters is read as the letters it stands for. Only a
run with a letter on both sides is read: "4am", "3rd", "b12", "mp3", "covid19", "$20" and "100%"
stay as they were. Each character stands for exactly one character, so the view has the post's
length and every offset in it is an offset in the post: rules match on the view and quote the
post's own words.

"!" is left out: a sentence ended without a space ("help!i cant") is more common than "k!ll".
"""

from __future__ import annotations

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
_LOOK_ALIKE_SET = frozenset(LOOK_ALIKES)


def screening_view(text: str) -> str:
    """`text` with each run of look-alikes between two letters read as letters; same length.

    Linear in the length of `text`; returns `text` itself when it has no look-alike at all.
    """
    if _LOOK_ALIKE_SET.isdisjoint(text):
        return text
    chars = list(text)
    length = len(text)
    position = 0
    while position < length:
        if text[position] not in _LOOK_ALIKE_SET:
            position += 1
            continue
        run_end = position
        while run_end < length and text[run_end] in _LOOK_ALIKE_SET:
            run_end += 1
        if position > 0 and text[position - 1].isalpha() and run_end < length and text[run_end].isalpha():
            for index in range(position, run_end):
                chars[index] = LOOK_ALIKES[text[index]]
        position = run_end
    return "".join(chars)
