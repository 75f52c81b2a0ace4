"""A stream whose client stopped reading ends instead of holding its slot until TCP gives up."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from aiohttp import web

from services.notify.views import StoppedReading, send


class StuckResponse:
    """A response whose socket buffer is full: every write waits for a reader that never comes."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    async def write(self, data: bytes) -> None:
        await asyncio.Event().wait()


class ReadingResponse(StuckResponse):
    async def write(self, data: bytes) -> None:
        self.written.append(data)


async def test_a_write_the_client_never_takes_gives_up_after_the_timeout() -> None:
    started = asyncio.get_running_loop().time()
    with pytest.raises(StoppedReading):
        await send(cast(web.StreamResponse, StuckResponse()), b": heartbeat\n\n", timeout_s=0.05)
    assert asyncio.get_running_loop().time() - started < 1


async def test_a_client_that_reads_gets_every_frame() -> None:
    response: Any = ReadingResponse()
    for frame in (b"id: 1\n\n", b"id: 2\n\n"):
        await send(response, frame, timeout_s=0.05)
    assert response.written == [b"id: 1\n\n", b"id: 2\n\n"]
