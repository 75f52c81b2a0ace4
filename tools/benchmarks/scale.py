"""`haven bench scale [--sizes 1000,10000,100000,1000000]`: do reads and publishing slow down as the forum grows?

It starts its own set of services (own topic prefix, databases and ports, like `haven bench
pipeline`), then for each size in turn seeds the forum up to that many published posts (`haven
seed`, into the benchmark's own databases) and times through the public HTTP API:

- a thread page (`GET /v1/threads/{id}`, a seeded thread), a board page
  (`GET /v1/boards/{slug}/threads`; every seeded thread goes to that one board, so its first page
  is full, 50 threads, at every size, and the figures compare the same page; spread over eleven
  boards, a 1,000-post forum has five threads a board), the reader's inbox page (`GET /v1/notifications`, a member
  who received a share of the seeded notifications) and the moderation queue (`GET /v1/mod/queue`),
  one request at a time;
- submit -> visible for replies submitted at 5 posts/s (open loop), timed by the forum's own
  `post.published` notices.

Prints a table, then one JSON line with every figure (last line of the output). The benchmark's
databases and topics are removed at the end (a million posts is about 4 GB of SQLite files)
unless `--keep` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from streams.settings import Settings

DEFAULT_SIZES = "1000,10000,100000"


@dataclass
class SizeFigures:
    posts: int
    seed_s: float
    thread_page_p50_ms: float
    board_page_p50_ms: float
    #: Threads on the timed board page (a full page is 50).
    board_page_threads: int
    inbox_page_p50_ms: float
    queue_page_p50_ms: float
    submit_to_visible_p50_ms: float
    submit_to_visible_p99_ms: float
    #: The forum's own share: from the verdict on posts.screened to the post.published notice.
    verdict_to_visible_p50_ms: float
    visible: int
    submitted: int


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="comma-separated post counts, ascending")
    parser.add_argument("--samples", type=int, default=20, help="requests timed per page and size")
    parser.add_argument("--submit", type=int, default=25, help="replies submitted per size (at --rate)")
    parser.add_argument("--rate", type=float, default=5.0, help="replies per second")
    parser.add_argument("--keep", action="store_true", help="keep the seeded databases and topics")


def parse_sizes(raw: str) -> list[int]:
    try:
        sizes = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError as exc:
        raise ValueError("--sizes must be comma-separated whole numbers") from exc
    if not sizes or any(s < 1 for s in sizes) or sizes != sorted(set(sizes)):
        raise ValueError("--sizes must be positive and ascending")
    return sizes


def run(args: argparse.Namespace) -> int:
    try:
        sizes = parse_sizes(args.sizes)
    except ValueError as exc:
        print(f"haven bench scale: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_bench(args.settings, sizes, args.samples, args.submit, args.rate, keep=args.keep))


async def _timed_gets(http: Any, url: str, headers: dict[str, str], samples: int) -> float:
    """p50 in ms of `samples` sequential GETs (after two untimed ones); a non-200 answer stops the bench."""
    timings = []
    for n in range(samples + 2):
        started = time.perf_counter()
        async with http.get(url, headers=headers) as response:
            await response.read()
            if response.status != 200:
                raise SystemExit(f"GET {url.split('/v1/')[-1]} answered {response.status}")
        if n >= 2:
            timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


async def _wait_ok(http: Any, url: str, headers: dict[str, str], timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    while True:
        async with http.get(url, headers=headers) as response:
            if response.status == 200:
                return
            if time.perf_counter() > deadline:
                raise SystemExit(f"GET {url.split('/v1/')[-1]} still answers {response.status}")
        await asyncio.sleep(0.2)


async def _moderator_token(settings: Any) -> str:
    from services.moderation.api.moderators_cli import open_moderators

    async with open_moderators(settings, client_id="bench-scale") as moderators:
        return (await moderators.add("bench-scale", "moderator")).token


def _p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _bench(
    base: Settings, sizes: list[int], samples: int, submit: int, rate: float, *, keep: bool = False
) -> int:
    import aiohttp

    from services.forum.boards import SEEDED_BOARDS
    from tools.benchmarks.pipeline import _drive
    from tools.localstack.stack import ensure_up
    from tools.process_group import isolated_settings, remove_isolated, start_service_processes
    from tools.seed import SeedPlan, seed

    await ensure_up(base)
    settings = isolated_settings(base, label="scale")
    log_dir = Path(tempfile.mkdtemp(prefix="haven-scale-"))
    print(f"starting services (logs in {log_dir}, databases {settings.db_prefix}*) ...", file=sys.stderr, flush=True)
    authors_needed = (submit // 5 + 2) * len(sizes) + 10
    group = await start_service_processes(
        settings, log_dir, extra_env={"HAVEN_IDENTITIES_PER_HOUR": str(authors_needed + 100)}
    )
    timed_board = SEEDED_BOARDS[0].slug
    figures: list[SizeFigures] = []
    try:
        async with aiohttp.ClientSession() as http:
            forum, notify, moderation = group.url("forum"), group.url("notify"), group.url("moderation")
            async with http.post(f"{forum}/v1/identities", json={"country": "GB"}) as response:
                reader = await response.json()
            reader_headers = {"Authorization": f"Bearer {reader['token']}"}
            moderator_headers = {"Authorization": f"Bearer {await _moderator_token(settings)}"}
            seeded = 0
            for size in sizes:
                started = time.perf_counter()
                if size > seeded:
                    print(f"seeding up to {size} posts ...", file=sys.stderr, flush=True)
                    plan = SeedPlan.of(size - seeded, None, None, (timed_board,), focus_member_id=reader["id"])
                    seeded = await seed(settings, plan)
                seed_s = time.perf_counter() - started
                thread = f"{forum}/v1/threads/{await _a_seeded_thread(settings)}"
                board = f"{forum}/v1/boards/{timed_board}/threads"
                inbox = f"{notify}/v1/notifications"
                queue = f"{moderation}/v1/mod/queue"
                await _wait_ok(http, inbox, reader_headers)
                await _wait_ok(http, queue, moderator_headers)
                async with http.get(board) as response:
                    board_page_threads = len((await response.json())["items"])
                reads = [
                    await _timed_gets(http, url, headers, samples)
                    for url, headers in ((thread, {}), (board, {}), (inbox, reader_headers), (queue, moderator_headers))
                ]
                results = await _drive(http, forum, settings, submit, rate, timeout=120.0)
                to_visible = [
                    results["visible"][p] - results["submitted"][p]
                    for p in results["visible"]
                    if p in results["submitted"]
                ]
                after_verdict = [
                    results["visible"][p] - results["screened"][p]
                    for p in results["visible"]
                    if p in results["screened"]
                ]
                figures.append(
                    SizeFigures(
                        posts=seeded,
                        seed_s=round(seed_s, 1),
                        thread_page_p50_ms=round(reads[0], 1),
                        board_page_p50_ms=round(reads[1], 1),
                        board_page_threads=board_page_threads,
                        inbox_page_p50_ms=round(reads[2], 1),
                        queue_page_p50_ms=round(reads[3], 1),
                        submit_to_visible_p50_ms=round(_p(to_visible, 0.5), 1),
                        submit_to_visible_p99_ms=round(_p(to_visible, 0.99), 1),
                        verdict_to_visible_p50_ms=round(_p(after_verdict, 0.5), 1),
                        visible=len(to_visible),
                        submitted=len(results["submitted"]),
                    )
                )
                _print_row(figures[-1], header=len(figures) == 1)
    finally:
        group.stop()
        if not keep:
            await remove_isolated(settings)
    print(json.dumps({"bench": "scale", "rate": rate, "samples": samples, "sizes": [asdict(f) for f in figures]}))
    return 0


async def _a_seeded_thread(settings: Any) -> str:
    """A seeded thread of the first board (one with a full first page)."""
    from services.common.mongo import create_mongo_client

    client = create_mongo_client(settings)
    try:
        thread = await client[settings.database_name("forum")]["threads"].find_one(
            {"_id": {"$regex": "^seed-"}}, {"_id": 1}
        )
        if thread is None:
            raise SystemExit("no seeded thread found")
        return str(thread["_id"])
    finally:
        await client.close()


def _print_row(f: SizeFigures, *, header: bool) -> None:
    if header:
        print(
            f"{'posts':>9} {'seed s':>7} {'thread ms':>10} {'board ms (threads)':>19} {'inbox ms':>9} {'queue ms':>9}"
            f" {'submit->visible p50/p99 ms':>27} {'verdict->visible p50 ms':>24}"
        )
    print(
        f"{f.posts:>9} {f.seed_s:>7.1f} {f.thread_page_p50_ms:>10.1f}"
        f" {f.board_page_p50_ms:>13.1f} ({f.board_page_threads:>3})"
        f" {f.inbox_page_p50_ms:>9.1f} {f.queue_page_p50_ms:>9.1f}"
        f" {f.submit_to_visible_p50_ms:>13.1f} / {f.submit_to_visible_p99_ms:<8.1f}"
        f" {f.verdict_to_visible_p50_ms:>15.1f}  ({f.visible}/{f.submitted} visible)",
        flush=True,
    )
