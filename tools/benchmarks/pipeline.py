"""`haven bench pipeline`: N posts at rate R through forum -> Kafka -> worker -> forum.

It starts its own set of services (own topic prefix, databases and ports) on the local stack,
submits replies at a fixed rate, and records for every post when its verdict appeared on
posts.screened and when the forum first served it as published. In the same run it measures
the raw aiokafka produce -> consume round trip and the raw screener throughput, so the figures
can be read against what the parts alone can do.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from streams.settings import Settings

BENIGN_BODIES = (
    "Day {n}. Went to a meeting and actually talked this time.",
    "Cravings were loud tonight but I made tea and called my sponsor instead. Day {n}.",
    "Week {n} without a drink. Sleeping better. Thank you all for being here at 3am.",
    "My sister picked me up from the clinic today. Small things feel big. Day {n}.",
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", "--posts", type=int, default=200, help="posts to submit")
    parser.add_argument("-r", "--rate", type=float, default=20.0, help="posts per second")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the last post")


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_bench(args.settings, args.posts, args.rate, args.timeout))


def _percentiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return (
        f"p50 {pick(0.50):7.1f} ms   p95 {pick(0.95):7.1f} ms   p99 {pick(0.99):7.1f} ms"
        f"   max {ordered[-1] * 1000:7.1f} ms"
    )


async def _bench(base: Settings, count: int, rate: float, timeout: float) -> int:
    import aiohttp

    from tools.localstack.stack import ensure_up
    from tools.process_group import isolated_settings, remove_isolated, start_service_processes

    await ensure_up(base)
    settings = isolated_settings(base, label="bench")
    log_dir = Path(tempfile.mkdtemp(prefix="haven-bench-"))
    print(f"starting services (logs in {log_dir}) ...", flush=True)
    # Every benchmark author comes from 127.0.0.1, so the per-address identity limit is lifted here.
    group = await start_service_processes(settings, log_dir, extra_env={"HAVEN_IDENTITIES_PER_HOUR": str(count + 100)})
    try:
        raw_round_trip = await _raw_kafka_round_trip(settings, samples=100)
        async with aiohttp.ClientSession() as http:
            results = await _drive(http, group.url("forum"), settings, count, rate, timeout)
            to_resources = await _crisis_to_resources(http, group.url("forum"), group.url("notify"), samples=10)
    finally:
        group.stop()
        await remove_isolated(settings)
    raw_screener = _raw_screener_throughput()

    submitted, screened, visible = results["submitted"], results["screened"], results["visible"]
    to_screened = [screened[p] - submitted[p] for p in screened if p in submitted]
    to_visible = [visible[p] - submitted[p] for p in visible if p in submitted]
    elapsed = results["elapsed"]
    print()
    print(f"haven bench pipeline: {count} posts at {rate:g}/s")
    print(f"  submit -> 202        {_percentiles(results['accepted_after'])}")
    print(f"  submit -> screened   {_percentiles(to_screened)}")
    print(f"  submit -> visible    {_percentiles(to_visible)}")
    after_verdict = [visible[p] - screened[p] for p in visible if p in screened]
    print(f"  verdict -> visible   {_percentiles(after_verdict)}")
    print(f"  throughput           {len(visible) / elapsed:7.1f} posts/s visible ({elapsed:.1f} s)")
    actions = results["actions"]
    lost = len([p for p in submitted if p not in screened])
    held = len([p for p in submitted if p in actions and not actions[p].startswith("publish")])
    stuck = len([p for p in submitted if actions.get(p, "").startswith("publish") and p not in visible])
    print(f"  accepted (202)       {len(submitted)} of {count}; refused {results['refused']}")
    print(f"  lost                 {lost}  (accepted, never screened)")
    print(f"  not visible          {stuck}  (screened publish, never announced published)")
    print(f"  unreadable           {results['unreadable']}  (announced published, yet not readable)")
    print(f"  held                 {held}  (benign texts the screener held: false holds)")
    print(f"  duplicated verdicts  {results['duplicates']}")
    print(f"  crisis -> resources on the author's stream  {_percentiles(to_resources)}")
    print(f"  raw Kafka round trip {_percentiles(raw_round_trip)}")
    print(f"  raw screener         {raw_screener:7.1f} posts/s (batch 32, same texts)")
    return 0 if lost == 0 and stuck == 0 and results["unreadable"] == 0 and results["duplicates"] == 0 else 1


async def _drive(http: Any, forum: str, settings: Any, count: int, rate: float, timeout: float) -> dict[str, Any]:
    from aiokafka import AIOKafkaConsumer

    from streams.events import Notification, PostScreened
    from streams.kafka_security import aiokafka_security
    from streams.serialization import decode
    from streams.topics import Topics

    topics = Topics(settings.topic_prefix)
    async with http.post(f"{forum}/v1/identities", json={"country": "GB"}) as response:
        token = (await response.json())["token"]
    headers = {"Authorization": f"Bearer {token}"}
    async with http.post(
        f"{forum}/v1/boards/sober-living/threads",
        headers=headers,
        json={"title": "Benchmark thread", "body": "A thread for the pipeline benchmark."},
    ) as response:
        thread = await response.json()
    while True:
        async with http.get(f"{forum}/v1/posts/{thread['post_id']}", headers=headers) as response:
            if (await response.json()).get("status") == "published":
                break
        await asyncio.sleep(0.1)

    consumer = AIOKafkaConsumer(
        topics.posts_screened,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        auto_offset_reset="latest",
        fetch_max_wait_ms=50,
        **aiokafka_security(settings),
    )
    notices = AIOKafkaConsumer(
        topics.notifications,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        auto_offset_reset="latest",
        fetch_max_wait_ms=50,
        **aiokafka_security(settings),
    )
    for started_consumer in (consumer, notices):
        await started_consumer.start()
        await started_consumer.seek_to_end()
    submitted: dict[str, float] = {}
    screened: dict[str, float] = {}
    visible: dict[str, float] = {}
    seen_events: dict[str, int] = {}
    actions: dict[str, str] = {}
    refused: dict[int, int] = {}

    async def watch_verdicts() -> None:
        async for record in consumer:
            event = decode(PostScreened, record.value)
            seen_events[event.post_id] = seen_events.get(event.post_id, 0) + 1
            screened.setdefault(event.post_id, time.perf_counter())
            actions[event.post_id] = event.verdict.action

    def publishable() -> list[str]:
        return [p for p in screened if actions.get(p, "").startswith("publish")]

    async def watch_published() -> None:
        # The forum announces post.published right after it has stored the status, so this
        # times visibility without the benchmark polling the forum (which would load it).
        async for record in notices:
            notification = decode(Notification, record.value)
            if notification.kind == "post.published" and notification.post_id:
                visible.setdefault(notification.post_id, time.perf_counter())

    # The forum limits each member to 10 posts a minute, so the load rotates across authors.
    authors = []
    for _ in range(max(1, count // 5 + 1)):
        async with http.post(f"{forum}/v1/identities", json={"country": "GB"}) as response:
            if response.status != 201:
                raise SystemExit(f"could not create a benchmark author: {response.status} {await response.text()}")
            authors.append({"Authorization": f"Bearer {(await response.json())['token']}"})

    watchers = [asyncio.create_task(watch_verdicts()), asyncio.create_task(watch_published())]
    started = time.perf_counter()
    interval = 1.0 / rate
    accepted_after: list[float] = []

    async def submit(n: int) -> None:
        body = BENIGN_BODIES[n % len(BENIGN_BODIES)].format(n=n + 1) + f" ({uuid.uuid4().hex[:6]})"
        sent_at = time.perf_counter()
        async with http.post(
            f"{forum}/v1/threads/{thread['thread_id']}/posts",
            headers=authors[n % len(authors)],
            json={"body": body},
        ) as response:
            if response.status == 202:
                submitted[(await response.json())["post_id"]] = sent_at
                accepted_after.append(time.perf_counter() - sent_at)
            else:
                refused[response.status] = refused.get(response.status, 0) + 1

    try:
        # Open loop: each post leaves at its scheduled time whether or not earlier ones were
        # answered, so a slow answer cannot quietly lower the offered rate.
        submissions = []
        for n in range(count):
            target = started + n * interval
            await asyncio.sleep(max(0.0, target - time.perf_counter()))
            submissions.append(asyncio.create_task(submit(n)))
        await asyncio.gather(*submissions)
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if all(p in screened for p in submitted) and all(p in visible for p in publishable()):
                break
            await asyncio.sleep(0.1)
    finally:
        for task in watchers:
            task.cancel()
        await consumer.stop()
        await notices.stop()
    # Then every post announced as published must really be readable by anyone.
    unreadable = 0
    for post_id in visible:
        async with http.get(f"{forum}/v1/posts/{post_id}") as response:
            unreadable += response.status != 200
    elapsed = (max(visible.values()) if visible else time.perf_counter()) - started
    duplicates = sum(n - 1 for n in seen_events.values() if n > 1)
    return {
        "submitted": submitted,
        "screened": screened,
        "visible": visible,
        "elapsed": elapsed,
        "duplicates": duplicates,
        "refused": refused,
        "actions": actions,
        "accepted_after": accepted_after,
        "unreadable": unreadable,
    }


async def _crisis_to_resources(http: Any, forum: str, notify: str, samples: int) -> list[float]:
    """Seconds from submitting a crisis post to the `resources` event on its author's stream."""
    timings = []
    for n in range(samples):
        async with http.post(f"{forum}/v1/identities", json={"country": "GB"}) as response:
            token = (await response.json())["token"]
        headers = {"Authorization": f"Bearer {token}"}
        stream = await http.get(f"{notify}/v1/stream", headers=headers)
        try:
            await stream.content.readline()  # ": connected"
            sent = time.perf_counter()
            async with http.post(
                f"{forum}/v1/boards/relapse-and-recovery/threads",
                headers=headers,
                json={
                    "title": "can't anymore",
                    "body": f"I have my pills counted and I'm going to kill myself tonight ({n})",
                },
            ) as response:
                assert response.status == 202
            async for line in stream.content:
                if line.startswith(b"event: resources"):
                    timings.append(time.perf_counter() - sent)
                    break
        finally:
            stream.close()
    return timings


