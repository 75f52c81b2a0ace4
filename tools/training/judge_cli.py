"""`haven judge-candidate`: two runs' out-of-fold scores (`haven train-screener --save-oof`), a
baseline's and a candidate's, judged on the posts both scored (tools/training/judging.py).

Nothing is trained and the dev, blind and other frozen sets are not read: only the training
corpus (each run's), the Reddit file and the guide labels, to know each scored post's label and
rules. Folds are dealt by post id, so a post sits in the same fold whichever run scored it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tools.training.cli import whole_number_in

if TYPE_CHECKING:
    from tools.training.judging import Judgement


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("baseline", type=Path, help="the baseline run's out-of-fold file (.npz)")
    parser.add_argument("candidate", type=Path, help="the candidate run's out-of-fold file (.npz)")
    parser.add_argument(
        "--corpus", type=Path, default=None, help="the baseline run's corpus folder (default: training/corpus)"
    )
    parser.add_argument(
        "--candidate-corpus",
        type=Path,
        default=None,
        help="the candidate run's corpus folder, when it trained on other posts (default: the baseline's)",
    )
    parser.add_argument(
        "--data", type=Path, default=None, help="folder with rmhd_subreddits.csv (default: shared/data)"
    )
    parser.add_argument(
        "--reddit-labels",
        type=Path,
        action="append",
        default=None,
        help="files of guide labels the Reddit posts are counted by (default: training/reddit-labels/labels.jsonl)",
    )
    parser.add_argument(
        "--folds", type=whole_number_in(2, 20, "folds of the shared posts"), default=3, help="k (default 3)"
    )
    parser.add_argument("--json", action="store_true", help="also print the judgement as one JSON object, last")


def run(args: argparse.Namespace) -> int:
    from services.moderation.screening.data import (
        LabeledPost,
        default_corpus_dir,
        default_data_dir,
        default_guide_labels,
        read_corpus,
        read_guide_label_files,
        read_rmhd,
        with_guide_labels,
    )
    from tools.training.cross_validation import TrainingSet, folds_by_id
    from tools.training.judging import OutOfFoldError, judge, read_out_of_fold, shared_posts

    try:
        baseline, candidate = read_out_of_fold(args.baseline), read_out_of_fold(args.candidate)
        labels = read_guide_label_files(args.reddit_labels or [default_guide_labels()])
        reddit = read_rmhd((args.data or default_data_dir()) / "rmhd_subreddits.csv")
        baseline_corpus = read_corpus(args.corpus or default_corpus_dir())
        corpora = [baseline_corpus]
        if args.candidate_corpus is not None:
            corpora.append(read_corpus(args.candidate_corpus))
        pool: dict[str, LabeledPost] = {}
        for corpus in corpora:
            # The posts as training judged them: Reddit posts cut as it reads them, with guide labels.
            for post in with_guide_labels(TrainingSet.of(corpus + reddit).posts, labels):
                if pool.setdefault(post.id, post) != post:
                    raise OutOfFoldError(f"post {post.id} differs between the two corpora: judge like with like")
        shared = shared_posts(baseline, candidate, pool)
    except (OSError, ValueError) as exc:
        print(f"judge-candidate: {exc}", file=sys.stderr)
        return 2
    judgement = judge(shared, folds_by_id(shared.posts, args.folds))
    print(
        f"posts both runs scored: {judgement.posts} (only the baseline's: {shared.only_baseline}, only the "
        f"candidate's: {shared.only_candidate}); {args.folds} folds dealt by post id"
    )
    print(_table(judgement))
    verdict = "GAINS" if judgement.candidate_gains else "does not gain"
    print(
        f"candidate {verdict}: the decision rule asks for a lower objective at its own thresholds and at the baseline's"
    )
    if args.json:
        print(json.dumps(judgement.as_dict(), sort_keys=True))
    return 0


def _table(judgement: Judgement) -> str:
    arms = [("baseline", "baseline"), ("candidate", "candidate"), ("candidate", "baseline"), ("baseline", "candidate")]
    header = "| figure | " + " | ".join(f"{s}'s scores, {t}'s thresholds" for s, t in arms) + " |"
    rows = [header, "| --- |" + " --- |" * len(arms)]
    rows.append(
        "| objective (lower is better) | " + " | ".join(f"{judgement.objective(s, t):.4f}" for s, t in arms) + " |"
    )
    for name in judgement.figures[("baseline", "baseline")]:
        rows.append(f"| {name} | " + " | ".join(f"{judgement.figures[arm][name]:.3f}" for arm in arms) + " |")
    rows.append("")
    rows += [f"gain {name}: {gain:+.4f}" for name, gain in judgement.gains().items()]
    return "\n".join(rows)
