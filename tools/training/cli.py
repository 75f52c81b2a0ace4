"""`haven train-screener`: fine-tune the encoder's top layers and the heads, pick thresholds by
cross-validation, report k-fold figures, write the model.

Data: the training corpus (`training/corpus/part-*.jsonl`, hand-labeled from the labelling
guide) and the Reddit posts labeled by subreddit (r/suicidewatch as crisis, everyday and
recovery communities as no crisis). The dev set is a check (`haven screen --eval`) and is not
read here; the blind test set is never read by training.

Every figure printed comes from out-of-fold predictions. The thresholds are chosen on those
predictions, then the final model is fit on all the data; the nested figures choose them on the
other folds' posts instead, so no post is decided by thresholds fitted to it. Seeded; under 30 minutes on two
cores with the defaults (the encoder's top six layers fine-tuned; the k folds and the final fit
take nearly all of it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from services.moderation.screening.encoder import BASE_ENCODERS, MULTILINGUAL_E5

if TYPE_CHECKING:
    from services.moderation.screening.data import LabeledPost
    from tools.training.finetune import LowerStates, Variants

log = logging.getLogger(__name__)

#: The pool of composed posts is this many times the number one fit uses: a fit may use only those
#: built from its own training posts, about a fifth of the pool with three folds.
COMPOSED_POOL_PER_FIT = 5

#: Span discounts (log-odds) tried on out-of-fold scores for a model trained with the span loss.
SPAN_DISCOUNTS = (0.0, 0.5, 1.0, 1.5, 2.0)


def whole_number_in(low: int, high: int, why: str) -> Callable[[str], int]:
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
_window_tokens = whole_number_in(8, 256, "a window is 256 tokens")
#: A training seed that torch and random both accept.
_seed = whole_number_in(0, 2**32 - 1, "a 32-bit seed")


def _number_in(accepts: Callable[[float], bool], interval: str) -> Callable[[str], float]:
    """An argparse type for a number that `accepts` takes; `interval` names the range in the refusal."""

    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
        if not accepts(number):
            raise argparse.ArgumentTypeError(f"{number} is outside {interval}")
        return number

    return parse


#: A dropout probability: at least 0, below 1.
_dropout = _number_in(lambda p: 0.0 <= p < 1.0, "[0, 1)")
#: A probability: from 0 to 1.
_probability = _number_in(lambda p: 0.0 <= p <= 1.0, "[0, 1]")
#: A training weight: above 0, at most 4.
_sample_weight = _number_in(lambda w: 0.0 < w <= 4.0, "(0, 4]")


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
        "--reddit-weight",
        type=_sample_weight,
        default=None,
        help="weight of a Reddit post (labelled by subreddit) in the loss, against 1 for a hand-labelled post "
        "(default 0.5, the shipped recipe)",
    )
    parser.add_argument(
        "--real-crisis-factor",
        type=_sample_weight,
        default=1.0,
        help="multiplies the weight of a Reddit post that --reddit-labels labels high or imminent: real crises "
        "are few among real posts (default 1, the shipped recipe)",
    )
    parser.add_argument(
        "--attention-dropout",
        type=_dropout,
        default=None,
        help="dropout on the fine-tuned layers' attention (default: 0.1 under bfloat16, the shipped recipe; 0 "
        "in float32, where it lets PyTorch use its fused CPU attention, about a quarter faster per epoch)",
    )
    parser.add_argument(
        "--dropout-masks",
        choices=("torch", "words"),
        default="words",
        help="how dropout masks are drawn: words (16-bit words cut from 64-bit draws, about four times faster "
        "to draw than PyTorch's; the shipped recipe) or torch (PyTorch's dropout, as models before "
        "2026-12-04 were trained: the same probabilities, a different random stream)",
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
        default="8",
        help="comma-separated top-layer counts (0: frozen encoder) compared by cross-validation; the best by "
        "the threshold objective is trained ('' to train --top-layers only). The default, 8, is the shipped "
        "recipe since 2026-12-05 (6 before); '0,8' repeats the comparison that chose fine-tuning (the frozen "
        "encoder lost by far); the default skips it to save training time",
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
    parser.add_argument(
        "--composites",
        type=whole_number_in(0, 5000, "a fit trains on at most 5000 composed posts"),
        default=0,
        help="each fit also trains on up to N long posts composed from its own training posts (a corpus post "
        "among short ordinary ones, labeled as it; tools/training/composites.py). Default 0, the shipped recipe",
    )
    parser.add_argument(
        "--careless-voice",
        type=_probability,
        default=0.0,
        help="each time a hand-labelled post comes up in training, read a careless rewrite of it instead (lower "
        "case, no apostrophes or accents, chat spellings, slips of the finger; tools/training/careless_voice.py) "
        "with this probability. Same labels, same number of steps. Default 0, the shipped recipe",
    )
    parser.add_argument(
        "--reddit-labels",
        type=Path,
        action="append",
        default=None,
        help="a file of labelling-guide labels for Reddit posts (training/reddit-labels/; give it again for more "
        "files); those posts train on them instead of their subreddit's label, and a post of a community training "
        "has no label for is read only with one. Default: none, the shipped recipe (the guide figures are "
        "reported either way, from training/reddit-labels/labels.jsonl unless this is given)",
    )
    parser.add_argument(
        "--reddit-evidence",
        type=Path,
        default=None,
        help="with --reddit-labels: a file of the sentence each guide-labelled crisis was labelled for "
        "(training/reddit-labels/evidence.jsonl); training reads such a post at a span over it, and a guide-labelled "
        "safe post at a seeded span anywhere in it, instead of their first --reddit-tokens tokens "
        "(tools/training/evidence.py). Default: none, the shipped recipe",
    )
    parser.add_argument("--no-reddit", action="store_true", help="train on the corpus only")
    parser.add_argument(
        "--out", type=Path, default=None, help="where to write the model (default: the package's model/)"
    )
    parser.add_argument(
        "--save-oof", type=Path, default=None, help="also write each candidate's out-of-fold scores to this .npz"
    )
    parser.add_argument(
        "--fold-assignment",
        choices=("stratified", "by-id"),  # cross_validation.FOLD_ASSIGNMENTS, not imported before it is needed
        default="stratified",
        help="how posts are dealt into folds: 'stratified' (the shipped model's) reshuffles every post when one "
        "is added; 'by-id' keeps each post's fold fixed by its id, so a candidate corpus is cross-validated "
        "post by post against a baseline run the same way",
    )
    parser.add_argument(
        "--apart",
        default="",
        help="comma-separated corpus parts (file names without .jsonl) whose posts the report also counts on "
        "their own: the nested figures of every other post then compare with a model trained without them",
    )
    parser.add_argument("--dry-run", action="store_true", help="report cross-validated metrics only; write nothing")


def run(args: argparse.Namespace) -> int:

    from services.moderation.screening.data import (
        corpus_part,
        default_corpus_dir,
        default_data_dir,
        default_guide_labels,
        read_corpus,
        read_guide_label_files,
        read_rmhd,
        with_guide_labels,
    )
    from services.moderation.screening.encoder import DELTA_FILE, Encoder, choose_precision, save_delta
    from services.moderation.screening.head import combine_parts
    from services.moderation.screening.screener import MODEL_DIR
    from tools.training.composites import compose
    from tools.training.cross_validation import (
        REDDIT_WEIGHT,
        SEED,
        TrainingSet,
        fit,
        fold_splits,
        head_of,
        model_version,
        out_of_fold_parts,
    )
    from tools.training.evidence import guide_readings, read_evidence
    from tools.training.finetune import FinetuneConfig, attention_dropout_for, lower_states
    from tools.training.objective import Objective, loss_of

    if args.reddit_evidence and not (args.reddit_labels and not args.no_reddit):
        print("--reddit-evidence needs --reddit-labels (and the Reddit posts)", file=sys.stderr)
        return 2
    started = time.monotonic()
    corpus = read_corpus(args.corpus or default_corpus_dir())
    reddit = [] if args.no_reddit else read_rmhd((args.data or default_data_dir()) / "rmhd_subreddits.csv")
    try:
        guide_labels = read_guide_label_files(args.reddit_labels or [default_guide_labels()])
    except (OSError, ValueError) as exc:
        print(f"--reddit-labels: {exc}", file=sys.stderr)
        return 2
    if args.reddit_labels:
        reddit = with_guide_labels(reddit, guide_labels)
    reddit_weight = REDDIT_WEIGHT if args.reddit_weight is None else args.reddit_weight
    data = TrainingSet.of(corpus + reddit, reddit_weight, args.real_crisis_factor)
    apart = {part.strip() for part in args.apart.split(",") if part.strip()}
    if unknown := apart - {corpus_part(p) for p in corpus}:
        print(f"--apart: no corpus part named {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    # Figures count the Reddit posts by their guide labels too, whatever they trained on.
    judged = with_guide_labels(data.posts, guide_labels)
    counts = _counts(data.posts)
    print(f"training data: {json.dumps(counts)}", file=sys.stderr)
    encoder = Encoder.load(base=args.encoder, threads=2, precision="fp32")
    print(f"base encoder: {args.encoder}", file=sys.stderr)
    precision = choose_precision(None if args.precision == "auto" else args.precision, encoder.probe_bf16)
    attention_dropout = attention_dropout_for(precision) if args.attention_dropout is None else args.attention_dropout
    print(f"fine-tuning arithmetic: {precision}, attention dropout {attention_dropout}", file=sys.stderr)
    composed = []
    if args.composites:
        composed = compose(
            data.posts,
            COMPOSED_POOL_PER_FIT * args.composites,
            SEED,
            fits=lambda text: len(encoder.windows([text]).input_ids) == 1,
        )
        print(f"composed posts: {len(composed)} in the pool, up to {args.composites} per fit", file=sys.stderr)
    texts = [p.text for p in data.posts] + [c.text for c in composed]
    rewritten = _careless_rewrites(data.posts) if args.careless_voice else {}
    candidates = [int(c) for c in args.compare.split(",") if c.strip()] or [args.top_layers]
    results = {}
    lowers = lower_states(encoder, texts + list(rewritten.values()), candidates)
    print(
        f"lower layers run once over {len(lowers[candidates[0]].states)} windows "
        f"({time.monotonic() - started:.0f} s so far)",
        file=sys.stderr,
    )
    training_seed = SEED if args.seed is None else args.seed
    # Every candidate's states hold the same windows, so one reading plan serves them all.
    readings = (
        guide_readings(
            encoder.token_ids,
            data.posts,
            lowers[candidates[0]].first_window,
            read_evidence(args.reddit_evidence),
            anywhere={post_id for post_id, (risk, _) in guide_labels.items() if risk in ("none", "concern")},
            tokens=args.reddit_tokens,
            seed=training_seed,
        )
        if args.reddit_evidence
        else None
    )
    for top_layers in candidates:
        config = FinetuneConfig(
            top_layers=top_layers,
            epochs=args.epochs,
            seed=training_seed,
            precision=precision,
            corpus_tokens=args.corpus_tokens,
            reddit_tokens=args.reddit_tokens,
            attention_dropout=attention_dropout,
            dropout_masks=args.dropout_masks,
            span_weight=args.span_weight,
        )
        lower = lowers[top_layers]
        variants = _variants(lower, len(texts), rewritten, args.careless_voice) if rewritten else None
        print(
            f"k-fold cross-validation, k={args.folds}, top layers {top_layers}, {len(data.posts)} posts "
            f"({time.monotonic() - started:.0f} s so far)",
            file=sys.stderr,
        )
        parts = out_of_fold_parts(
            encoder,
            lower,
            data,
            config,
            args.folds,
            composed,
            args.composites,
            args.fold_assignment,
            variants,
            readings,
        )
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
            objective = Objective(judged, combine_parts(parts, discount))
            best = objective.best()
            by_discount[discount] = (objective.loss(best), best, objective)
            if config.span_weight:
                print(f"span discount {discount}: objective {objective.loss(best):.4f}", file=sys.stderr)
        span_discount = min(by_discount, key=lambda d: by_discount[d][0])
        loss, best, objective = by_discount[span_discount]
        nested = objective.nested(fold_splits(data, args.folds, args.fold_assignment), apart=apart)
        report = {**objective.report(best), "nested_out_of_fold": nested.as_dict()}
        results[top_layers] = (loss, best, report, config, lower, span_discount, variants)
        print(
            f"top layers {top_layers}: objective {loss:.4f}, thresholds {best.as_dict()}, "
            f"span discount {span_discount}; nested (thresholds chosen on the other folds): objective "
            f"{nested.objective:.4f}"
            + (f"; without the parts apart: objective {loss_of(nested.others):.4f}" if apart else ""),
            file=sys.stderr,
        )
        print(json.dumps({"top_layers": top_layers, "span_discount": span_discount, **report}, indent=2))
    chosen = min(results, key=lambda k: results[k][0])
    loss, thresholds, report, config, lower, span_discount, variants = results[chosen]
    comparison = {str(k): round(v[0], 4) for k, v in results.items()}
    print(
        f"chosen: top layers {chosen} (objective by top layers: {comparison}); thresholds {thresholds.as_dict()}",
        file=sys.stderr,
    )
    if args.dry_run:
        return 0
    fitted = fit(
        encoder, lower, data, range(len(data.posts)), config, composed, args.composites, SEED, variants, readings
    )
    # Choices outside FinetuneConfig, named (in the version and head.json) only when not the recipe's.
    beyond_config = {
        **({"composites": args.composites} if args.composites else {}),
        **({"reddit_weight": reddit_weight} if reddit_weight != REDDIT_WEIGHT else {}),
        **({"real_crisis_factor": args.real_crisis_factor} if args.real_crisis_factor != 1.0 else {}),
        **({"careless_voice": args.careless_voice} if args.careless_voice else {}),
        **({"reddit_labels": [path.name for path in args.reddit_labels]} if args.reddit_labels else {}),
        **({"reddit_evidence": args.reddit_evidence.name} if args.reddit_evidence else {}),
    }
    recipe = {
        **dataclasses.asdict(config),
        "span_discount": span_discount,
        "thresholds": thresholds.as_dict(),
        **beyond_config,
    }
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
            "dropout_masks": config.dropout_masks,
            "span_weight": config.span_weight,
            **beyond_config,
            **({"fold_assignment": args.fold_assignment} if args.fold_assignment != "stratified" else {}),
            "objective_by_top_layers": comparison,
            "training_data": counts,
            "cross_validated": report,
            "train_seconds": round(time.monotonic() - started),
        },
    )
    print(f"wrote {out} ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    return 0


def _careless_rewrites(posts: Sequence[LabeledPost]) -> dict[int, str]:
    """A careless rewrite of each hand-labelled post, by index, seeded (the same on every run)."""
    import random

    from services.moderation.screening.data import is_labeled
    from tools.training.careless_voice import careless
    from tools.training.cross_validation import SEED

    rng = random.Random(SEED)
    return {i: careless(p.text, p.language or "en", rng) for i, p in enumerate(posts) if is_labeled(p)}


def _variants(lower: LowerStates, rewrites_from: int, rewritten: dict[int, str], rate: float) -> Variants:
    """Where each post's rewrite starts in `lower`: the rewrites follow the first `rewrites_from` texts."""
    import numpy as np

    from tools.training.finetune import Variants

    first_window = np.full(rewrites_from, -1, dtype=np.int64)
    for n, post in enumerate(rewritten):
        first_window[post] = lower.first_window[rewrites_from + n]
    return Variants(first_window, rate)


def _counts(posts) -> dict[str, object]:  # type: ignore[no-untyped-def]  # numpy arrays from scikit-learn (untyped libraries)
    from collections import Counter

    from services.moderation.screening.data import corpus_part, is_labeled, subreddit

    labeled = [p for p in posts if is_labeled(p)]
    return {
        "corpus": len(labeled),
        "corpus_by_part": dict(sorted(Counter(corpus_part(p) for p in labeled).items())),
        "corpus_by_risk": dict(Counter(p.risk for p in labeled)),
        "reddit": len(posts) - len(labeled),
        "reddit_by_subreddit": dict(sorted(Counter(subreddit(p) for p in posts if not is_labeled(p)).items())),
        **(
            {"reddit_guide_labels": dict(sorted(guide.items()))}
            if (guide := Counter(p.risk for p in posts if not is_labeled(p) and p.risk))
            else {}
        ),
    }
