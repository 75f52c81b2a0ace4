"""`haven bench screen`: the whole screener against the raw model forward pass, in one run.

Both sides see the same posts in the same batches of 32, the same windows, padding (each
forward batch padded to its longest window, windows sorted by length) and torch threads. The
raw side is only the transformer forward pass with mean pooling; the screener side adds
tokenization, windowing, the head, the rules and building verdicts. Short posts come from the
hand-labeled dev set, long posts from the Reddit set (a realistic length mix).
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


def run(args: argparse.Namespace) -> int:
    from services.moderation.screening import Screener, ScreeningInput
    from services.moderation.screening.data import default_data_dir, read_dev, read_rmhd

    data = default_data_dir()
    rng = random.Random(7)
    short = [p.text for p in read_dev(data / "screening_dev.jsonl")]
    long = [p.text for p in read_rmhd(data / "rmhd_subreddits.csv")]
    mixes = {
        "short posts (dev set)": [rng.choice(short) for _ in range(args.posts)],
        "long posts (Reddit mix)": [rng.choice(long) for _ in range(args.posts)],
    }
    screener = Screener.load(threads=args.threads)
    encoder = screener._encoder  # noqa: SLF001 - the benchmark compares against the same encoder
    print(f"haven bench screen: torch threads {args.threads}, batches of {BATCH_POSTS} posts\n")
    print(f"{'length mix':<26}{'screener posts/s':>18}{'raw forward posts/s':>22}{'ratio':>8}{'chars (median)':>16}")
    for name, texts in mixes.items():
        batches = [texts[i : i + BATCH_POSTS] for i in range(0, len(texts), BATCH_POSTS)]
        screener.screen_batch([ScreeningInput(id="warm", text=texts[0])])
        prepared = [encoder.windows(batch) for batch in batches]
        screener_s, raw_s = [], []
        # Alternate the two sides and keep each side's best round: the other core may be busy.
        for _ in range(ROUNDS):
            started = time.perf_counter()
            for batch in batches:
                screener.screen_batch([ScreeningInput(id=str(i), text=t) for i, t in enumerate(batch)])
            screener_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            for windows in prepared:
                encoder.embed_windows(windows)
            raw_s.append(time.perf_counter() - started)
        screener_rate = len(texts) / min(screener_s)
        raw_rate = len(texts) / min(raw_s)
        median_chars = int(statistics.median(len(t) for t in texts))
        print(f"{name:<26}{screener_rate:>18.1f}{raw_rate:>22.1f}{screener_rate / raw_rate:>8.2f}{median_chars:>16}")

    samples = []
    lone = ScreeningInput(id="one", text="Day 9. Cravings were loud tonight but I went to a meeting instead.")
    for _ in range(args.single):
        started = time.perf_counter()
        screener.screen_batch([lone])
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p50 = samples[len(samples) // 2]
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(f"\nsingle short post latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms ({args.single} samples)")
    print(json.dumps({"single_p50_ms": round(p50, 1), "single_p99_ms": round(p99, 1)}))
    return 0
