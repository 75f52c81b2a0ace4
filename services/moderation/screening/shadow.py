"""Shadow screening: a candidate model screens live posts beside the live one and changes nothing.

`haven screener shadow` runs a consumer of posts.submitted in a consumer group of its own (named
after the candidate's version, so it never takes posts from the real worker), screens each post
with the live screener (HAVEN_SCREENER_MODEL or the shipped model) and with the candidate
(HAVEN_SHADOW_SCREENER, a model folder), and records where the two verdicts disagree in the
moderation database (`shadow_disagreements`): post id, revision, both verdicts' risk, action,
categories and model version. Never the text. It emits no event, so nothing a member or a
moderator sees changes. `haven screener report` sums the disagreements up by level and category.

Promotion is a configuration change: point HAVEN_SCREENER_MODEL at the candidate's folder and
restart the worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.moderation.screening.screener import ScreenBatch, ScreeningInput
from streams.events import PostSubmitted, Verdict

log = logging.getLogger(__name__)

SHADOW_ENV = "HAVEN_SHADOW_SCREENER"
COLLECTION = "shadow_disagreements"
CONSUMER_NAME = "moderation-shadow"


def _side(verdict: Verdict) -> dict[str, Any]:
    return {
        "risk": verdict.risk,
        "action": verdict.action,
        "categories": sorted(verdict.categories),
        "model_version": verdict.model_version,
    }


def disagreement(post: PostSubmitted, live: Verdict, candidate: Verdict) -> dict[str, Any] | None:
    """The record of where two verdicts on one post differ (risk, action, categories), or None."""
    differs = [
        field
        for field, a, b in (
            ("risk", live.risk, candidate.risk),
            ("action", live.action, candidate.action),
            ("categories", sorted(live.categories), sorted(candidate.categories)),
        )
        if a != b
    ]
    if not differs:
        return None
    return {
        "_id": f"{post.post_id}:{post.revision}:{candidate.model_version}",
        "post_id": post.post_id,
        "revision": post.revision,
        "board_slug": post.board_slug,
        "differs": differs,
        "live": _side(live),
        "candidate": _side(candidate),
        "at": datetime.now(UTC),
    }


@dataclass
class ShadowFlow:
    """Screen a batch with both screeners and record disagreements; idempotent per post revision."""

    live: ScreenBatch
    candidate: ScreenBatch
    disagreements: Any  # an AsyncCollection (or anything with an async replace_one)

    async def process(self, posts: Sequence[PostSubmitted], executor: Any = None) -> int:
        if not posts:
            return 0
        inputs = [ScreeningInput(id=p.post_id, text=p.body, title=p.title, board_slug=p.board_slug) for p in posts]
        loop = asyncio.get_running_loop()
        live = await loop.run_in_executor(executor, self.live, inputs)
        try:
            candidate = await loop.run_in_executor(executor, self.candidate, inputs)
        except Exception as exc:
            # A broken candidate is a finding about the candidate, not a reason to stop.
            log.error("the shadow candidate failed on a batch of %d posts: %s", len(posts), type(exc).__name__)
            return 0
        recorded = 0
        for post, a, b in zip(posts, live, candidate, strict=True):
            record = disagreement(post, a, b)
            if record is not None:
                await self.disagreements.replace_one({"_id": record["_id"]}, record, upsert=True)
                recorded += 1
        return recorded


def summarize(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Disagreements by (live risk -> candidate risk), by action change, and by category."""
    levels: Counter[str] = Counter()
    actions: Counter[str] = Counter()
    gained: Counter[str] = Counter()
    lost: Counter[str] = Counter()
    versions: Counter[str] = Counter()
    for record in records:
        live, candidate = record["live"], record["candidate"]
        versions[f"{live['model_version']} -> {candidate['model_version']}"] += 1
        if live["risk"] != candidate["risk"]:
            levels[f"{live['risk']} -> {candidate['risk']}"] += 1
        if live["action"] != candidate["action"]:
            actions[f"{live['action']} -> {candidate['action']}"] += 1
        for category in set(candidate["categories"]) - set(live["categories"]):
            gained[category] += 1
        for category in set(live["categories"]) - set(candidate["categories"]):
            lost[category] += 1
    return {
        "disagreements": len(records),
        "versions": dict(versions),
        "by_level": dict(levels.most_common()),
        "by_action": dict(actions.most_common()),
        "categories_only_candidate": dict(gained.most_common()),
        "categories_only_live": dict(lost.most_common()),
    }


async def run_shadow(
    settings: Any, live: ScreenBatch, candidate: ScreenBatch, candidate_version: str, *, start_at: str = "latest"
) -> None:
    """Consume posts.submitted in a group of the candidate's own and record disagreements until stopped.

    A new group starts at the newest posts (`start_at="latest"`): a shadow compares live traffic,
    not the topic's history.
    """
    from concurrent.futures import ThreadPoolExecutor

    from services.common.mongo import create_mongo_client
    from streams.kafka import create_consumer
    from streams.serialization import UndecodableEvent, decode
    from streams.topics import Topics

    topics = Topics(settings.topic_prefix)
    group = f"{settings.topic_prefix}{CONSUMER_NAME}-{candidate_version}"
    consumer = create_consumer(
        settings, [topics.posts_submitted], group_id=group, client_id=CONSUMER_NAME, auto_offset_reset=start_at
    )
    mongo = create_mongo_client(settings)
    flow = ShadowFlow(live, candidate, mongo[settings.database_name("moderation")][COLLECTION])
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shadow")
    await consumer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=32)
            posts = []
            for records in batches.values():
                for record in records:
                    try:
                        posts.append(decode(PostSubmitted, record.value))
                    except UndecodableEvent:
                        continue  # the live worker dead-letters it; the shadow has nothing to compare
            if posts:
                recorded = await flow.process(posts, executor)
                log.info("shadow: %d posts compared, %d disagreements", len(posts), recorded)
            if batches:
                await consumer.commit()
    finally:
        executor.shutdown(wait=False)
        await consumer.stop()
        await mongo.close()
