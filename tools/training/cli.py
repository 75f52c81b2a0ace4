"""`haven train-screener`: fine-tune the encoder's top layers and the heads, pick thresholds by
cross-validation, report k-fold figures, write the model.

Data: the training corpus (`training/corpus/part-*.jsonl`, hand-labeled from the labelling
guide) and the Reddit posts labeled by subreddit (r/suicidewatch as crisis, everyday and
recovery communities as no crisis). The dev set is a check (`haven screen --eval`) and is not
read here; the blind test set is never read by training.

Every figure printed comes from out-of-fold predictions. The thresholds are chosen on those
predictions, then the final model is fit on all the data. Seeded; under 30 minutes on two
cores with the defaults (the encoder's top six layers fine-tuned; the k folds and the final fit
take nearly all of it).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from services.moderation.screening.encoder import BASE_ENCODERS, MULTILINGUAL_E5

if TYPE_CHECKING:
    import numpy as np

    from services.moderation.screening.head import Thresholds

log = logging.getLogger(__name__)

#: Span discounts (log-odds) tried on out-of-fold scores for a model trained with the span loss.
SPAN_DISCOUNTS = (0.0, 0.5, 1.0, 1.5, 2.0)


def _whole_number_in(low: int, high: int, why: str) -> Callable[[str], int]:
    """An argparse type for a whole number in low..high (both included); `why` ends the refusal."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{number} is outside {low}..{high} ({why})")
        return number

    return parse


#: Tokens of a window that training reads: at least 8, at most the window's 256.
_window_tokens = _whole_number_in(8, 256, "a window is 256 tokens")
#: A training seed that torch and random both accept.
_seed = _whole_number_in(0, 2**32 - 1, "a 32-bit seed")


def _dropout(value: str) -> float:
    """A dropout probability: at least 0, below 1."""
    try:
        probability = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0.0 <= probability < 1.0:
        raise argparse.ArgumentTypeError(f"{probability} is outside [0, 1)")
    return probability


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", type=Path, default=None, help="folder with rmhd_subreddits.csv (default: shared/data)"
    )
    parser.add_argument("--corpus", type=Path, default=None, help="folder with part-*.jsonl (default: training/corpus)")
    parser.add_argument("--folds", type=int, default=3, help="k for k-fold cross-validation")
    parser.add_argument("--top-layers", type=int, default=1, help="encoder layers to fine-tune when --compare is empty")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument(
        "--corpus-tokens",
        type=_window_tokens,
        default=256,
        help="tokens of a hand-labelled post that training reads (<= 256)",
    )
    parser.add_argument(
        "--reddit-tokens", type=_window_tokens, default=128, help="tokens of a Reddit post that training reads (<= 256)"
    )
    parser.add_argument(
        "--attention-dropout",
        type=_dropout,
        default=None,
        help="dropout on the fine-tuned layers' attention (default: 0.1 under bfloat16, the shipped recipe; 0 "
        "in float32, where it lets PyTorch use its fused CPU attention, about a quarter faster per epoch)",
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default=None,
        help="training seed: the heads' first weights, the batch order and dropout (default 20261202, the "
        "shipped recipe's). The folds and the Reddit posts training reads stay fixed, so two seeds measure "
        "how much a figure moves between draws of one recipe on the same data",
    )
    parser.add_argument(
        "--compare",
        default="6",
        help="comma-separated top-layer counts (0: frozen encoder) compared by cross-validation; the best by "
        "the threshold objective is trained ('' to train --top-layers only). '0,6' repeats the comparison "
        "that chose fine-tuning (the frozen encoder lost by far); the default skips it to save training time",
    )
    parser.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help="arithmetic of the fine-tuned layers: auto takes bfloat16 where the start-up probe finds it "
        "faster and faithful (as the worker does), else float32",
    )
    parser.add_argument(
        "--encoder",
        choices=BASE_ENCODERS,
        default=MULTILINGUAL_E5,
        help="base encoder to fine-tune (both load offline from a PyPI package; the shipped model's is the default)",
    )
    parser.add_argument(
        "--span-weight",
        type=float,
        default=0.0,
        help="weight of the span loss: the worst 32-token span of a post must carry its label, and the span "
        "discount is chosen by cross-validation (tried 2026-12-03 at 1.0 and rejected, see MODEL_CARD.md; the "
        "default 0 trains the whole-window mean only, as the shipped model was)",
    )
    parser.add_argument("--no-reddit", action="store_true", help="train on the corpus only")
    parser.add_argument(
        "--out", type=Path, default=None, help="where to write the model (default: the package's model/)"
    )
    parser.add_argument(
        "--save-oof", type=Path, default=None, help="also write each candidate's out-of-fold scores to this .npz"
    )
    parser.add_argument("--dry-run", action="store_true", help="report cross-validated metrics only; write nothing")


