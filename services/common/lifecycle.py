"""Async lifecycles shared by the services' app factories (aiohttp cleanup contexts)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def background_task(name: str, run: Callable[[], Awaitable[None]]) -> AsyncIterator[asyncio.Task[None]]:
    """Run `run` for the lifetime of the context; a crash is logged and the task restarted."""

    async def supervise() -> None:
        while True:
            try:
                await run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s crashed; restarting in 1 s", name)
                await asyncio.sleep(1)

    task = asyncio.create_task(supervise(), name=name)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
