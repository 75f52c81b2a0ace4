"""Starts the real stack and the services for tests, and talks to them over HTTP."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord
from pymongo.asynchronous.database import AsyncDatabase

from services.common.mongo import create_mongo_client
from streams.kafka import create_consumer
from streams.kafka_security import aiokafka_security
from streams.settings import Settings
from tools.process_group import REPO_ROOT, ServiceProcesses, isolated_settings, start_service_processes

T = TypeVar("T")
URGENT_REALERT_AFTER_S = 6
REQUEST_BODY_TIMEOUT_S = 3


@dataclass
class StackUnderTest:
    settings: Settings


@asynccontextmanager
async def throwaway_database(stack: StackUnderTest, label: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """A database of its own on the stack's server for one test, dropped afterwards."""
    client = create_mongo_client(stack.settings)
    name = f"haven_test_{label}_{uuid.uuid4().hex[:8]}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


async def start_stack() -> StackUnderTest:
    from tools.localstack.stack import ensure_up

    settings = Settings.from_env()
    await ensure_up(settings)
    return StackUnderTest(settings)


class RunningServices(ServiceProcesses):
    """The services of one test run, with shortcuts to their URLs."""

    @property
    def forum(self) -> str:
        return self.url("forum")

    @property
    def moderation(self) -> str:
        return self.url("moderation-api")

    @property
    def notify(self) -> str:
        return self.url("notify")


async def start_services(stack: StackUnderTest, log_dir: Path) -> RunningServices:
    # Urgent items re-alert after seconds rather than minutes, so a test can see it happen.
    settings = isolated_settings(stack.settings, label="test").with_overrides(
        partitions=3, urgent_realert_after_s=URGENT_REALERT_AFTER_S
    )
    # Every test member comes from 127.0.0.1: the per-address identity limit is unit-tested instead.
    # A body trickled a byte a second meets its deadline in seconds, not the default half minute.
    group = await start_service_processes(
        settings,
        log_dir,
        extra_env={"HAVEN_IDENTITIES_PER_HOUR": "100000", "HAVEN_REQUEST_BODY_TIMEOUT_S": str(REQUEST_BODY_TIMEOUT_S)},
    )
    return RunningServices(settings=group.settings, env=group.env, log_dir=group.log_dir, processes=group.processes)


async def eventually(check: Callable[[], Awaitable[T | None]], *, timeout: float = 30.0, interval: float = 0.25) -> T:
    """Poll `check` until it returns something other than None (generous waits, not timing tests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await check()
        if result is not None:
            return result
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


class ForumClient:
    """A thin HTTP client for tests: one anonymous member."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str | None = None) -> None:
        self.session = session
        self.base_url = base_url
        self.token = token
        self.identity: dict[str, Any] = {}

    @classmethod
    async def join(cls, session: aiohttp.ClientSession, base_url: str, **profile: Any) -> ForumClient:
        client = cls(session, base_url)
        status, body = await client.request("POST", "/v1/identities", json=profile)
        assert status == 201, body
        client.token = body["token"]
        client.identity = body
        return client

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        headers = {**self._headers(), **kwargs.pop("headers", {})}
        async with self.session.request(method, f"{self.base_url}{path}", headers=headers, **kwargs) as response:
            if response.content_type.endswith("json"):
                return response.status, await response.json(content_type=None)
            return response.status, await response.text()


class EventStream:
    """Reads Server-Sent Events from an open response in the background."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.events: list[dict[str, Any]] = []
        self.comments = 0
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        event: dict[str, Any] = {}
        async for raw in self.response.content:
            line = raw.decode().rstrip("\n")
            if not line:
                if event:
                    event["received_at"] = time.perf_counter()
                    self.events.append(event)
                event = {}
            elif line.startswith(":"):
                self.comments += 1
            else:
                field, _, value = line.partition(": ")
                event[field] = json.loads(value) if field == "data" else value

    async def wait_for(
        self, kind: str, timeout: float = 30.0, where: Callable[[dict[str, Any]], bool] = lambda data: True
    ) -> dict[str, Any]:
        """The first event of `kind` whose data satisfies `where`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events:
                if event.get("event") == kind and where(event.get("data") or {}):
                    return event
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {kind!r} event within {timeout} s; got {[e.get('event') for e in self.events]}")

    def close(self) -> None:
        self._task.cancel()
        self.response.close()


async def open_event_stream(http: aiohttp.ClientSession, notify_url: str, token: str, **headers: str) -> EventStream:
    response = await http.get(
        f"{notify_url}/v1/stream",
        headers={"Authorization": f"Bearer {token}", **headers},
        timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
    )
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/event-stream")
    return EventStream(response)


def haven(services: RunningServices, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the `haven` command line against this test run's stack and services."""
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=REPO_ROOT,
        env=services.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def unique_name(services: RunningServices, name: str) -> str:
    return f"{name}_{services.settings.topic_prefix.strip('.').replace('-', '_')}"


async def add_moderator(
    http: aiohttp.ClientSession, services: RunningServices, name: str, role: str = "moderator"
) -> ForumClient:
    """A new moderator account (made with the real CLI) and a client holding its token."""
    result = await asyncio.to_thread(haven, services, "moderators", "add", name, "--role", role)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert len(token) >= 43, "the token is alone on the last line"
    return ForumClient(http, services.moderation, token=token)


async def queue_items(moderator: ForumClient, limit: int = 200) -> list[dict[str, Any]] | None:
    """The whole moderation queue, page after page (None when the API refuses)."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
        status, page = await moderator.request("GET", "/v1/mod/queue", params=params)
        if status != 200:
            return None
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def queue_item(moderator: ForumClient, post_id: str) -> dict[str, Any] | None:
    items = await queue_items(moderator)
    return next((item for item in items or [] if item["post_id"] == post_id), None)


async def read_topic(
    services: RunningServices, topic: str, until: Callable[[list[ConsumerRecord]], bool], timeout: float = 45.0
) -> list[ConsumerRecord]:
    """Read a topic from the start until `until(records)` is true (or the time is up)."""
    return await read_topic_of(services.settings, topic, until, timeout)


async def read_topic_of(
    settings: Settings, topic: str, until: Callable[[list[ConsumerRecord]], bool], timeout: float = 45.0
) -> list[ConsumerRecord]:
    """`read_topic` on the broker these settings name."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        **aiokafka_security(settings),
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not until(records):
            batches = await consumer.getmany(timeout_ms=500)
            for batch in batches.values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def topic_records_now(services: RunningServices, topic: str) -> list[ConsumerRecord]:
    """Every record on a topic up to its end as of now, from its start (no group, nothing committed)."""
    consumer = create_consumer(services.settings, [topic], group_id=None, client_id="haven-test-reader")  # type: ignore[arg-type]
    await consumer.start()
    try:
        partitions = list(consumer.assignment())  # without a group: every partition
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                records += batch
        return records
    finally:
        await consumer.stop()


@dataclass(frozen=True)
class RawResponse:
    status: int
    content_type: str
    body: bytes


async def send_raw(base_url: str, request: bytes) -> RawResponse:
    parts = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(request)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status, headers = status_and_headers(head)
    return RawResponse(status, headers.get("content-type", ""), body)


def status_and_headers(head: bytes) -> tuple[int, dict[str, str]]:
    """The status of a response's head, and its headers by lowercase name."""
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value for name, sep, value in (line.partition(": ") for line in header_lines) if sep}
    return int(status_line.split()[1]), headers
