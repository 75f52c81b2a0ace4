"""Where a long Reddit post's label comes from: the sentence a labeller quoted as the reason the
post is a crisis (`training/reddit-labels/evidence.jsonl`).

Training reads a post's first window, a Reddit post only to its first 128 tokens. A crisis told
further into a long post then trains a label on text that does not show it. With evidence,
training reads the window holding the quoted sentence instead, whole; scoring is unchanged (it
reads every window of every post).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from services.moderation.screening.data import LabeledPost
from services.moderation.screening.encoder import WINDOW_BODY, window_starts

#: Post id -> the quoted sentence, an exact substring of the post's text as training reads it.
Evidence = dict[str, str]


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


def evidence_windows(
    token_ids: Callable[[Sequence[str]], list[list[int]]],
    posts: Sequence[LabeledPost],
    first_window: np.ndarray,
    evidence: Evidence,
) -> np.ndarray:
    """For each post, the window (an index like `first_window`'s) holding its quoted sentence;
    -1 for a post without evidence. A quote its post does not contain is refused."""
    chosen = np.full(len(posts), -1)
    for index, post in enumerate(posts):
        quote = evidence.get(post.id)
        if quote is None:
            continue
        at = post.text.find(quote)
        if at < 0:
            raise ValueError(f"the evidence for {post.id} is not in the text training reads")
        whole, before, through = token_ids([post.text, post.text[:at], post.text[: at + len(quote)]])
        starts = window_starts(len(whole))
        chosen[index] = int(first_window[index]) + window_holding(starts, len(before), len(through))
    unknown = set(evidence) - {p.id for p in posts}
    if unknown:
        raise ValueError(f"evidence for {len(unknown)} posts training does not read, e.g. {sorted(unknown)[0]}")
    return chosen


def window_holding(starts: Sequence[int], begin: int, end: int) -> int:
    """The first window holding tokens [begin, end) whole, else the one holding most of them."""
    overlap = [min(end, start + WINDOW_BODY) - max(begin, start) for start in starts]
    return int(np.argmax(overlap))
