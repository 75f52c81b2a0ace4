"""Starts the real stack and the services for tests, and talks to them over HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from services.process_group import ServiceProcesses, isolated_settings, start_service_processes
from streams.settings import Settings

T = TypeVar("T")


@dataclass
class StackUnderTest:
    settings: Settings


async def start_stack() -> StackUnderTest:
    from services.localstack.stack import ensure_up

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
    settings = isolated_settings(stack.settings, label="test").with_overrides(partitions=3)
    # Every test member comes from 127.0.0.1: the per-address identity limit is unit-tested instead.
    group = await start_service_processes(settings, log_dir, extra_env={"HAVEN_IDENTITIES_PER_HOUR": "100000"})
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
