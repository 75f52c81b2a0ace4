"""/readyz: a service that still serves without a dependency stays in rotation, says what fails,
and answers within the kubelet's probe timeout even when a dependency hangs."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from services.common.health import CHECK_TIMEOUT_S, probe_readiness, setup_health

Client = TestClient[web.Request, web.Application]


async def database_gone() -> str | None:
    return "database unreachable (AutoReconnect)"


async def database_frozen() -> str | None:
    await asyncio.sleep(60)
    return None


async def broker_fine() -> str | None:
    return None


async def serving(serves_degraded: bool, **checks: object) -> Client:
    registry = CollectorRegistry()
    app = web.Application()
    setup_health(app, registry, serves_degraded=serves_degraded).update(checks)  # type: ignore[arg-type]
    client: Client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def clients() -> AsyncIterator[list[Client]]:
    started: list[Client] = []
    yield started
    for client in started:
        await client.close()


async def test_a_service_that_serves_degraded_stays_ready_and_names_the_failing_check(clients: list[Client]) -> None:
    client = await serving(True, database=database_gone, kafka=broker_fine)
    clients.append(client)
    response = await client.get("/readyz")
    assert response.status == 200, "every replica shares the database: failing would take them all out"
    body = await response.json()
    assert body["status"] == "degraded"
    assert body["failing"] == {"database": "database unreachable (AutoReconnect)"}
    metrics = await (await client.get("/metrics")).text()
    assert 'haven_readiness_failing{check="database"} 1.0' in metrics
    assert 'haven_readiness_failing{check="kafka"} 0.0' in metrics


async def test_a_service_without_a_degraded_mode_is_unready_while_a_check_fails(clients: list[Client]) -> None:
    client = await serving(False, kafka=database_gone)
    clients.append(client)
    response = await client.get("/readyz")
    assert response.status == 503
    assert (await response.json())["status"] == "unavailable"


async def test_a_hanging_check_is_answered_within_the_probe_timeout(clients: list[Client]) -> None:
    client = await serving(True, database=database_frozen, kafka=broker_fine)
    clients.append(client)
    started = asyncio.get_running_loop().time()
    body = await (await client.get("/readyz")).json()
    assert asyncio.get_running_loop().time() - started < 1.0, "the kubelet gives up after 1 s"
    assert body["failing"] == {"database": f"no answer within {CHECK_TIMEOUT_S} s"}


async def test_all_checks_passing_is_ready(clients: list[Client]) -> None:
    client = await serving(True, kafka=broker_fine)
    clients.append(client)
    response = await client.get("/readyz")
    assert response.status == 200 and (await response.json())["status"] == "ready"


class _Readyz(BaseHTTPRequestHandler):
    status, body = 200, b""

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def answering() -> Iterator[type[_Readyz]]:
    handler = type("Answering", (_Readyz,), {})
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    handler.url = f"http://127.0.0.1:{server.server_port}"  # type: ignore[attr-defined]
    yield handler
    server.shutdown()


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, b'{"status": "ready", "checks": ["database"]}', (True, "ready")),
        (
            200,
            b'{"status": "degraded", "failing": {"database": "unreachable"}}',
            (False, "degraded (still serving): database (unreachable)"),
        ),
        (503, b'{"status": "unavailable", "failing": {"kafka": "down"}}', (False, "not ready: kafka (down)")),
        (503, b"not json", (False, "not ready")),
    ],
)
def test_haven_status_tells_degraded_from_ready(
    answering: type[_Readyz], status: int, body: bytes, expected: tuple[bool, str]
) -> None:
    answering.status, answering.body = status, body
    assert probe_readiness(answering.url) == expected  # type: ignore[attr-defined]