def run(args: argparse.Namespace) -> int:

    from services.moderation.screening.data import (
        default_corpus_dir,
        default_data_dir,
        read_corpus,
        read_rmhd,
    )
    from services.moderation.screening.encoder import DELTA_FILE, Encoder, choose_precision, save_delta
    from services.moderation.screening.head import combine_parts
    from services.moderation.screening.screener import MODEL_DIR
    from tools.training.cross_validation import (
        SEED,
        TrainingSet,
        head_of,
        model_version,
        out_of_fold_parts,
    )
    from tools.training.finetune import FinetuneConfig, attention_dropout_for, lower_states, train

    started = time.monotonic()
    corpus = read_corpus(args.corpus or default_corpus_dir())
    reddit = [] if args.no_reddit else read_rmhd((args.data or default_data_dir()) / "rmhd_subreddits.csv")
    data = TrainingSet.of(corpus + reddit)
    counts = _counts(data.posts)
    print(f"training data: {json.dumps(counts)}", file=sys.stderr)
    encoder = Encoder.load(base=args.encoder, threads=2, precision="fp32")
    print(f"base encoder: {args.encoder}", file=sys.stderr)
    precision = choose_precision(None if args.precision == "auto" else args.precision, encoder.probe_bf16)
    attention_dropout = attention_dropout_for(precision) if args.attention_dropout is None else args.attention_dropout
    print(f"fine-tuning arithmetic: {precision}, attention dropout {attention_dropout}", file=sys.stderr)
    texts = [p.text for p in data.posts]
    candidates = [int(c) for c in args.compare.split(",") if c.strip()] or [args.top_layers]
    results = {}
    lowers = lower_states(encoder, texts, candidates)
    print(
        f"lower layers run once over {len(lowers[candidates[0]].states)} windows "
        f"({time.monotonic() - started:.0f} s so far)",
        file=sys.stderr,
    )
    training_seed = SEED if args.seed is None else args.seed
    for top_layers in candidates:
        config = FinetuneConfig(
            top_layers=top_layers,
            epochs=args.epochs,
            seed=training_seed,
            precision=precision,
            corpus_tokens=args.corpus_tokens,
            reddit_tokens=args.reddit_tokens,
            attention_dropout=attention_dropout,
            span_weight=args.span_weight,
        )
        lower = lowers[top_layers]
        print(
            f"k-fold cross-validation, k={args.folds}, top layers {top_layers}, {len(texts)} posts "
            f"({time.monotonic() - started:.0f} s so far)",
            file=sys.stderr,
        )
        parts = out_of_fold_parts(encoder, lower, data, config, args.folds)
        if args.save_oof:
            import numpy as np

            target = args.save_oof.with_name(f"{args.save_oof.stem}-top{top_layers}.npz")
            np.savez_compressed(
                target,
                scores=combine_parts(parts, None),
                parts=parts,
                ids=np.array([p.id for p in data.posts]),
            )
        # The span discount, like the thresholds, is chosen on out-of-fold scores.
        by_discount = {}
        for discount in (None, *SPAN_DISCOUNTS) if config.span_weight else (None,):
            objective = Objective(data.posts, combine_parts(parts, discount))
            best = objective.best()
            by_discount[discount] = (objective.loss(best), best, objective)
            if config.span_weight:
                print(f"span discount {discount}: objective {objective.loss(best):.4f}", file=sys.stderr)
        span_discount = min(by_discount, key=lambda d: by_discount[d][0])
        loss, best, objective = by_discount[span_discount]
        report = objective.report(best)
        results[top_layers] = (loss, best, report, config, lower, span_discount)
        print(
            f"top layers {top_layers}: objective {loss:.4f}, thresholds {best.as_dict()}, "
            f"span discount {span_discount}",
            file=sys.stderr,
        )
        print(json.dumps({"top_layers": top_layers, "span_discount": span_discount, **report}, indent=2))
    chosen = min(results, key=lambda k: results[k][0])
    loss, thresholds, report, config, lower, span_discount = results[chosen]
    comparison = {str(k): round(v[0], 4) for k, v in results.items()}
    print(
        f"chosen: top layers {chosen} (objective by top layers: {comparison}); thresholds {thresholds.as_dict()}",
        file=sys.stderr,
    )
    if args.dry_run:
        return 0
    everything = list(range(len(data.posts)))
    fitted = train(encoder, lower, data.targets, data.mask, data.weights, everything, config, data.weakly_labeled)
    recipe = {**dataclasses.asdict(config), "span_discount": span_discount, "thresholds": thresholds.as_dict()}
    version = model_version(date.today(), chosen, data.posts, encoder=args.encoder, recipe=recipe)
    out = args.out or MODEL_DIR
    out.mkdir(parents=True, exist_ok=True)
    head = head_of(fitted, thresholds, version, encoder=args.encoder, span_discount=span_discount)
    delta = out / DELTA_FILE
    if head.needs_delta:
        save_delta(fitted.top_state, delta, base=args.encoder)
    elif delta.exists():
        delta.unlink()
    head.save(
        out,
        {
            "trained_on": date.today().isoformat(),
            "folds": args.folds,
            # The data seed: `haven screen --reddit-unseen` finds the posts training never read by it.
            "seed": SEED,
            "training_seed": config.seed,
            "top_layers": chosen,
            "epochs": config.epochs,
            "precision": config.precision,
            "corpus_tokens": config.corpus_tokens,
            "reddit_tokens": config.reddit_tokens,
            "attention_dropout": config.attention_dropout,
            "span_weight": config.span_weight,
            "objective_by_top_layers": comparison,
            "training_data": counts,
            "cross_validated": report,
            "train_seconds": round(time.monotonic() - started),
        },
    )
    print(f"wrote {out} ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    return 0


def _counts(posts) -> dict[str, object]:  # type: ignore[no-untyped-def]  # numpy arrays from scikit-learn (untyped libraries)
    from collections import Counter

    from services.moderation.screening.data import is_labeled, subreddit

    labeled = [p for p in posts if is_labeled(p)]
    return {
        "corpus": len(labeled),
        "corpus_by_part": dict(sorted(Counter(p.source.split(":", 1)[1] for p in labeled).items())),
        "corpus_by_risk": dict(Counter(p.risk for p in labeled)),
        "reddit": len(posts) - len(labeled),
        "reddit_by_subreddit": dict(sorted(Counter(subreddit(p) for p in posts if not is_labeled(p)).items())),
    }


class Objective:
    """Levels and verdict figures from out-of-fold scores, as `decide` would give them."""

    def __init__(self, posts, oof) -> None:  # type: ignore[no-untyped-def]  # numpy arrays from scikit-learn (untyped libraries)
        import numpy as np

        from services.moderation.screening.data import (
            CRISIS_SUBREDDIT,
            EVERYDAY_SUBREDDITS,
            RECOVERY_SUBREDDITS,
            is_labeled,
            subreddit,
        )
        from services.moderation.screening.head import HEAD_NAMES
        from services.moderation.screening.imminence import signs_of_now
        from services.moderation.screening.rules import RISK_ORDER, apply_rules
        from services.moderation.screening.screener import MIN_WORDS_FOR_MODEL_HOLD

        self.posts = posts
        self.oof = oof
        self.col = {name: i for i, name in enumerate(HEAD_NAMES)}
        findings = [apply_rules(p.text) for p in posts]
        self.findings = findings
        self.rule_floor = np.array([max([RISK_ORDER[s.floor] for s in f.signals], default=0) for f in findings])
        self.rule_support = np.array([max([RISK_ORDER[s.risk] for s in f.signals], default=0) for f in findings])
        self.only_dismissed = np.array([bool(f.dismissed) and not f.signals for f in findings])
        self.too_short = np.array([len(p.text.split()) < MIN_WORDS_FOR_MODEL_HOLD for p in posts])
        self.now = np.array([bool(signs_of_now(p.text)) for p in posts])
        self.labeled = np.array([is_labeled(p) for p in posts])
        self.level_true = np.array([RISK_ORDER[p.risk] if is_labeled(p) else -1 for p in posts])
        subs = [subreddit(p) for p in posts]
        self.watch = np.array([s == CRISIS_SUBREDDIT for s in subs])
        self.everyday = np.array([s in EVERYDAY_SUBREDDITS for s in subs])
        self.recovery = np.array([s in RECOVERY_SUBREDDITS for s in subs])

    def levels(self, t: Thresholds) -> np.ndarray:
        import numpy as np

        crisis, imminent, concern = (self.oof[:, self.col[h]] for h in ("crisis", "imminent", "concern"))
        level = np.where(concern >= t.concern, 1, 0)
        model_imminent = (imminent >= t.imminent) & ((self.rule_support >= 2) | self.now)
        level = np.where(crisis >= t.high, np.where(model_imminent, 3, 2), level)
        level = np.where(self.only_dismissed & (level >= 2), 1, level)
        level = np.where(self.too_short & (level >= 2), 1, level)
        floored: np.ndarray = np.maximum(level, self.rule_floor)
        return floored

    def figures(self, t) -> dict[str, float]:  # type: ignore[no-untyped-def]  # numpy arrays from scikit-learn (untyped libraries)

        level = self.levels(t)
        truth = self.level_true
        lab = self.labeled

        def rate(mask) -> float:  # type: ignore[no-untyped-def]  # numpy arrays from scikit-learn (untyped libraries)
            return float(mask.mean()) if mask.size else float("nan")

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
        }

    def loss(self, t) -> float:  # type: ignore[no-untyped-def]  # numpy arrays from scikit-learn (untyped libraries)
        import math

        f = {k: (0.0 if math.isnan(v) else v) for k, v in self.figures(t).items()}
        # Targets as soft constraints: missing one costs far more than any gain elsewhere.
        penalty = 50 * max(0, 0.95 - f["recall_high_or_imminent"]) + 50 * max(0, f["false_hold_rate"] - 0.05)
        penalty += 50 * max(0, f["benign_paged_urgent"] - 0.01) + 20 * max(0, 0.75 - f["suicidewatch_held"])
        penalty += 50 * max(0, f["everyday_held"] - 0.015) + 20 * max(0, f["recovery_held"] - 0.05)
        score = (1 - f["recall_high_or_imminent"]) + f["false_hold_rate"] + 0.5 * (1 - f["imminent_as_urgent"])
        score += (
            2 * f["benign_paged_urgent"] + f["everyday_held"] + f["recovery_held"] + 0.2 * (1 - f["suicidewatch_held"])
        )
        score += 0.2 * f["none_given_resources"] + 0.2 * f["concern_missed"]
        return penalty + score

    def best(self) -> Thresholds:
        import numpy as np

        from services.moderation.screening.head import Thresholds

        grid = itertools.product(
            np.arange(0.30, 0.96, 0.025), np.arange(0.2, 0.96, 0.05), np.arange(0.3, 0.91, 0.1), (0.5,)
        )
        return min((Thresholds(*(round(float(v), 3) for v in combo)) for combo in grid), key=self.loss)

    def report(self, t) -> dict[str, object]:  # type: ignore[no-untyped-def]  # numpy arrays from scikit-learn (untyped libraries)
        from streams.events import CATEGORIES

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
        from collections import defaultdict

        from services.moderation.screening.rules import RISK_ORDER

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
