"""`haven bench faults`: break one part at a time under load and count what happened.

Each fault runs on a Haven of its own (its own broker, databases and services; see
tools/faults.py), so nothing else on the machine is disturbed. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path

from streams.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--posts", type=int, default=120, help="posts per load scenario")
    parser.add_argument("--broker-down-s", type=float, default=30.0)
    parser.add_argument("--db-paused-s", type=float, default=100.0)
    parser.add_argument("--db-killed-s", type=float, default=60.0)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_bench(args.settings, args.posts, args.broker_down_s, args.db_paused_s, args.db_killed_s))


async def _bench(base: Settings, posts: int, broker_down_s: float, db_paused_s: float, db_killed_s: float) -> int:
    import aiohttp

    from tools.faults import (
        TABLE_HEADER,
        FaultRig,
        broker_stopped,
        databases_killed,
        databases_paused,
        moderation_db_paused,
        resources_while_databases_gone,
        rolling_restart,
        verdicts_replayed,
        worker_killed_mid_batch,
    )
    from tools.localstack.stack import ensure_up

    await ensure_up(base)  # prepares the binaries the rig's own broker and databases run from
    work_dir = Path(tempfile.mkdtemp(prefix="haven-faults-"))
    print(f"starting a Haven of its own (logs in {work_dir / 'logs'}) ...", flush=True)
    rig = await FaultRig.start(base, work_dir)
    try:
        async with aiohttp.ClientSession() as http:
            results = [await worker_killed_mid_batch(rig, http, posts=posts, rate=10.0)]
            results.append(await rolling_restart(rig, http, posts=posts // 2, rate=4.0))
            results.append(await broker_stopped(rig, http, posts=posts // 2, rate=1.0, down_s=broker_down_s))
            token = rig.add_moderator("bench_faults")
            results.append(await moderation_db_paused(rig, http, token, paused_s=db_paused_s))
            results.append(await databases_paused(rig, http, token, paused_s=90))
            results.append(await databases_killed(rig, http, token, posts=posts, rate=2.0, down_s=db_killed_s))
            results.append(await resources_while_databases_gone(rig, http, down_s=db_killed_s))
            # Last: it replays every verdict the scenarios before it produced.
            results.append(await verdicts_replayed(rig, http, token))
    finally:
        rig.stop()
    print(TABLE_HEADER)
    for result in results:
        print(result.row())
    for result in results:
        if result.refused_by:
            print(
                f"  {result.fault}: refused {result.refused_by},"
                f" {result.refused_with_crisis_lines} of them with crisis lines,"
                f" {result.refused_with_own_country_lines} with the member's own country's"
            )
        if result.notes:
            print(f"  {result.fault}: {result.notes}")
    print(json.dumps({"bench": "faults", "results": [r.as_dict() for r in results]}))
    return 0 if all(r.lost == 0 and r.duplicated == 0 for r in results) else 1
