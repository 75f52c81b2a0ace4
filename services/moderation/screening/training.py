"""Training the screener's head, reproducibly, and measuring it by k-fold cross-validation.

Embeddings of the shared data sets are cached on disk (keyed by the text), so retraining takes
seconds once the encoder has seen the data.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from services.moderation.screening.data import LabeledPost, training_targets
from services.moderation.screening.encoder import Encoder
from services.moderation.screening.head import HEAD_NAMES, Head, Thresholds

log = logging.getLogger(__name__)

SEED = 20261124
#: Dev posts are few but written in the forum's own voice: they weigh more than Reddit posts.
DEV_WEIGHT = 4.0
REGULARIZATION_C = 2.0


@dataclass(frozen=True)
class Embedded:
    """Per-post mean embeddings and per-window embeddings, aligned with the posts."""

    means: np.ndarray  # (posts, dim)
    windows: np.ndarray  # (windows, dim)
    owner: np.ndarray  # (windows,)


def embed_posts(encoder: Encoder, posts: Sequence[LabeledPost], cache_dir: Path) -> Embedded:
    digest = hashlib.sha256("\x00".join(p.text for p in posts).encode()).hexdigest()[:16]
    cache = cache_dir / f"embeddings-{digest}.npz"
    if cache.exists():
        with np.load(cache) as arrays:
            return Embedded(arrays["means"], arrays["windows"], arrays["owner"])
    log.info("embedding %d posts (cached afterwards in %s)", len(posts), cache)
    windows = encoder.windows([p.text for p in posts])
    vectors = encoder.embed_windows(windows)
    owner = np.asarray(windows.owner)
    means = np.zeros((len(posts), vectors.shape[1]), dtype=np.float32)
    for index in range(len(posts)):
        mean = vectors[owner == index].mean(axis=0)
        means[index] = mean / max(float(np.linalg.norm(mean)), 1e-9)
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, means=means, windows=vectors, owner=owner)
    return Embedded(means, vectors, owner)


def fit_head(features: np.ndarray, posts: Sequence[LabeledPost], thresholds: Thresholds, version: str) -> Head:
    from sklearn.linear_model import LogisticRegression

    weights = np.zeros((len(HEAD_NAMES), features.shape[1]), dtype=np.float32)
    bias = np.zeros(len(HEAD_NAMES), dtype=np.float32)
    targets = [training_targets(p) for p in posts]
    for row, name in enumerate(HEAD_NAMES):
        used = [i for i, t in enumerate(targets) if t is not None and name in t]
        y = np.array([targets[i][name] for i in used])  # type: ignore[index]
        if len(set(y.tolist())) < 2:
            bias[row] = -10.0
            continue
        sample_weight = np.array([DEV_WEIGHT if posts[i].source == "dev" else 1.0 for i in used])
        model = LogisticRegression(C=REGULARIZATION_C, class_weight="balanced", max_iter=2000, random_state=SEED)
        model.fit(features[used], y, sample_weight=sample_weight)
        weights[row] = model.coef_[0]
        bias[row] = model.intercept_[0]
    return Head(weights, bias, thresholds, version)


def post_scores(head: Head, embedded: Embedded, indices: Sequence[int]) -> np.ndarray:
    """Worst-window scores per post (max over its windows and its mean), as at run time."""
    out = np.zeros((len(indices), len(HEAD_NAMES)))
    for row, index in enumerate(indices):
        out[row] = head.post_scores(embedded.means[index], embedded.windows[embedded.owner == index])
    return out


def out_of_fold_scores(embedded: Embedded, posts: Sequence[LabeledPost], folds: int) -> np.ndarray:
    """Scores of every post from a head that never saw it (k-fold, stratified by source+risk)."""
    from sklearn.model_selection import StratifiedKFold

    strata = [f"{p.source}:{p.risk}" for p in posts]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    scores = np.zeros((len(posts), len(HEAD_NAMES)))
    placeholder = Thresholds(0.5, 0.5, 0.5, 0.5)
    for train, test in splitter.split(np.zeros(len(posts)), strata):
        head = fit_head(embedded.means[train], [posts[i] for i in train], placeholder, "cv")
        scores[test] = post_scores(head, embedded, test.tolist())
    return scores


def model_version(trained_on: date) -> str:
    return f"minilm-l6-v2+logreg-{trained_on.isoformat()}"
