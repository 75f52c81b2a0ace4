"""Training the screener reproducibly: fine-tune the encoder's top layers and the heads, and
measure it by k-fold cross-validation on the training corpus and the weakly labeled Reddit posts.

Every figure and every threshold comes from out-of-fold scores: each post is scored by a model
(top layers + heads) that never saw it. The development set is not read here, and the blind
test set never is.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from services.moderation.screening.data import (
    LabeledPost,
    is_labeled,
    reddit_read_by_training,
    subreddit,
    training_targets,
)
from services.moderation.screening.encoder import MINILM, MULTILINGUAL_E5, Encoder
from services.moderation.screening.head import HEAD_NAMES, Head, Thresholds, combine_parts
from streams.events import DANGER_LEVELS
from tools.training.composites import Composed, usable
from tools.training.evidence import Readings
from tools.training.finetune import (
    FinetuneConfig,
    Finetuned,
    LowerStates,
    Variants,
    targets_matrix,
    train,
    window_embeddings,
)

log = logging.getLogger(__name__)

SEED = 20261202
#: Reddit posts are labeled only by where they were written: they weigh less than hand labels.
REDDIT_WEIGHT = 0.5
#: Training and cross-validation read a Reddit post's first characters only (about three
#: windows); the screener at run time reads every window of every post.
REDDIT_CHARS = 2400


@dataclass(frozen=True)
class TrainingSet:
    posts: list[LabeledPost]
    targets: np.ndarray
    mask: np.ndarray
    weights: np.ndarray

    @classmethod
    def of(
        cls, posts: Sequence[LabeledPost], reddit_weight: float = REDDIT_WEIGHT, real_crisis_factor: float = 1.0
    ) -> TrainingSet:
        """Hand-labeled posts first, then the Reddit posts training reads, each cut to `REDDIT_CHARS`
        and weighing `reddit_weight` against a hand-labeled post's 1; a Reddit post the guide
        labels high or imminent weighs `real_crisis_factor` times that."""
        reddit = reddit_read_by_training([p for p in posts if not is_labeled(p)], SEED)
        kept = [p for p in posts if is_labeled(p)]
        kept += [LabeledPost(p.id, p.text[:REDDIT_CHARS], p.source, p.risk, p.categories) for p in reddit]
        targets, mask = targets_matrix([training_targets(p) for p in kept])
        weights = np.array(
            [
                1.0 if is_labeled(p) else reddit_weight * (real_crisis_factor if p.risk in DANGER_LEVELS else 1.0)
                for p in kept
            ],
            dtype=np.float32,
        )
        return cls(kept, targets, mask, weights)

    def with_composed(self, composed: Sequence[Composed]) -> TrainingSet:
        """These posts followed by the composed ones, each labeled as its core (training only:
        folds and figures are of `self`'s posts)."""
        if not composed:
            return self
        cores = [c.core for c in composed]
        extra = [
            LabeledPost(f"composed-{n}", c.text, "corpus:composed", core.risk, core.categories, core.language)
            for n, (c, core) in enumerate(zip(composed, (self.posts[i] for i in cores), strict=True))
        ]
        return TrainingSet(
            self.posts + extra,
            np.vstack([self.targets, self.targets[cores]]),
            np.vstack([self.mask, self.mask[cores]]),
            np.concatenate([self.weights, self.weights[cores]]),
        )

    @property
    def weakly_labeled(self) -> np.ndarray:
        return np.array([not is_labeled(p) for p in self.posts], dtype=bool)

    def strata(self) -> list[str]:
        return [f"{p.risk}" if is_labeled(p) else f"reddit:{subreddit(p)}" for p in self.posts]


def head_of(
    fitted: Finetuned, thresholds: Thresholds, version: str, encoder: str = MINILM, span_discount: float | None = None
) -> Head:
    return Head(
        fitted.weights,
        fitted.bias,
        thresholds,
        version,
        needs_delta=bool(fitted.top_state),
        encoder=encoder,
        span_discount=span_discount,
    )


def post_parts(
    encoder: Encoder, lower: LowerStates, fitted: Finetuned, posts: Sequence[int], precision: str = "fp32"
) -> np.ndarray:
    """Per-head logits of `posts`' parts (posts, 3, heads) as at run time: whole-post mean,
    worst window, worst span (`head.combine_parts` turns them into scores)."""
    wanted = set(posts)
    windows = [w for w, owner in enumerate(lower.owner) if int(owner) in wanted]
    vectors, spans = window_embeddings(encoder, lower, fitted, windows, precision=precision)
    head = head_of(fitted, Thresholds(0.5, 0.5, 0.5, 0.5), "cv")
    by_post: dict[int, list[int]] = {}
    for row, w in enumerate(windows):
        by_post.setdefault(int(lower.owner[w]), []).append(row)
    out = np.zeros((len(posts), 3, len(HEAD_NAMES)))
    for i, post in enumerate(posts):
        rows = vectors[by_post[post]]
        mean = rows.mean(axis=0)
        mean /= max(float(np.linalg.norm(mean)), 1e-9)
        out[i] = head.post_logits(mean, rows, np.concatenate([spans[r] for r in by_post[post]]))
    return out


def post_scores(
    encoder: Encoder,
    lower: LowerStates,
    fitted: Finetuned,
    posts: Sequence[int],
    precision: str = "fp32",
    span_discount: float | None = None,
) -> np.ndarray:
    """Per-head probabilities of `posts`, computed as at run time."""
    return combine_parts(post_parts(encoder, lower, fitted, posts, precision), span_discount)


#: How posts are dealt into folds. "stratified" (the shipped models'): a seeded stratified
#: shuffle of the whole list, so adding one post can move every other post to another fold.
#: "by-id": each post's fold follows from its id alone, so a corpus with posts added keeps every
#: old post in its old fold, and two corpora's out-of-fold scores compare post by post.
FOLD_ASSIGNMENTS = ("stratified", "by-id")


def fold_splits(data: TrainingSet, folds: int, assignment: str = "stratified") -> list[tuple[np.ndarray, np.ndarray]]:
    """The k folds (training posts, held-out posts), seeded: stratified by level and subreddit,
    or dealt by post id (`FOLD_ASSIGNMENTS`)."""
    if assignment == "by-id":
        return folds_by_id(data.posts, folds)
    if assignment != "stratified":
        raise ValueError(f"fold assignment must be one of {FOLD_ASSIGNMENTS}, not {assignment!r}")
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    return list(splitter.split(np.zeros(len(data.posts)), data.strata()))


def folds_by_id(posts: Sequence[LabeledPost], folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The k folds of these posts under "by-id": a post's fold depends on its id alone."""
    fold_of = np.array([fold_of_id(p.id, folds) for p in posts])
    every = np.arange(len(posts))
    return [(every[fold_of != k], every[fold_of == k]) for k in range(folds)]


def fold_of_id(post_id: str, folds: int) -> int:
    """A post's fold under "by-id": a seeded hash of its id, uniform over the folds."""
    digest = hashlib.sha256(f"{SEED}:{post_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % folds


def fit(
    encoder: Encoder,
    lower: LowerStates,
    data: TrainingSet,
    posts: Sequence[int],
    config: FinetuneConfig,
    composed: Sequence[Composed] = (),
    composed_per_fit: int = 0,
    seed: int = SEED,
    variants: Variants | None = None,
    readings: Readings | None = None,
) -> Finetuned:
    """Train on `posts` and on up to `composed_per_fit` composed posts built only from them."""
    extra = [len(data.posts) + n for n in usable(composed, posts, composed_per_fit, seed)]
    if extra:
        log.info("also training on %d composed posts", len(extra))
    augmented = data.with_composed(composed)
    return train(
        encoder,
        lower,
        augmented.targets,
        augmented.mask,
        augmented.weights,
        [*posts, *extra],
        config,
        augmented.weakly_labeled,
        variants,
        readings,
    )


def out_of_fold_parts(
    encoder: Encoder,
    lower: LowerStates,
    data: TrainingSet,
    config: FinetuneConfig,
    folds: int,
    composed: Sequence[Composed] = (),
    composed_per_fit: int = 0,
    fold_assignment: str = "stratified",
    variants: Variants | None = None,
    readings: Readings | None = None,
) -> np.ndarray:
    """Each post's parts (`post_parts`) from the fold's model that never saw it. `lower` covers
    the posts, then the composed posts (`composites.py`) a fold may also train on, then any
    variants training may read in a post's place; only the posts themselves are scored."""
    parts = np.zeros((len(data.posts), 3, len(HEAD_NAMES)))
    for fold, (train_idx, test_idx) in enumerate(fold_splits(data, folds, fold_assignment), start=1):
        log.info("fold %d/%d: training on %d posts", fold, folds, len(train_idx))
        fitted = fit(
            encoder,
            lower,
            data,
            train_idx.tolist(),
            config,
            composed,
            composed_per_fit,
            SEED + fold,
            variants,
            readings,
        )
        parts[test_idx] = post_parts(encoder, lower, fitted, test_idx.tolist(), config.precision)
    return parts


#: How a model's version names its base encoder.
ENCODER_TAGS = {MINILM: "minilm-l6-v2", MULTILINGUAL_E5: "me5-small-q4"}


def model_version(
    trained_on: date,
    top_layers: int,
    posts: Sequence[LabeledPost] = (),
    encoder: str = MINILM,
    recipe: Mapping[str, object] | None = None,
) -> str:
    """Names the model in every verdict and audit entry. Two models trained on one day on different
    data, or by a different recipe (epochs, arithmetic, span loss, ...), must not share a name, so
    the name ends with a short fingerprint of what they learned from and how."""
    tuned = f"ft{top_layers}" if top_layers else "frozen"
    version = f"{ENCODER_TAGS[encoder]}-{tuned}+heads-{trained_on.isoformat()}"
    if posts or recipe:
        digest = hashlib.sha256()
        for post in sorted(posts, key=lambda p: p.id):
            digest.update(json.dumps([post.id, post.text, post.risk, list(post.categories)]).encode("utf-8"))
        if recipe:
            digest.update(json.dumps(recipe, sort_keys=True).encode("utf-8"))
        version += f"-{digest.hexdigest()[:6]}"
    return version
