"""`haven bench moderation [--sizes 1000,20000]`: moderator actions as the review history grows.

`review_items` keeps every item ever queued, decided ones included, and `audit` one entry per
action, so both only grow: `haven seed` makes 20,000 decided items for a million posts (every 50th
post went through the queue). An action that reads the whole history instead of the item it
concerns gets slower with every post the forum has ever held, which no test with a dozen items
shows. This bench fills a scratch database per size (`<db prefix>bench_moderation_<size>`, dropped
before and after) with that many decided items and about as many audit entries, written in bulk,
then times each store action on a handful of open items made through the store itself, `--samples`
times after one untimed warm-up, on fresh items where the action uses one up.

Prints the median per action and size, the growth from the smallest size to the largest, then one
JSON line. Needs only the database (no services, no Kafka).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

DEFAULT_SIZES = "1000,20000"
BATCH = 5_000
#: Open items made before timing (the moderators' backlog; the same at every size).
BACKLOG = 10
#: The actions, in the order they are timed and printed.
ACTIONS = (
    "claim",
    "decide",
    "alerted_items(5)",
    "add_report (new post)",
    "add_report (joins)",
    "take_unclaimed_urgent",
    "forget_post",
    "open_items(50)",
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="comma-separated review-history sizes, ascending")
    parser.add_argument("--samples", type=int, default=5, help="timed calls per action and size (median counts)")


def run(args: argparse.Namespace) -> int:
    from tools.benchmarks.scale import parse_sizes

    try:
        sizes = parse_sizes(args.sizes)
    except ValueError as exc:
        print(f"haven bench moderation: {exc}", file=sys.stderr)
        return 2
    medians = asyncio.run(_bench(args.settings, sizes, max(1, args.samples)))
    for line in table_lines(medians, sizes):
        print(line)
    print(result_json(medians, sizes))
    return 0


def database_name(prefix: str, size: int) -> str:
    return f"{prefix}bench_moderation_{size}"


def history_item(i: int, at: datetime) -> dict[str, Any]:
    """A decided review item as `ModerationStore.add_screened` stores a held post, once decided."""
    return {
        "_id": f"post:p{i}:1",
        "post_id": f"p{i}",
        "thread_id": f"t{i // 20}",
        "author_id": f"m{i % 997}",
        "revision": 1,
        "board_slug": "bench",
        "title": None,
        "body": f"Seeded post {i}: a hard week, but still here.",
        "verdict": None,
        "resources": [],
        "reports": [],
        "level_rank": 2,
        "status": "decided",
        "created_at": at,
        "alerted": True,
        "decision": {"decision": "approve", "note": "", "moderator_id": "bench-seed", "at": at},
    }


def audit_entry(i: int, at: datetime) -> dict[str, Any]:
    """The approval of `history_item(i)` as `ModerationStore.audit` writes it."""
    return {
        "_id": f"bench-a{i}",
        "item_id": f"post:p{i}:1",
        "post_id": f"p{i}",
        "moderator_id": "bench-seed",
        "moderator_name": "bench-seed",
        "action": "approve",
        "note": "",
        "at": at,
        "model_version": None,
    }


def history_batches(
    size: int, now: datetime, batch: int = BATCH
) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """(items, audit entries) in batches of `batch`; item i was created `size - i` minutes before `now`."""
    for start in range(0, size, batch):
        numbers = range(start, min(size, start + batch))
        ats = [now - timedelta(minutes=size - i) for i in numbers]
        yield (
            [history_item(i, at) for i, at in zip(numbers, ats, strict=True)],
            [audit_entry(i, at) for i, at in zip(numbers, ats, strict=True)],
        )


def median_ms(seconds: list[float]) -> float:
    return statistics.median(seconds) * 1000


def growth(row: dict[int, float], sizes: list[int]) -> float | None:
    """The median at the largest size over the smallest; None when the smallest is zero."""
    first, last = row[sizes[0]], row[sizes[-1]]
    return last / first if first > 0 else None


def table_lines(medians: dict[str, dict[int, float]], sizes: list[int]) -> list[str]:
    width = max(len(action) for action in medians) + 2 if medians else 10
    ratio_head = f"x {sizes[-1]}/{sizes[0]}"
    lines = [f"{'median ms':<{width}}" + "".join(f"{size:>10}" for size in sizes) + f"{ratio_head:>16}"]
    for action, row in medians.items():
        ratio = growth(row, sizes)
        lines.append(
            f"{action:<{width}}"
            + "".join(f"{row[size]:>10.2f}" for size in sizes)
            + (f"{ratio:>15.1f}x" if ratio is not None else f"{'-':>16}")
        )
    return lines


def result_json(medians: dict[str, dict[int, float]], sizes: list[int]) -> str:
    return json.dumps(
        {
            "bench": "moderation",
            "sizes": sizes,
            "median_ms": {
                action: {str(size): round(ms, 3) for size, ms in row.items()} for action, row in medians.items()
            },
        }
    )


async def _bench(settings: Any, sizes: list[int], samples: int) -> dict[str, dict[int, float]]:
    from services.common.mongo import create_mongo_client

    medians: dict[str, dict[int, float]] = {action: {} for action in ACTIONS}
    client = create_mongo_client(settings)
    try:
        for size in sizes:
            name = database_name(settings.db_prefix, size)
            await client.drop_database(name)
            try:
                started = time.perf_counter()
                figures = await _bench_size(client[name], size, samples)
                print(f"{size} review items: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
            finally:
                await client.drop_database(name)
            for action, ms in figures.items():
                medians[action][size] = ms
    finally:
        await client.close()
    return medians


async def _seed_history(db: Any, size: int) -> None:
    from streams.events import utc_now

    for items, entries in history_batches(size, utc_now()):
        await db["review_items"].insert_many(items, ordered=False)
        await db["audit"].insert_many(entries, ordered=False)


async def _bench_size(db: Any, size: int, samples: int) -> dict[str, float]:
    from services.common.identities import Identity
    from services.moderation.api.store import ModerationStore
    from streams.events import PostReported, PostScreened, Verdict, new_id, utc_now

    store = ModerationStore(db)
    await store.ensure_indexes()
    await _seed_history(db, size)
    # As the moderation API does at start-up: list the items and entries stored before the lists.
    started = time.perf_counter()
    await store.build_audit_trails_once()
    print(f"{size} review items: lists built in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    moderator = Identity(id="bench-mod", kind="moderator", role="moderator", name="bench")

    async def open_item(*, urgent: bool = False, age: timedelta = timedelta(0)) -> str:
        """A held post queued through the store; returns its item id."""
        post_id = f"open-{new_id()}"
        event = PostScreened(
            post_id=post_id,
            thread_id="t-open",
            board_slug="bench",
            author_id="m-open",
            verdict=Verdict(
                id=new_id(), risk="high", action="hold_urgent" if urgent else "hold", model_version="bench"
            ),
            body="Held for a moderator.",
            occurred_at=utc_now() - age,
        )
        await store.add_screened(event)
        return f"post:{post_id}:1"

    async def claimed_item() -> str:
        item_id = await open_item()
        await store.claim(item_id, moderator)
        return item_id

    def report(post_id: str) -> PostReported:
        return PostReported(
            report_id=new_id(),
            post_id=post_id,
            thread_id="t-reported",
            reporter_id="m-reporter",
            author_id="m-open",
            reason="other",
            occurred_at=utc_now(),
        )

    async def reported_post() -> str:
        post_id = f"reported-{new_id()}"
        await store.add_report(report(post_id))
        return post_id

    async def post_of_open_item() -> str:
        return (await open_item()).split(":")[1]

    async def nothing() -> None:
        return None

    for _ in range(BACKLOG):
        await open_item()
    seeded = [f"post:p{i}:1" for i in range(0, size, max(1, size // 5))][:5]
    # action -> (make what one call uses, untimed; the timed call on it)
    plans: dict[str, tuple[Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[Any]]]] = {
        "claim": (open_item, lambda item_id: store.claim(item_id, moderator)),
        "decide": (claimed_item, lambda item_id: store.decide(item_id, moderator, "approve", "")),
        "alerted_items(5)": (nothing, lambda _: store.alerted_items(seeded)),
        "add_report (new post)": (nothing, lambda _: store.add_report(report(f"reported-{new_id()}"))),
        "add_report (joins)": (reported_post, lambda post_id: store.add_report(report(post_id))),
        "take_unclaimed_urgent": (
            lambda: open_item(urgent=True, age=timedelta(minutes=10)),
            lambda _: store.take_unclaimed_urgent(timedelta(minutes=5)),
        ),
        "forget_post": (post_of_open_item, store.forget_post),
        "open_items(50)": (nothing, lambda _: store.open_items(50)),
    }
    figures: dict[str, float] = {}
    for action in ACTIONS:
        prepare, timed = plans[action]
        seconds = []
        for n in range(samples + 1):  # the first call warms up and is not counted
            subject = await prepare()
            started = time.perf_counter()
            await timed(subject)
            if n > 0:
                seconds.append(time.perf_counter() - started)
        figures[action] = median_ms(seconds)
    return figures
