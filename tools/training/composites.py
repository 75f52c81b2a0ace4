"""Long posts composed from short ones, so training sees a crisis told in one part of a long post.

A composed post places one corpus post (its *core*, whose label it carries) among two to four
short ordinary posts (level none) in the same language, in one text that fits a single window.
The whole-window mean then has to carry the core's danger through the ordinary sentences around
it, which is how a real long post tells a crisis. The pool is built once, seeded; a fit uses only
composed posts whose every source is among its own training posts, so nothing of a held-out
post reaches the model that scores it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from services.moderation.screening.data import LabeledPost, is_labeled

#: A filler is short, so the core stays one part of several.
FILLER_MAX_WORDS = 40
FILLERS_PER_POST = (2, 4)


@dataclass(frozen=True)
class Composed:
    text: str
    core: int  # index of the post whose label this one carries
    sources: tuple[int, ...]  # every post it was built from, the core included


def compose(posts: Sequence[LabeledPost], count: int, seed: int, fits: Callable[[str], bool]) -> list[Composed]:
    """`count` composed posts (fewer if too few fit), each a core among fillers of its language."""
    rng = random.Random(seed)
    cores = [i for i, p in enumerate(posts) if is_labeled(p)]
    fillers: dict[str | None, list[int]] = {}
    for i, post in enumerate(posts):
        if is_labeled(post) and post.risk == "none" and len(post.text.split()) <= FILLER_MAX_WORDS:
            fillers.setdefault(post.language, []).append(i)
    composed: list[Composed] = []
    for _ in range(count):
        core = rng.choice(cores)
        pool = [i for i in fillers.get(posts[core].language, []) if i != core]
        if len(pool) < FILLERS_PER_POST[0]:
            continue
        parts = rng.sample(pool, min(len(pool), rng.randint(*FILLERS_PER_POST)))
        parts.insert(rng.randint(0, len(parts)), core)
        while len(parts) > FILLERS_PER_POST[0] + 1 and not fits(_joined(posts, parts)):
            parts.remove(next(i for i in parts if i != core))
        text = _joined(posts, parts)
        if fits(text):
            composed.append(Composed(text, core, tuple(parts)))
    return composed


def usable(composed: Sequence[Composed], training_posts: Collection[int], limit: int, seed: int) -> list[int]:
    """Indices (into `composed`) of up to `limit` composed posts built only from `training_posts`."""
    allowed = set(training_posts)
    eligible = [n for n, c in enumerate(composed) if all(s in allowed for s in c.sources)]
    random.Random(seed).shuffle(eligible)
    return sorted(eligible[:limit])


def _joined(posts: Sequence[LabeledPost], parts: Sequence[int]) -> str:
    return " ".join(posts[i].text.strip() for i in parts)


__all__ = ["Composed", "compose", "usable"]
