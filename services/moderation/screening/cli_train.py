"""`haven train-screener`: fit the head, pick thresholds by cross-validation, report k-fold metrics.

Every figure printed comes from out-of-fold predictions: each post is scored by a head that
never saw it. The thresholds are then chosen on those predictions and the final head is fit on
all the data.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import sys
from datetime import date
from pathlib import Path

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=None, help="folder with screening_dev.jsonl and rmhd_subreddits.csv")
    parser.add_argument("--folds", type=int, default=5, help="k for k-fold cross-validation")
    parser.add_argument("--out", type=Path, default=None, help="where to write the head (default: the package's model/)")
    parser.add_argument("--dry-run", action="store_true", help="report cross-validated metrics only; write nothing")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from services.moderation.screening.data import default_data_dir, read_dev, read_rmhd, training_targets
    from services.moderation.screening.encoder import Encoder
    from services.moderation.screening.head import HEAD_NAMES, Thresholds
    from services.moderation.screening.rules import RISK_ORDER, apply_rules
    from services.moderation.screening.screener import MIN_WORDS_FOR_MODEL_HOLD, MODEL_DIR
    from services.moderation.screening.training import (
        embed_posts,
        fit_head,
        model_version,
        out_of_fold_scores,
    )
    from streams.settings import Settings

    data_dir = args.data or default_data_dir()
    posts = read_dev(data_dir / "screening_dev.jsonl") + read_rmhd(data_dir / "rmhd_subreddits.csv")
    trainable = [p for p in posts if training_targets(p) is not None]
    cache_dir = Settings.from_env().cache_dir.expanduser() / "screening"
    encoder = Encoder.load(threads=2)
    embedded = embed_posts(encoder, trainable, cache_dir)
    print(f"k-fold cross-validation, k={args.folds}, {len(trainable)} posts", file=sys.stderr)
    oof = out_of_fold_scores(embedded, trainable, args.folds)

    findings = [apply_rules(p.text) for p in trainable]
    rule_floor = np.array([max([RISK_ORDER[s.risk] for s in f.signals], default=0) for f in findings])
    only_dismissed = np.array([bool(f.dismissed) and not f.signals for f in findings])
    too_short = np.array([len(p.text.split()) < MIN_WORDS_FOR_MODEL_HOLD for p in trainable])
    col = {name: i for i, name in enumerate(HEAD_NAMES)}

    def risks(t: Thresholds) -> np.ndarray:
        crisis, imminent, concern = oof[:, col["crisis"]], oof[:, col["imminent"]], oof[:, col["concern"]]
        level = np.where(concern >= t.concern, 1, 0)
        level = np.where(crisis >= t.high, np.where(imminent >= t.imminent, 3, 2), level)
        level = np.where(only_dismissed & (level >= 2), 1, level)
        level = np.where(too_short & (level >= 2), 1, level)
        return np.maximum(level, rule_floor)

    groups = _groups(trainable)

    def loss(t: Thresholds) -> float:
        level = risks(t)
        held = level >= 2
        dev_true = groups["dev_level"]
        severe = dev_true >= 2
        recall = held[groups["dev"]][severe].mean()
        imminent_missed = np.sum((dev_true == 3) & ~held[groups["dev"]])
        false_hold = held[groups["dev"]][~severe].mean()
        watch = held[groups["suicidewatch"]].mean()
        everyday = held[groups["everyday"]].mean()
        recovery = held[groups["recovery"]].mean()
        # Targets as soft constraints: missing one costs far more than any gain elsewhere.
        penalty = 50 * max(0, 0.95 - recall) + 2 * imminent_missed + 50 * max(0, 0.75 - watch)
        penalty += 50 * max(0, everyday - 0.015) + 50 * max(0, recovery - 0.05) + 50 * max(0, false_hold - 0.05)
        # Resources shown to people who did not need them are noise, not harm: a small cost.
        dev_level = level[groups["dev"]]
        needless_resources = np.mean(dev_level[dev_true == 0] >= 1)
        missed_concern = np.mean(dev_level[dev_true == 1] == 0)
        extra = 0.3 * needless_resources + 0.3 * missed_concern
        return penalty + false_hold + everyday + recovery + (1 - recall) + 0.2 * (1 - watch) + extra

    grid = itertools.product(
        np.arange(0.30, 0.96, 0.025), np.arange(0.2, 0.91, 0.05), np.arange(0.3, 0.91, 0.1), (0.5,)
    )
    best = min((Thresholds(*(round(float(v), 3) for v in combo)) for combo in grid), key=loss)
    if log.isEnabledFor(logging.DEBUG):
        for high in np.arange(0.75, 0.96, 0.025):
            probe = Thresholds(round(float(high), 3), best.imminent, best.concern, best.category)
            held = risks(probe) >= 2
            log.debug(
                "crisis threshold %.3f: suicidewatch %.3f, recovery %.3f, dev false holds %.3f", high,
                held[groups["suicidewatch"]].mean(), held[groups["recovery"]].mean(),
                held[groups["dev"]][groups["dev_level"] < 2].mean(),
            )
    print(f"chosen thresholds: {best.as_dict()}", file=sys.stderr)
    report = _report(trainable, risks(best), oof, col, best, groups)
    print(json.dumps(report, indent=2))
    if args.dry_run:
        return 0
    version = model_version(date.today())
    head = fit_head(embedded.means, trainable, best, version)
    out = args.out or MODEL_DIR
    head.save(out, {"trained_on": date.today().isoformat(), "folds": args.folds, "cross_validated": report})
    print(f"wrote {out}", file=sys.stderr)
    return 0


def _groups(posts):  # type: ignore[no-untyped-def]
    import numpy as np

    from services.moderation.screening.data import (
        CRISIS_SUBREDDIT,
        EVERYDAY_SUBREDDITS,
        RECOVERY_SUBREDDITS,
        subreddit,
    )
    from services.moderation.screening.rules import RISK_ORDER

    subs = [subreddit(p) for p in posts]
    dev = np.array([p.source == "dev" for p in posts])
    return {
        "dev": dev,
        "dev_level": np.array([RISK_ORDER[p.risk] for p in posts if p.source == "dev"]),
        "suicidewatch": np.array([s == CRISIS_SUBREDDIT for s in subs]),
        "everyday": np.array([s in EVERYDAY_SUBREDDITS for s in subs]),
        "recovery": np.array([s in RECOVERY_SUBREDDITS for s in subs]),
    }


def _report(posts, levels, oof, col, thresholds, groups):  # type: ignore[no-untyped-def]
    from services.moderation.screening.evaluation import Prediction, Truth, level_metrics
    from streams.events import CATEGORIES, RISK_LEVELS

    dev_idx = [i for i, p in enumerate(posts) if p.source == "dev"]
    predictions = []
    for i in dev_idx:
        level = RISK_LEVELS[int(levels[i])]
        cats = tuple(c for c in CATEGORIES if oof[i, col[c]] >= thresholds.category) if level != "none" else ()
        from services.moderation.screening.rules import apply_rules

        cats = tuple(sorted(set(cats) | {s.category for s in apply_rules(posts[i].text).signals})) if level != "none" else ()
        predictions.append(Prediction(level, cats, "hold" if level in ("high", "imminent") else "publish"))
    truths = [Truth(posts[i].risk, posts[i].categories) for i in dev_idx]
    metrics = level_metrics(truths, predictions)
    held = levels >= 2
    return {
        "dev": {
            "recall_high_or_imminent": round(metrics.recall_high_or_imminent, 3),
            "imminent_below_high": metrics.imminent_below_high,
            "false_hold_rate": round(metrics.false_hold_rate, 3),
            "recall_by_level": {k: round(v, 3) for k, v in metrics.recall_by_level.items()},
            "category_recall": {k: f"{h}/{t}" for k, (h, t) in metrics.category_recall.items()},
        },
        "rmhd_held": {
            "suicidewatch": round(float(held[groups["suicidewatch"]].mean()), 3),
            "everyday": round(float(held[groups["everyday"]].mean()), 3),
            "addiction_alcoholism": round(float(held[groups["recovery"]].mean()), 3),
        },
    }
