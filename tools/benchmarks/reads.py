"""`haven bench reads`: thread pages and board pages against an aiohttp hello-world, in one run.

It starts a forum of its own (own database and topics) on the local stack, seeds one thread with
50 published posts and a board with 50 published threads directly in the database, then loads
each URL with a fixed number of concurrent clients for a fixed time, on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from streams.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=5.0, help="load time per URL")
    parser.add_argument("--concurrency", type=int, default=16)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_bench(args.settings, args.seconds, args.concurrency))


async def _load(url: str, seconds: float, concurrency: int) -> tuple[float, float, int]:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with session.get(url) as response:
                await response.read()
                if response.status != 200:
                    errors += 1
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return len(latencies) / elapsed, latencies[int(len(latencies) * 0.99)] * 1000, errors


async def _hello_world(port: int) -> Any:
    from aiohttp import web

    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"hello": "world"})

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def _seed(settings: Any) -> tuple[str, str]:
    from datetime import timedelta

    from services.common.mongo import create_mongo_client
    from streams.events import new_id, utc_now

    client = create_mongo_client(settings)
    db = client[settings.database_name("forum")]
    now = utc_now()
    thread_id = new_id()
    threads = [
        {
            "_id": thread_id if n == 0 else new_id(),
            "board_slug": "milestones",
            "title": f"Milestone thread {n}",
            "author_id": "bench",
            "status": "published",
            "created_at": now,
            "last_activity_at": now - timedelta(seconds=n),
        }
        for n in range(50)
    ]
    posts: list[dict[str, Any]] = [
        {
            "_id": new_id(),
            "thread_id": thread_id,
            "board_slug": "milestones",
            "author_id": "bench",
            "author_handle": "BenchHarbor100",
            "body": f"Day {n}: still here, still sober. " * 8,
            "status": "published",
            "revision": 1,
            "is_thread_start": n == 0,
            "reply_to": None,
            "created_at": now,
            "published_at": now + timedelta(milliseconds=n),
            "reactions": {"hug": n, "strength": 0, "me_too": 1},
            "resources": [],
        }
        for n in range(50)
    ]
    await db["threads"].insert_many(threads)
    await db["posts"].insert_many(posts)
    await client.close()
    return thread_id, "milestones"


async def _bench(base: Settings, seconds: float, concurrency: int) -> int:
    from tools.localstack.stack import ensure_up
    from tools.process_group import free_port, isolated_settings, start_service_processes

    await ensure_up(base)
    settings = isolated_settings(base, label="reads")
    group = await start_service_processes(settings, Path(tempfile.mkdtemp(prefix="haven-reads-")), names=("forum",))
    hello_port = free_port()
    hello = await _hello_world(hello_port)
    try:
        thread_id, board = await _seed(settings)
        forum = group.url("forum")
        targets = {
            "aiohttp hello world (baseline)": f"http://127.0.0.1:{hello_port}/",
            "thread page (50 posts)": f"{forum}/v1/threads/{thread_id}",
            "board page (50 threads)": f"{forum}/v1/boards/{board}/threads",
        }
        print(f"haven bench reads: {concurrency} concurrent clients, {seconds:g} s per URL, 127.0.0.1\n")
        print(f"{'page':<34}{'requests/s':>12}{'p99 ms':>10}{'errors':>8}")
        for name, url in targets.items():
            rate, p99, errors = await _load(url, seconds, concurrency)
            print(f"{name:<34}{rate:>12.0f}{p99:>10.1f}{errors:>8}")
    finally:
        await hello.cleanup()
        group.stop()
    return 0
