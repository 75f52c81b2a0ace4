"""The worker's health and metrics port has the same connection cap as every service port: one
client holding it open cannot keep the probes out."""

from __future__ import annotations

import asyncio

from services.common.http_serving import start_site
from services.moderation.worker.health import WorkerMetrics, WorkerState, create_health_app
from streams.settings import Settings
from tools.process_group import free_port


async def _status_of_a_new_connection(port: int) -> tuple[int, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: worker\r\n\r\n")
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 5)
    return int(status_line.split()[1]), writer


async def test_past_its_cap_one_address_gets_a_503_and_a_freed_place_is_given_again() -> None:
    settings = Settings().with_overrides(max_connections_per_address=2)
    state = WorkerState(WorkerMetrics())
    port = free_port()
    runner = await start_site(create_health_app(settings, state, probe=None), "127.0.0.1", port)
    held: list[asyncio.StreamWriter] = []
    try:
        for _ in range(2):
            status, writer = await _status_of_a_new_connection(port)
            assert status == 200
            held.append(writer)
        status, refused = await _status_of_a_new_connection(port)
        assert status == 503
        refused.close()
        held.pop().close()
        await asyncio.sleep(0.2)
        status, writer = await _status_of_a_new_connection(port)
        assert status == 200
        held.append(writer)
    finally:
        for writer in held:
            writer.close()
        await runner.cleanup()
