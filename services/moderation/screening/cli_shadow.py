"""`haven screener shadow` and `haven screener report`: a candidate screener beside the live one.

shadow: HAVEN_SHADOW_SCREENER=<model folder> names the candidate; the live model is
HAVEN_SCREENER_MODEL (or the shipped one). Records disagreements, emits nothing.
report: disagreements by level, action and category, as JSON on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streams.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("shadow", "report"))
    parser.add_argument(
        "--candidate", type=Path, default=None, help="candidate model folder (default: $HAVEN_SHADOW_SCREENER)"
    )
    parser.add_argument("--since-hours", type=float, default=None, help="report: only disagreements this recent")


def run(args: argparse.Namespace) -> int:
    settings = args.settings
    if args.action == "report":
        return asyncio.run(_report(settings, args.since_hours))
    return _shadow(settings, args.candidate)


def _shadow(settings: Settings, candidate_arg: Path | None) -> int:
    from services.moderation.screening import Screener, ScreenerLoadError
    from services.moderation.screening.policy import Policy
    from services.moderation.screening.shadow import SHADOW_ENV, run_shadow

    candidate_dir = candidate_arg or settings.shadow_screener
    if candidate_dir is None:
        print(f"haven screener shadow: set {SHADOW_ENV} to the candidate's model folder", file=sys.stderr)
        return 2
    policy = Policy.from_settings(settings)
    try:
        precision = settings.screener_precision
        live = Screener.load(settings.screener_model, threads=1, policy=policy, precision=precision)
        candidate = Screener.load(candidate_dir, threads=1, policy=policy, precision=precision)
    except ScreenerLoadError as exc:
        print(f"haven screener shadow: {exc}", file=sys.stderr)
        return 1
    print(f"shadow: live {live.model_version}, candidate {candidate.model_version}", file=sys.stderr)
    try:
        asyncio.run(run_shadow(settings, live.screen_batch, candidate.screen_batch, candidate.model_version))
    except KeyboardInterrupt:
        pass
    return 0


async def _report(settings: Settings, since_hours: float | None) -> int:
    from datetime import UTC, datetime, timedelta

    from services.common.mongo import create_mongo_client
    from services.moderation.screening.shadow import COLLECTION, summarize

    mongo = create_mongo_client(settings)
    try:
        query = {}
        if since_hours is not None:
            query = {"at": {"$gte": datetime.now(UTC) - timedelta(hours=since_hours)}}
        projection = {"live": 1, "candidate": 1, "_id": 0}
        records = await mongo[settings.database_name("moderation")][COLLECTION].find(query, projection).to_list(None)
    finally:
        await mongo.close()
    print(json.dumps(summarize(records), indent=2))
    return 0