async def _raw_kafka_round_trip(settings: Any, samples: int) -> list[float]:
    """Produce one record and wait until a consumer sees it, on a throwaway topic."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from streams.kafka import create_producer
    from streams.kafka_security import aiokafka_security

    topic = f"{settings.topic_prefix}bench.roundtrip"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **aiokafka_security(settings))
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    await admin.close()
    producer = create_producer(settings, client_id="bench")
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        auto_offset_reset="latest",
        fetch_max_wait_ms=50,
        **aiokafka_security(settings),
    )
    await producer.start()
    await consumer.start()
    await consumer.seek_to_end()
    timings = []
    try:
        for n in range(samples):
            sent = time.perf_counter()
            await producer.send_and_wait(topic, str(n).encode())
            record = await consumer.getone()
            assert record.value == str(n).encode()
            timings.append(time.perf_counter() - sent)
    finally:
        await consumer.stop()
        await producer.stop()
    return timings


def _raw_screener_throughput() -> float:
    from services.moderation.screening import Screener, ScreeningInput

    screener = Screener.load(threads=2)
    texts = [BENIGN_BODIES[n % len(BENIGN_BODIES)].format(n=n) for n in range(128)]
    items = [ScreeningInput(id=str(n), text=t) for n, t in enumerate(texts)]
    screener.screen_batch(items[:32])
    started = time.perf_counter()
    for offset in range(0, len(items), 32):
        screener.screen_batch(items[offset : offset + 32])
    return len(items) / (time.perf_counter() - started)
