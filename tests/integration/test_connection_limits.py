"""A client holding many connections open cannot take a service from everyone else: past its cap
a new connection gets a 503 at once, the ones it holds keep working, and a closed one frees a place."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.harness import StackUnderTest, eventually
from tools.process_group import isolated_settings, start_service_processes

pytestmark = pytest.mark.integration

CAP = 4

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest.fixture
async def capped_forum(stack: StackUnderTest, tmp_path: Path) -> AsyncIterator[str]:
    """A forum of its own that lets one address hold CAP connections."""
    settings = isolated_settings(stack.settings, label="conncap")
    group = await start_service_processes(
        settings,
        tmp_path / "logs",
        names=("forum",),
        extra_env={"HAVEN_MAX_CONNECTIONS_PER_ADDRESS": str(CAP)},
    )
    try:
        yield group.url("forum")
    finally:
        group.stop()


async def _connect(url: str) -> Connection:
    parts = urlsplit(url)
    return await asyncio.open_connection(parts.hostname, parts.port)


async def _get(connection: Connection, path: str) -> tuple[int, bytes]:
    """One keep-alive GET on an open connection: its status and body."""
    reader, writer = connection
    writer.write(f"GET {path} HTTP/1.1\r\nHost: haven\r\n\r\n".encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value for name, _, value in (line.partition(": ") for line in lines[1:] if line)}
    body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 10)
    return int(lines[0].split()[1]), body


def _close(connection: Connection) -> None:
    connection[1].close()


async def _a_new_connection_is_served(url: str) -> bool | None:
    connection = await _connect(url)
    try:
        status, _ = await _get(connection, "/healthz")
    except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
        return None
    finally:
        _close(connection)
    return True if status == 200 else None


async def test_one_address_past_its_connection_cap_is_refused_at_once_and_what_it_holds_keeps_working(
    capped_forum: str,
) -> None:
    held = [await _connect(capped_forum) for _ in range(CAP)]
    try:
        for connection in held:
            assert (await _get(connection, "/healthz"))[0] == 200

        reader, writer = await _connect(capped_forum)
        answer = await asyncio.wait_for(reader.read(), 5)  # everything until the server closes it
        writer.close()
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503")
        assert b"Content-Type: application/problem+json" in head and b"Retry-After: 5" in head
        assert b"Connection: close" in head
        problem = json.loads(body)
        assert problem["status"] == 503 and "connections" in problem["detail"]

        status, metrics = await _get(held[0], "/metrics")
        assert status == 200
        assert b'haven_http_connections_refused_total{reason="address",service="forum"} 1.0' in metrics

        _close(held.pop())
        assert await eventually(lambda: _a_new_connection_is_served(capped_forum), timeout=10)
    finally:
        for connection in held:
            _close(connection)
