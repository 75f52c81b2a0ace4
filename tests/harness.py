"""Starts the real stack and the services for tests, and talks to them over HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from streams.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVICE_START_TIMEOUT_S = 180
T = TypeVar("T")


@dataclass
class StackUnderTest:
    settings: Settings


async def start_stack() -> StackUnderTest:
    from services.localstack.stack import ensure_up

    settings = Settings.from_env()
    await ensure_up(settings)
    return StackUnderTest(settings)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServices:
    settings: Settings
    env: dict[str, str]
    log_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def forum(self) -> str:
        return f"http://127.0.0.1:{self.settings.forum_port}"

    @property
    def moderation(self) -> str:
        return f"http://127.0.0.1:{self.settings.moderation_port}"

    @property
    def notify(self) -> str:
        return f"http://127.0.0.1:{self.settings.notify_port}"

    def log_text(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in sorted(self.log_dir.glob("*.log")))

    def start(self, name: str) -> None:
        log_file = (self.log_dir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", name],
            cwd=REPO_ROOT, env=self.env, stdout=log_file, stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-4000:]
                raise RuntimeError(f"service {name} exited with {process.returncode}:\n{tail}")


async def start_services(stack: StackUnderTest, log_dir: Path) -> RunningServices:
    run_id = uuid.uuid4().hex[:10]
    settings = stack.settings.with_overrides(
        topic_prefix=f"test-{run_id}.",
        db_prefix=f"test_{run_id}_",
        forum_port=_free_port(),
        moderation_port=_free_port(),
        notify_port=_free_port(),
        partitions=3,
    )
    env = dict(os.environ)
    env.update(
        {
            "HAVEN_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "HAVEN_MONGO_URI": settings.mongo_uri,
            "HAVEN_TOPIC_PREFIX": settings.topic_prefix,
            "HAVEN_DB_PREFIX": settings.db_prefix,
            "HAVEN_FORUM_PORT": str(settings.forum_port),
            "HAVEN_MODERATION_PORT": str(settings.moderation_port),
            "HAVEN_NOTIFY_PORT": str(settings.notify_port),
            "HAVEN_PARTITIONS": str(settings.partitions),
            "HAVEN_LOG_LEVEL": "INFO",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
        }
    )
    running = RunningServices(settings=settings, env=env, log_dir=log_dir)
    for name in ("forum", "moderation-api", "notify", "moderation-worker"):
        running.start(name)
    try:
        for url in (running.forum, running.moderation, running.notify):
            await _wait_ready(running, url)
    except BaseException:
        running.stop()
        raise
    return running


async def _wait_ready(running: RunningServices, base_url: str) -> None:
    deadline = time.monotonic() + SERVICE_START_TIMEOUT_S
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            running.check_alive()
            try:
                async with session.get(f"{base_url}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
    raise TimeoutError(f"{base_url} was not ready within {SERVICE_START_TIMEOUT_S} s")


async def eventually(check: Callable[[], Awaitable[T | None]], *, timeout: float = 30.0, interval: float = 0.25) -> T:
    """Poll `check` until it returns something other than None (generous waits, not timing tests)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last is not None:
            return last
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
