"""Verdicts stored before they carried `matches`: the post's words are found in their reason texts.

On such a verdict the reasons are the only record of the words a rule matched: a reason ends in
them, quoted ("plan + means: 'saved up my pills'"). Only those verdicts are read here
(quoted_words.py decides); the words of a verdict with matches are never looked for in its texts.
"""

from __future__ import annotations

import re

_QUOTED_WORDS = re.compile(r": '(.+)'$")
#: From the first quoted phrase to the end; DOTALL so a quote that spans a line break goes too.
_QUOTED_TAIL = re.compile(r": '.*'$", re.DOTALL)


def legacy_highlights(reasons: list[str]) -> list[str]:
    """The words each rule matched, not the ones set aside (a cut quote loses its "…")."""
    found = []
    for reason in reasons:
        match = _QUOTED_WORDS.search(reason)
        if match and "set aside" not in reason:
            found.append(match.group(1).rstrip("…"))
    return found


def without_quoted_words(reason: str) -> str:
    """The reason without the words it quotes: "plan + means: 'saved up my pills'" -> "plan + means"."""
    return _QUOTED_TAIL.sub("", reason)


def with_words_removed(reason: str, marker: str) -> str:
    """The reason with the words it quotes replaced by `marker`."""
    return _QUOTED_TAIL.sub(marker, reason)
