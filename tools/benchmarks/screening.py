"""`haven bench screen`: the production screener against the plain model forward pass, in one run.

Both sides see the same posts, 32 at a time, with the same torch threads. The raw side is the
plain float32 transformer forward pass with mean pooling on each batch's windows as they come,
padded to the batch's longest window. The production side is the whole screener: tokenization,
windowing, windows sorted by length into batches of similar length, the number format chosen for
this CPU (encoder.choose_precision), the heads, the rules and building verdicts. Short posts
come from the hand-labeled dev set, long posts from the Reddit set (a realistic length mix).

The last line of output is one JSON object: {"short": {"production_posts_s", "torch_raw_posts_s",
...}, "long": {...}, "precision": ..., "single_p50_ms": ..., "single_p99_ms": ...}.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

BATCH_POSTS = 32
ROUNDS = 3


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--posts", type=int, default=128, help="posts per length mix")
    parser.add_argument("--single", type=int, default=200, help="single-post latency samples")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print only the final JSON object")


def run(args: argparse.Namespace) -> int:
    from services.moderation.screening import Screener, ScreeningInput
    from services.moderation.screening.data import default_data_dir, read_dev, read_rmhd

    data = default_data_dir()
    rng = random.Random(7)
    short = [p.text for p in read_dev(data / "screening_dev.jsonl")]
    long = [p.text for p in read_rmhd(data / "rmhd_subreddits.csv")]
    mixes = {
        "short": [rng.choice(short) for _ in range(args.posts)],
        "long": [rng.choice(long) for _ in range(args.posts)],
    }
    screener = Screener.load(
        args.settings.screener_model, threads=args.threads, precision=args.settings.screener_precision
    )
    encoder = screener.encoder

    def say(line: str) -> None:
        if not args.json:
            print(line)

    say(
        f"haven bench screen: torch threads {args.threads}, batches of {BATCH_POSTS} posts, "
        f"production precision {encoder.precision}\n"
    )
    say(f"{'length mix':<12}{'production posts/s':>20}{'torch raw posts/s':>20}{'ratio':>8}{'chars (median)':>16}")
    result: dict[str, object] = {"precision": encoder.precision, "threads": args.threads, "batch_posts": BATCH_POSTS}
    for name, texts in mixes.items():
        batches = [texts[i : i + BATCH_POSTS] for i in range(0, len(texts), BATCH_POSTS)]
        screener.screen_batch([ScreeningInput(id="warm", text=texts[0])])
        prepared = [encoder.windows(batch) for batch in batches]
        production_s, raw_s = [], []
        # Alternate the two sides and keep each side's best round: the other core may be busy.
        for _ in range(ROUNDS):
            started = time.perf_counter()
            for batch in batches:
                screener.screen_batch([ScreeningInput(id=str(i), text=t) for i, t in enumerate(batch)])
            production_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            for windows in prepared:
                for offset in range(0, len(windows.input_ids), BATCH_POSTS):
                    encoder.forward_raw(windows.input_ids[offset : offset + BATCH_POSTS])
            raw_s.append(time.perf_counter() - started)
        production = len(texts) / min(production_s)
        raw = len(texts) / min(raw_s)
        median_chars = int(statistics.median(len(t) for t in texts))
        result[name] = {
            "production_posts_s": round(production, 1),
            "torch_raw_posts_s": round(raw, 1),
            "ratio": round(production / raw, 2),
            "median_chars": median_chars,
            "posts": len(texts),
        }
        say(f"{name:<12}{production:>20.1f}{raw:>20.1f}{production / raw:>8.2f}{median_chars:>16}")

    samples = []
    lone = ScreeningInput(id="one", text="Day 9. Cravings were loud tonight but I went to a meeting instead.")
    for _ in range(args.single):
        started = time.perf_counter()
        screener.screen_batch([lone])
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p50 = samples[len(samples) // 2]
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    say(f"\nsingle short post latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms ({args.single} samples)")
    result.update(
        {"single_p50_ms": round(p50, 1), "single_p99_ms": round(p99, 1), "model_version": screener.model_version}
    )
    print(json.dumps(result))
    return 0
