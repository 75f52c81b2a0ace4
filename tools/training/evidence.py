"""Where in a long Reddit post training reads it: for a guide-labelled crisis, the span holding the
sentence a labeller quoted as the reason (`training/reddit-labels/evidence.jsonl`); for a
guide-labelled safe post, a seeded span anywhere in it.

Training reads a Reddit post's first 128 tokens. A crisis told further into a long post then
trains a label on text that does not show it. Reading a crisis where its quote is, and nothing
else differently, would teach the model where in a post it is being read (a window not starting
at the post's first token, positions late in a window) instead of what it says: so the safe
posts labelled by the same guide are read at a span anywhere in them, the same length. Scoring
is unchanged: it reads every window of every post.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.moderation.screening.data import LabeledPost
from services.moderation.screening.encoder import WINDOW_BODY, window_starts

#: Post id -> the quoted sentence, an exact substring of the post's text as training reads it.
Evidence = dict[str, str]
TokenIds = Callable[[Sequence[str]], list[list[int]]]


@dataclass(frozen=True)
class Readings:
    """Where training reads each post: window `window[p]` (an index into the post's LowerStates)
    from its token `start[p]` on; -1 where a post is read as usual, from its first token."""

    window: np.ndarray
    start: np.ndarray


def read_evidence(path: Path) -> Evidence:
    """The evidence file, refused at the first line that is not `{"id": ..., "evidence": ...}`."""
    evidence: Evidence = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            post_id, quote = row["id"], row["evidence"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not an evidence line ({type(exc).__name__})") from exc
        if not isinstance(post_id, str) or not isinstance(quote, str) or not quote.strip():
            raise ValueError(f"{path}:{number}: the id and the evidence must be non-empty text")
        if post_id in evidence:
            raise ValueError(f"{path}:{number}: a second line for {post_id}")
        evidence[post_id] = quote
    return evidence


def guide_readings(
    token_ids: TokenIds,
    posts: Sequence[LabeledPost],
    first_window: np.ndarray,
    evidence: Evidence,
    anywhere: Collection[str],
    tokens: int,
    seed: int,
) -> Readings:
    """Spans of `tokens` tokens: over its quote for a post with evidence, at a seeded place for a
    post whose id is in `anywhere`. A quote its post does not contain is refused."""
    unknown = set(evidence) - {p.id for p in posts}
    if unknown:
        raise ValueError(f"evidence for {len(unknown)} posts training does not read, e.g. {sorted(unknown)[0]}")
    rng = random.Random(seed)
    window, start = np.full(len(posts), -1), np.zeros(len(posts), dtype=int)
    for index, post in enumerate(posts):
        quote = evidence.get(post.id)
        if quote is None and post.id not in anywhere:
            continue
        if quote is None:
            whole = len(token_ids([post.text])[0])
            starts = window_starts(whole)
            chosen = rng.randrange(len(starts))
            offset = rng.randint(0, max(0, _window_length(whole, starts[chosen]) - tokens))
        else:
            at = post.text.find(quote)
            if at < 0:
                raise ValueError(f"the evidence for {post.id} is not in the text training reads")
            whole, before, through = (
                len(ids) for ids in token_ids([post.text, post.text[:at], post.text[: at + len(quote)]])
            )
            starts = window_starts(whole)
            chosen = window_holding(starts, before, through)
            # +1: a window's first token is the special one before its body.
            in_window = before - starts[chosen] + 1, through - starts[chosen] + 1
            offset = span_over(*in_window, _window_length(whole, starts[chosen]), tokens)
        window[index], start[index] = int(first_window[index]) + chosen, offset
    return Readings(window, start)


def _window_length(tokens: int, start: int) -> int:
    """Tokens in the window starting at `start`, with the two special tokens around its body."""
    return min(WINDOW_BODY, tokens - start) + 2


def window_holding(starts: Sequence[int], begin: int, end: int) -> int:
    """The first window holding tokens [begin, end) whole, else the one holding most of them."""
    overlap = [min(end, start + WINDOW_BODY) - max(begin, start) for start in starts]
    return int(np.argmax(overlap))


def span_over(begin: int, end: int, length: int, tokens: int) -> int:
    """Where a span of `tokens` of a window of `length` starts so that it is centred on [begin,
    end), kept inside the window (a quote longer than the span keeps its start)."""
    centred = begin - max(0, tokens - (end - begin)) // 2
    return max(0, min(centred, length - tokens, begin))
