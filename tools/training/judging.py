"""A candidate recipe's out-of-fold scores judged against a baseline's, on the posts both scored.

One draw's nested figures move with the thresholds its folds happen to choose: a candidate can
look better or worse because its folds settled on another trade between recall and false holds,
not because it learned more. So each run's scores are decided, fold by fold, at thresholds chosen
on the other folds' posts from its own scores *and* from the other run's, on the same folds. A
candidate that gains at its own thresholds and at the baseline's (thresholds fitted to the
baseline, so the comparison leans the baseline's way) has gained in what it scores, not only in
where its folds drew the lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.moderation.screening.data import LabeledPost
from services.moderation.screening.head import HEAD_NAMES, Thresholds
from services.moderation.screening.rules import apply_rules
from tools.training.objective import DISMISSAL_OVERRIDES, Objective, loss_of

RUNS = ("baseline", "candidate")


class OutOfFoldError(ValueError):
    """An out-of-fold file, or the posts it names, cannot be judged."""


@dataclass(frozen=True)
class OutOfFold:
    """One run's out-of-fold probabilities (posts × heads), as `--save-oof` writes them."""

    ids: tuple[str, ...]
    scores: np.ndarray


def read_out_of_fold(path: Path) -> OutOfFold:
    not_ours = f"{path}: not an out-of-fold file of `haven train-screener --save-oof`"
    try:
        saved = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise OutOfFoldError(f"{not_ours} ({exc})") from exc
    if not isinstance(saved, np.lib.npyio.NpzFile):
        raise OutOfFoldError(f"{not_ours} (one array, not a .npz archive)")
    try:
        with saved:
            ids = tuple(str(i) for i in saved["ids"])
            scores = np.asarray(saved["scores"], dtype=np.float64)
    except (KeyError, ValueError) as exc:
        raise OutOfFoldError(f"{not_ours} ({exc})") from exc
    if scores.shape != (len(ids), len(HEAD_NAMES)):
        raise OutOfFoldError(
            f"{path}: scores are {scores.shape}, expected one row of {len(HEAD_NAMES)} heads for each of {len(ids)} posts"
        )
    if len(set(ids)) != len(ids):
        raise OutOfFoldError(f"{path}: a post id appears more than once")
    if not np.isfinite(scores).all() or ((scores < 0) | (scores > 1)).any():
        raise OutOfFoldError(f"{path}: scores must be probabilities between 0 and 1")
    return OutOfFold(ids, scores)


@dataclass(frozen=True)
class Shared:
    """The posts both runs scored, in the baseline's order, with each run's scores for them."""

    posts: list[LabeledPost]
    scores: dict[str, np.ndarray]
    only_baseline: int
    only_candidate: int


def shared_posts(baseline: OutOfFold, candidate: OutOfFold, pool: Mapping[str, LabeledPost]) -> Shared:
    row_of_candidate = {post_id: row for row, post_id in enumerate(candidate.ids)}
    rows = [(row, row_of_candidate[i]) for row, i in enumerate(baseline.ids) if i in row_of_candidate]
    if not rows:
        raise OutOfFoldError("the two runs scored no post in common")
    unknown = [baseline.ids[row] for row, _ in rows if baseline.ids[row] not in pool]
    if unknown:
        raise OutOfFoldError(
            f"{len(unknown)} scored posts are in neither corpus nor the Reddit file (first: {unknown[0]})"
        )
    ours, theirs = (np.array(side) for side in zip(*rows, strict=True))
    return Shared(
        posts=[pool[baseline.ids[row]] for row in ours],
        scores={"baseline": baseline.scores[ours], "candidate": candidate.scores[theirs]},
        only_baseline=len(baseline.ids) - len(rows),
        only_candidate=len(candidate.ids) - len(rows),
    )


@dataclass(frozen=True)
class Judgement:
    """Nested figures of each run's scores at each run's fold thresholds: `figures[(scores of,
    thresholds of)]`, both keys in `RUNS`."""

    posts: int
    figures: dict[tuple[str, str], dict[str, float]]
    thresholds_by_fold: dict[str, list[Thresholds]]

    def objective(self, scores_of: str, thresholds_of: str) -> float:
        return loss_of(self.figures[(scores_of, thresholds_of)])

    def gains(self) -> dict[str, float]:
        """How much lower the candidate's objective is than the baseline's (positive: better)."""
        return {
            "each at its own thresholds": self.objective("baseline", "baseline")
            - self.objective("candidate", "candidate"),
            "both at the baseline's thresholds": self.objective("baseline", "baseline")
            - self.objective("candidate", "baseline"),
            "both at the candidate's thresholds": self.objective("baseline", "candidate")
            - self.objective("candidate", "candidate"),
        }

    @property
    def candidate_gains(self) -> bool:
        """The decision rule: lower at its own thresholds and at the baseline's."""
        gains = self.gains()
        return gains["each at its own thresholds"] > 0 and gains["both at the baseline's thresholds"] > 0

    def as_dict(self) -> dict[str, object]:
        return {
            "posts": self.posts,
            "objective": {
                f"{scores_of} scores at {thresholds_of} thresholds": round(self.objective(scores_of, thresholds_of), 4)
                for scores_of, thresholds_of in self.figures
            },
            "gains": {name: round(value, 4) for name, value in self.gains().items()},
            "candidate_gains": self.candidate_gains,
            "figures": {
                f"{scores_of} scores at {thresholds_of} thresholds": {k: round(v, 3) for k, v in figures.items()}
                for (scores_of, thresholds_of), figures in self.figures.items()
            },
            "thresholds_by_fold": {
                run: [t.as_dict() for t in chosen] for run, chosen in self.thresholds_by_fold.items()
            },
        }


def judge(
    shared: Shared,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    dismissal_overrides: Sequence[float | None] = DISMISSAL_OVERRIDES,
) -> Judgement:
    """Each fold's posts decided four ways: either run's scores at either run's thresholds, the
    thresholds chosen (`Objective.best`) on the other folds' posts."""
    findings = [apply_rules(post.text) for post in shared.posts]
    objectives = {run: Objective(shared.posts, shared.scores[run], findings) for run in RUNS}
    levels = {(s, t): np.full(len(shared.posts), -1) for s in RUNS for t in RUNS}
    chosen: dict[str, list[Thresholds]] = {run: [] for run in RUNS}
    for train_idx, test_idx in splits:
        thresholds = {run: objectives[run].restricted(train_idx.tolist()).best(dismissal_overrides) for run in RUNS}
        for run in RUNS:
            chosen[run].append(thresholds[run])
        for scores_of in RUNS:
            held_out = objectives[scores_of].restricted(test_idx.tolist())
            for thresholds_of in RUNS:
                levels[(scores_of, thresholds_of)][test_idx] = held_out.levels(thresholds[thresholds_of])
    if any((level < 0).any() for level in levels.values()):
        raise ValueError("the folds must cover every post")
    figures = {key: objectives[key[0]].figures_of(level) for key, level in levels.items()}
    return Judgement(len(shared.posts), figures, chosen)


__all__ = ["RUNS", "Judgement", "OutOfFold", "OutOfFoldError", "Shared", "judge", "read_out_of_fold", "shared_posts"]
