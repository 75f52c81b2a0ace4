"""`haven screen [FILE]`, `haven screen --eval FILE`, `haven screen --reddit-unseen [CSV]`,
`haven screen --reddit-guide LABELS` and `haven screen --cssrs CSV`.

Screening reads JSON lines {"id", "text"} and writes one verdict per line to stdout, and nothing
else there: logs go to stderr. `--eval` reads labeled lines and prints the screener and the
watched-words baseline side by side. `--reddit-unseen` screens the Reddit posts the model's
training never read and prints how many each community would have held. `--reddit-guide` does
what `--eval` does for Reddit posts labelled by the guide (labels by post id; the texts come from
rmhd_subreddits.csv), and refuses posts the model's training read. `--cssrs` reports, per label,
the share of clinician-labelled Reddit users with a post held (cssrs.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from services.moderation.screening.data import GuideLabels, LabeledPost

BATCH = 32
#: Stands for shared/data/rmhd_subreddits.csv when `--reddit-unseen` is given no file.
DEFAULT_REDDIT = Path("-")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", type=Path, help="JSON lines to screen (default: stdin)")
    parser.add_argument("--eval", dest="eval_file", type=Path, help="labeled JSON lines to evaluate")
    parser.add_argument(
        "--reddit-unseen",
        dest="reddit_file",
        nargs="?",
        const=DEFAULT_REDDIT,
        type=Path,
        help="screen the posts of rmhd_subreddits.csv (default: shared/data's) that the model's training never "
        "read, and print each community's held rate",
    )
    parser.add_argument(
        "--reddit-guide",
        dest="reddit_guide_file",
        type=Path,
        help="evaluate on Reddit posts labelled by the guide (JSON lines with id, risk, categories; "
        "texts from shared/data/rmhd_subreddits.csv), e.g. tests/data/screening_reddit_guide.jsonl",
    )
    parser.add_argument(
        "--cssrs",
        dest="cssrs_file",
        type=Path,
        help="report the users flagged per label on the clinician-labelled Reddit users of Gaur et al. "
        "(500_Reddit_users_posts_labels.csv: User, Post, Label)",
    )
    parser.add_argument(
        "--baseline", type=Path, default=None, help="watched-words file (default: shared/data/watched_words.txt)"
    )


def run(args: argparse.Namespace) -> int:
    from services.moderation.screening import Screener, ScreenerLoadError

    try:
        screener = Screener.load(args.settings.screener_model, threads=2, precision=args.settings.screener_precision)
    except ScreenerLoadError as exc:
        print(f"haven screen: {exc}", file=sys.stderr)
        return 1
    if args.eval_file:
        return _evaluate(screener, args.eval_file, args.baseline)
    if args.reddit_guide_file:
        return _evaluate_reddit_guide(screener, args.reddit_guide_file, args.settings.screener_model, args.baseline)
    if args.cssrs_file:
        return _evaluate_cssrs(screener, args.cssrs_file, sys.stdout)
    if args.reddit_file:
        return _reddit_unseen(screener, args.reddit_file, args.settings.screener_model, sys.stdout)
    if args.file:
        with args.file.open(encoding="utf-8") as source:
            return _screen_lines(screener, source, sys.stdout)
    return _screen_lines(screener, sys.stdin, sys.stdout)


def _batches(source: TextIO) -> Iterator[list[tuple[int, dict[str, object] | str]]]:
    batch: list[tuple[int, dict[str, object] | str]] = []
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("text", ""), str):
                raise ValueError("each line must be an object with a string 'text'")
            batch.append((number, item))
        except ValueError as exc:
            batch.append((number, f"line {number}: {exc}"))
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _screen_lines(screener, source: TextIO, out: TextIO) -> int:  # type: ignore[no-untyped-def]  # the screener is loaded lazily (torch) and passed untyped
    from services.moderation.screening import ScreeningInput, fail_closed_verdict

    failures = 0
    for batch in _batches(source):
        readable = [
            ScreeningInput(id=str(item.get("id", f"line-{number}")), text=str(item.get("text", "")))
            for number, item in batch
            if not isinstance(item, str)
        ]
        screened = iter(screener.screen_batch(readable))
        for number, item in batch:
            if isinstance(item, str):
                failures += 1
                print(f"haven screen: {item}", file=sys.stderr)
                verdict = fail_closed_verdict(f"line-{number}", "unreadable input")
            else:
                verdict = next(screened)
            out.write(verdict.model_dump_json() + "\n")
        out.flush()
    return 1 if failures else 0


def _evaluate(screener, path: Path, baseline_path: Path | None) -> int:  # type: ignore[no-untyped-def]  # the screener is loaded lazily (torch) and passed untyped
    try:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for number, row in enumerate(rows, start=1):
            _check_labeled_row(row, number)
    except (OSError, ValueError) as exc:
        print(f"haven screen: cannot read {path}: {exc}", file=sys.stderr)
        return 1
    _print_evaluation(screener, rows, f"haven screen --eval {path}", baseline_path, ("language", "voice"))
    print(
        "\nNote: the screener is trained on training/corpus and Reddit posts only (MODEL_CARD.md). "
        "Its cross-validated figures come from haven train-screener --dry-run."
    )
    return 0


def _check_labeled_row(row: object, number: int) -> None:
    from services.moderation.screening.data import label_row_problem

    if problem := label_row_problem(row):
        raise ValueError(f"line {number}: {problem}")
    if not (isinstance(row, dict) and isinstance(row.get("text"), str)):
        raise ValueError(f"line {number}: each line needs a string 'text'")


def _evaluate_reddit_guide(  # type: ignore[no-untyped-def]  # the screener is loaded lazily (torch) and passed untyped
    screener,
    path: Path,
    configured_model: Path | None,
    baseline_path: Path | None,
    csv_path: Path | None = None,
) -> int:
    import csv

    from services.moderation.screening.data import default_data_dir, read_guide_labels, read_rmhd, subreddit

    csv_path = csv_path or default_data_dir() / "rmhd_subreddits.csv"
    try:
        labels = read_guide_labels(path)
        posts = {post.id: post for post in read_rmhd(csv_path)}
    except (OSError, ValueError, KeyError, csv.Error) as exc:
        print(f"haven screen: cannot read {path} or {csv_path}: {exc}", file=sys.stderr)
        return 1
    unknown = [post_id for post_id in labels if post_id not in posts]
    if unknown:
        print(f"haven screen: {len(unknown)} labelled ids are not in {csv_path}, e.g. {unknown[0]}", file=sys.stderr)
        return 1
    try:
        unseen = {post.id for post in _never_read_by_model(list(posts.values()), configured_model)}
    except ValueError as exc:
        print(f"haven screen: {exc}", file=sys.stderr)
        return 1
    seen = [post_id for post_id in labels if post_id not in unseen]
    if seen:
        print(
            f"haven screen: {len(seen)} of these posts trained the model (e.g. {seen[0]}); "
            "their figures come from haven train-screener --dry-run",
            file=sys.stderr,
        )
        return 1
    rows = [
        {
            "id": post_id,
            "risk": risk,
            "categories": list(categories),
            "text": posts[post_id].text,
            "community": subreddit(posts[post_id]),
        }
        for post_id, (risk, categories) in labels.items()
    ]
    _print_evaluation(screener, rows, f"haven screen --reddit-guide {path}", baseline_path, ("community",))
    print("\nNote: none of these posts was read by the model's training (checked against its seed).")
    return 0


def _never_read_by_model(reddit: list[LabeledPost], configured_model: Path | None) -> list[LabeledPost]:
    """The posts of `reddit` that the model's training never read, from the seed and the guide
    labels its head.json records (ValueError when it records no seed or unreadable labels)."""
    from services.moderation.screening.data import reddit_never_read_by_training, with_guide_labels

    seed, trained_labels = _training_record(configured_model)
    return reddit_never_read_by_training(with_guide_labels(reddit, trained_labels), seed)


def _training_record(configured_model: Path | None) -> tuple[int, GuideLabels]:
    """The seed and the guide labels the model's training read, from its head.json."""
    from services.moderation.screening.data import guide_labels_trained_on
    from services.moderation.screening.screener import configured_model_dir

    head = json.loads((configured_model_dir(configured_model) / "head.json").read_text(encoding="utf-8"))
    seed = head.get("seed")
    if not isinstance(seed, int):
        raise ValueError("the model's head.json records no training seed")
    try:
        return seed, guide_labels_trained_on(head.get("reddit_labels"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the guide labels the model trained on: {exc}") from exc


def _print_evaluation(
    screener: Any, rows: list[dict[str, Any]], title: str, baseline_path: Path | None, breakdowns: tuple[str, ...]
) -> None:
    from services.moderation.screening import ScreeningInput
    from services.moderation.screening.data import default_data_dir
    from services.moderation.screening.evaluation import (
        Prediction,
        Truth,
        WatchedWords,
        format_breakdown,
        format_side_by_side,
        level_metrics,
    )

    baseline = WatchedWords.from_file(baseline_path or default_data_dir() / "watched_words.txt")
    truths = [Truth(r["risk"], tuple(r.get("categories", []))) for r in rows]
    verdicts = []
    for offset in range(0, len(rows), BATCH):
        chunk = rows[offset : offset + BATCH]
        verdicts.extend(screener.screen_batch([ScreeningInput(id=str(r["id"]), text=r["text"]) for r in chunk]))
    screened = [Prediction(v.risk, tuple(v.categories), v.action) for v in verdicts]
    keywords = [baseline.predict(r["text"]) for r in rows]
    print(
        format_side_by_side(
            f"{title} ({len(rows)} posts, model {screener.model_version}, {screener.precision})",
            {"screener": level_metrics(truths, screened), "watched words": level_metrics(truths, keywords)},
        )
    )
    for field in breakdowns:
        values = sorted({str(r[field]) for r in rows if r.get(field)}, key=str.lower)
        if len(values) < 2:
            continue
        groups, sizes = {}, {}
        for value in values:
            picked = [i for i, r in enumerate(rows) if str(r.get(field)) == value]
            groups[value] = level_metrics([truths[i] for i in picked], [screened[i] for i in picked])
            sizes[value] = len(picked)
        print("\n" + format_breakdown(f"screener by {field}", groups, sizes))


def _evaluate_cssrs(screener, path: Path, out: TextIO) -> int:  # type: ignore[no-untyped-def]  # the screener is loaded lazily (torch) and passed untyped
    import csv

    from services.moderation.screening import ScreeningInput
    from services.moderation.screening.cssrs import (
        UnreadableUsers,
        flagged_by_level,
        format_report,
        read_users,
        summary,
    )

    try:
        users = read_users(path)
    except (OSError, UnicodeDecodeError, csv.Error, UnreadableUsers) as exc:
        print(f"haven screen: cannot read {path}: {exc}", file=sys.stderr)
        return 1

    def actions_of(texts: list[str]) -> list[str]:
        actions: list[str] = []
        for offset in range(0, len(texts), BATCH):
            chunk = texts[offset : offset + BATCH]
            verdicts = screener.screen_batch([ScreeningInput(id=str(offset + i), text=t) for i, t in enumerate(chunk)])
            actions += [verdict.action for verdict in verdicts]
        return actions

    counts = flagged_by_level(users, actions_of)
    out.write(format_report(counts, screener.model_version, path))
    by_level = {level: {"users": c.users, "flagged": c.flagged} for level, c in counts.items()}
    out.write(json.dumps({"model_version": screener.model_version, **summary(counts), "by_label": by_level}) + "\n")
    return 0


def _reddit_unseen(screener, path: Path, configured_model: Path | None, out: TextIO) -> int:  # type: ignore[no-untyped-def]  # the screener is loaded lazily (torch) and passed untyped
    import csv

    from services.moderation.screening.data import default_data_dir, read_rmhd

    if path == DEFAULT_REDDIT:
        path = default_data_dir() / "rmhd_subreddits.csv"
    try:
        reddit = read_rmhd(path)
    except (OSError, KeyError, ValueError, csv.Error) as exc:
        print(f"haven screen: cannot read {path}: {exc}", file=sys.stderr)
        return 1
    try:
        posts = _never_read_by_model(reddit, configured_model)
    except ValueError as exc:
        print(f"haven screen: {exc}", file=sys.stderr)
        return 1
    counts = count_holds_by_community(screener, posts)
    out.write(format_holds_by_community(counts, screener.model_version, len(posts)))
    return 0


def count_holds_by_community(screener, posts) -> dict[str, dict[str, int]]:  # type: ignore[no-untyped-def]  # the screener is loaded lazily (torch) and passed untyped
    from services.moderation.screening import ScreeningInput
    from services.moderation.screening.data import subreddit

    counts: dict[str, dict[str, int]] = {}
    for offset in range(0, len(posts), BATCH):
        chunk = posts[offset : offset + BATCH]
        verdicts = screener.screen_batch([ScreeningInput(id=p.id, text=p.text) for p in chunk])
        for post, verdict in zip(chunk, verdicts, strict=True):
            row = counts.setdefault(str(subreddit(post)), {"posts": 0, "held": 0, "urgent": 0, "resources": 0})
            row["posts"] += 1
            row["held"] += verdict.action in ("hold", "hold_urgent")
            row["urgent"] += verdict.action == "hold_urgent"
            row["resources"] += verdict.action == "publish_with_resources"
    return counts


def format_holds_by_community(counts: dict[str, dict[str, int]], model_version: str, total: int) -> str:
    """A table by community, everyday communities (where a hold is a false hold) first, then one JSON line."""
    from services.moderation.screening.data import EVERYDAY_SUBREDDITS

    everyday = sorted(name for name in counts if name in EVERYDAY_SUBREDDITS)
    others = sorted((name for name in counts if name not in EVERYDAY_SUBREDDITS), key=str.lower)
    summed = {key: sum(counts[name][key] for name in everyday) for key in ("posts", "held", "urgent", "resources")}
    lines = [
        f"haven screen --reddit-unseen: {total} Reddit posts the training of {model_version} never read",
        f"{'community':<24}{'posts':>6}{'held':>6}{'rate':>7}{'urgent':>8}{'resources':>11}",
    ]

    def line(name: str, row: dict[str, int]) -> str:
        rate = row["held"] / row["posts"] if row["posts"] else 0.0
        return f"{name:<24}{row['posts']:>6}{row['held']:>6}{rate:>7.3f}{row['urgent']:>8}{row['resources']:>11}"

    if everyday:
        lines.append(line("everyday, together", summed))
        lines.extend(line(f"  {name}", counts[name]) for name in everyday)
    if others:
        lines.append("communities training has no label for (a hold there is not known to be wrong):")
        lines.extend(line(f"  {name}", counts[name]) for name in others)
    summary = {
        "model_version": model_version,
        "everyday_held": round(summed["held"] / summed["posts"], 4) if summed["posts"] else None,
        "everyday_urgent": summed["urgent"],
        "by_community": counts,
    }
    lines.append(json.dumps(summary, sort_keys=True))
    return "\n".join(lines) + "\n"
