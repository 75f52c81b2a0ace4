"""`haven screen [FILE]` and `haven screen --eval FILE`.

Screening reads JSON lines {"id", "text"} and writes one verdict per line to stdout, and nothing
else there: logs go to stderr. `--eval` reads labeled lines and prints the screener and the
watched-words baseline side by side.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

BATCH = 32


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", type=Path, help="JSON lines to screen (default: stdin)")
    parser.add_argument("--eval", dest="eval_file", type=Path, help="labeled JSON lines to evaluate")
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

    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
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
            f"haven screen --eval {path} ({len(rows)} posts, model {screener.model_version})",
            {"screener": level_metrics(truths, screened), "watched words": level_metrics(truths, keywords)},
        )
    )
    for field in ("language", "voice"):
        values = sorted({str(r[field]) for r in rows if r.get(field)})
        if len(values) < 2:
            continue
        groups, sizes = {}, {}
        for value in values:
            picked = [i for i, r in enumerate(rows) if str(r.get(field)) == value]
            groups[value] = level_metrics([truths[i] for i in picked], [screened[i] for i in picked])
            sizes[value] = len(picked)
        print("\n" + format_breakdown(f"screener by {field}", groups, sizes))
    print(
        "\nNote: the screener is trained on training/corpus and Reddit posts only (MODEL_CARD.md). "
        "Its cross-validated figures come from haven train-screener --dry-run."
    )
    return 0
