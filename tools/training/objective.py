"""The screener's decision on out-of-fold scores, the objective thresholds are chosen by, and
a nested estimate of how those thresholds do on posts they were not chosen on.

`Objective.levels` mirrors the run-time decision (`policy.decide`) on arrays: the crisis head
holds, the imminence head pages urgent only with a rule signal or a sign of now, a rule's floor
is never lowered. `best` searches a grid of thresholds for the lowest loss. Figures at thresholds
chosen on the same scores flatter them a little; `nested` chooses them on the other folds' posts
and scores each fold with thresholds that never saw it.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np

from services.moderation.screening.data import (
    CRISIS_SUBREDDIT,
    EVERYDAY_SUBREDDITS,
    RECOVERY_SUBREDDITS,
    LabeledPost,
    corpus_part,
    is_labeled,
    subreddit,
)
from services.moderation.screening.head import HEAD_NAMES, Thresholds
from services.moderation.screening.imminence import signs_of_now
from services.moderation.screening.rules import RISK_ORDER, RuleFindings, apply_rules
from services.moderation.screening.screener import MIN_WORDS_FOR_MODEL_HOLD
from streams.events import CATEGORIES

#: The crisis scores from which the model may hold a post whose crisis words the rules all set
#: aside; None keeps the cap (such a post gets resources, not a hold).
DISMISSAL_OVERRIDES: tuple[float | None, ...] = (0.6, 0.7, 0.8, 0.9, 0.95, 0.99, None)


@dataclass(frozen=True)
class Nested:
    """Figures of levels decided, fold by fold, at thresholds chosen on the other folds."""

    objective: float
    figures: dict[str, float]
    thresholds_by_fold: list[Thresholds]
    #: Per voice the corpus gives (plain, lowercase, typo, ...): how typing relates to the decision.
    by_voice: dict[str, dict[str, float]] = field(default_factory=dict)
    #: With corpus parts set apart (`Objective.nested(apart=...)`): the figures of the other posts,
    #: which compare with a model trained without those parts, and the figures of the parts' posts.
    others: dict[str, float] = field(default_factory=dict)
    apart: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "objective": round(self.objective, 4),
            "figures": {k: round(v, 3) for k, v in self.figures.items()},
            "thresholds_by_fold": [t.as_dict() for t in self.thresholds_by_fold],
            "by_voice": {v: {k: round(x, 3) for k, x in f.items()} for v, f in self.by_voice.items()},
        }
        if self.apart:
            out["without_parts_apart"] = {
                "objective": round(loss_of(self.others), 4),
                "figures": {k: round(v, 3) for k, v in self.others.items()},
            }
            out["parts_apart"] = {k: round(v, 3) for k, v in self.apart.items()}
        return out


class Objective:
    """Levels and verdict figures from out-of-fold scores, as `decide` would give them."""

    def __init__(
        self, posts: Sequence[LabeledPost], oof: np.ndarray, findings: Sequence[RuleFindings] | None = None
    ) -> None:
        self.posts = list(posts)
        self.oof = oof
        self.col = {name: i for i, name in enumerate(HEAD_NAMES)}
        self.findings = list(findings) if findings is not None else [apply_rules(p.text) for p in self.posts]
        self.rule_floor = np.array([max([RISK_ORDER[s.floor] for s in f.signals], default=0) for f in self.findings])
        self.rule_support = np.array([max([RISK_ORDER[s.risk] for s in f.signals], default=0) for f in self.findings])
        self.only_dismissed = np.array([bool(f.dismissed) and not f.signals for f in self.findings])
        self.too_short = np.array([len(p.text.split()) < MIN_WORDS_FOR_MODEL_HOLD for p in self.posts])
        self.now = np.array([bool(signs_of_now(p.text)) for p in self.posts])
        self.labeled = np.array([is_labeled(p) for p in self.posts])
        self.level_true = np.array(
            [RISK_ORDER[p.risk] if p.risk is not None and is_labeled(p) else -1 for p in self.posts]
        )
        subs = [subreddit(p) for p in self.posts]
        # Reddit posts the labelling guide has labelled too: their own figures, beside the subreddit's.
        guide_true = np.array(
            [
                RISK_ORDER[p.risk] if s is not None and p.risk is not None else -1
                for p, s in zip(self.posts, subs, strict=True)
            ]
        )
        self.guide_crisis = guide_true >= 2
        self.guide_safe = (guide_true >= 0) & (guide_true <= 1)
        self.voice = np.array([p.voice or "" for p in self.posts])
        self.watch = np.array([s == CRISIS_SUBREDDIT for s in subs])
        self.everyday = np.array([s in EVERYDAY_SUBREDDITS for s in subs])
        self.recovery = np.array([s in RECOVERY_SUBREDDITS for s in subs])

    def restricted(self, indices: Sequence[int]) -> Objective:
        """The same objective over some of the posts: every per-post field is sliced, so no rule
        or sign of now is matched again."""
        chosen = list(indices)
        part = copy.copy(self)
        for name, value in vars(self).items():
            if isinstance(value, np.ndarray):
                setattr(part, name, value[chosen])
            elif isinstance(value, list):
                setattr(part, name, [value[i] for i in chosen])
        return part

    def levels(self, t: Thresholds) -> np.ndarray:
        crisis, imminent, concern = (self.oof[:, self.col[h]] for h in ("crisis", "imminent", "concern"))
        level = np.where(concern >= t.concern, 1, 0)
        model_imminent = (imminent >= t.imminent) & ((self.rule_support >= 2) | self.now)
        level = np.where(crisis >= t.high, np.where(model_imminent, 3, 2), level)
        capped = self.only_dismissed & (level >= 2)
        if t.dismissal_override is not None:
            capped &= crisis < t.dismissal_override
        level = np.where(capped, 1, level)
        level = np.where(self.too_short & (level >= 2), 1, level)
        floored: np.ndarray = np.maximum(level, self.rule_floor)
        return floored

    def figures(self, t: Thresholds) -> dict[str, float]:
        return self.figures_of(self.levels(t))

    def figures_of(self, level: np.ndarray) -> dict[str, float]:
        """The verdict figures of one level per post (0 none, 1 concern, 2 high, 3 imminent)."""
        truth = self.level_true
        lab = self.labeled

        def rate(selected: np.ndarray) -> float:
            return float(selected.mean()) if selected.size else float("nan")

        return {
            "recall_high_or_imminent": rate(level[lab & (truth >= 2)] >= 2),
            "false_hold_rate": rate(level[lab & (truth <= 1)] >= 2),
            "imminent_as_urgent": rate(level[lab & (truth == 3)] == 3),
            "benign_paged_urgent": rate(level[lab & (truth <= 1)] == 3),
            "none_given_resources": rate(level[lab & (truth == 0)] >= 1),
            "concern_missed": rate(level[lab & (truth == 1)] == 0),
            "suicidewatch_held": rate(level[self.watch] >= 2),
            "everyday_held": rate(level[self.everyday] >= 2),
            "recovery_held": rate(level[self.recovery] >= 2),
            "everyday_urgent": rate(level[self.everyday] == 3),
            **(
                {
                    "reddit_guide_recall": rate(level[self.guide_crisis] >= 2),
                    "reddit_guide_false_holds": rate(level[self.guide_safe] >= 2),
                }
                if self.guide_crisis.any() or self.guide_safe.any()
                else {}
            ),
        }

    def loss(self, t: Thresholds) -> float:
        return loss_of(self.figures(t))

    def best(self, dismissal_overrides: Sequence[float | None] = DISMISSAL_OVERRIDES) -> Thresholds:
        grid = itertools.product(
            np.arange(0.30, 0.96, 0.025),
            np.arange(0.2, 0.96, 0.05),
            np.arange(0.3, 0.91, 0.1),
            (0.5,),
            dismissal_overrides,
        )
        candidates = (
            Thresholds(round(float(h), 3), round(float(i), 3), round(float(c), 3), category, override)
            for h, i, c, category, override in grid
        )
        return min(candidates, key=self.loss)

    def nested(
        self,
        splits: Sequence[tuple[np.ndarray, np.ndarray]],
        dismissal_overrides: Sequence[float | None] = DISMISSAL_OVERRIDES,
        apart: Collection[str] = (),
    ) -> Nested:
        """Each fold's posts decided at the thresholds `best` chooses on the other folds' posts;
        the posts of the corpus parts named in `apart` are also counted on their own."""
        level = np.full(len(self.posts), -1)
        chosen = []
        for train_idx, test_idx in splits:
            t = self.restricted(train_idx.tolist()).best(dismissal_overrides)
            level[test_idx] = self.restricted(test_idx.tolist()).levels(t)
            chosen.append(t)
        if (level < 0).any():
            raise ValueError("the folds must cover every post")
        figures = self.figures_of(level)
        others: dict[str, float] = {}
        of_parts_apart: dict[str, float] = {}
        if apart:
            aside = np.array([corpus_part(p) in apart for p in self.posts])
            others = self.restricted(np.flatnonzero(~aside).tolist()).figures_of(level[~aside])
            of_parts_apart = self.restricted(np.flatnonzero(aside).tolist()).figures_of(level[aside])
        return Nested(loss_of(figures), figures, chosen, self.by_voice(level), others=others, apart=of_parts_apart)

    def by_voice(self, level: np.ndarray) -> dict[str, dict[str, float]]:
        """False holds and recall of the hand-labelled posts of each voice, with their counts."""
        out = {}
        for voice in sorted({str(v) for v in self.voice[self.labeled]} - {""}):
            mine = self.labeled & (self.voice == voice)
            safe, crisis = mine & (self.level_true <= 1), mine & (self.level_true >= 2)
            out[voice] = {
                "false_hold_rate": float((level[safe] >= 2).mean()) if safe.any() else float("nan"),
                "safe_posts": float(safe.sum()),
                "recall_high_or_imminent": float((level[crisis] >= 2).mean()) if crisis.any() else float("nan"),
                "crisis_posts": float(crisis.sum()),
            }
        return out

    def report(self, t: Thresholds) -> dict[str, object]:
        figures = {k: round(v, 3) for k, v in self.figures(t).items()}
        level = self.levels(t)
        category_recall = {}
        for c in CATEGORIES:
            relevant = [
                i for i, p in enumerate(self.posts) if self.labeled[i] and p.risk != "none" and c in p.categories
            ]
            hit = sum(
                1
                for i in relevant
                if level[i] >= 1
                and (self.oof[i, self.col[c]] >= t.category or any(s.category == c for s in self.findings[i].signals))
            )
            category_recall[c] = f"{hit}/{len(relevant)}"
        return {
            "thresholds": t.as_dict(),
            "corpus_and_reddit_out_of_fold": figures,
            "category_recall": category_recall,
            "rules": self.rule_precision(),
        }

    def rule_precision(self) -> dict[str, str]:
        """Per rule: how often it fired on labeled posts at or above its level, and on everyday Reddit."""
        fired: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for i, found in enumerate(self.findings):
            for signal in found.signals:
                name = signal.rule.label if signal.rule.holds else f"{signal.rule.label} (does not hold alone)"
                if self.labeled[i]:
                    fired[name][0] += 1
                    fired[name][1] += int(self.level_true[i] >= min(RISK_ORDER[signal.risk], 2))
                elif self.everyday[i]:
                    fired[name][2] += 1
        return {k: f"{v[1]}/{v[0]} correct on the corpus, {v[2]} on everyday Reddit" for k, v in sorted(fired.items())}


def loss_of(figures: dict[str, float]) -> float:
    """The objective thresholds are chosen by: lower is better."""
    f = {k: (0.0 if math.isnan(v) else v) for k, v in figures.items()}
    # Targets as soft constraints: missing one costs far more than any gain elsewhere.
    penalty = 50 * max(0, 0.95 - f["recall_high_or_imminent"]) + 50 * max(0, f["false_hold_rate"] - 0.05)
    penalty += 50 * max(0, f["benign_paged_urgent"] - 0.01) + 20 * max(0, 0.75 - f["suicidewatch_held"])
    penalty += 50 * max(0, f["everyday_held"] - 0.015) + 20 * max(0, f["recovery_held"] - 0.05)
    score = (1 - f["recall_high_or_imminent"]) + f["false_hold_rate"] + 0.5 * (1 - f["imminent_as_urgent"])
    score += 2 * f["benign_paged_urgent"] + f["everyday_held"] + f["recovery_held"] + 0.2 * (1 - f["suicidewatch_held"])
    score += 0.2 * f["none_given_resources"] + 0.2 * f["concern_missed"]
    return penalty + score


__all__ = ["DISMISSAL_OVERRIDES", "Nested", "Objective", "loss_of"]
