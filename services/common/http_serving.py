"""Serving an aiohttp application so that even requests that are not valid HTTP get a problem.

aiohttp answers a request it cannot parse (a request line or header over 8,190 bytes, bytes that
are not HTTP, a body in a Content-Encoding it cannot decode) before any middleware runs: a
text/plain answer that quotes aiohttp's own message ("Please install `Brotli`"), and an ERROR
log line naming the client's address, with a traceback that quotes the first hundred bytes of the
offending line, which may be a bearer token or a post's text. There is no hook for it (aiohttp
issue 3287), so each connection here is served by a request handler whose error answer is a
problem+json with a fixed detail, and whose log line names the kind of error only.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import signal
from typing import Any, cast

from aiohttp import http_exceptions, web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_server import Server
from prometheus_client import CollectorRegistry

from services.common.connection_limits import ConnectionCounts, Reason, Refused, descriptor_bound
from services.common.metrics import http_metrics_middleware
from services.common.problems import FAULT_DETAIL, PROBLEM_JSON, body_timeout_key, problem_middleware, problem_response
from services.common.tracing import tracing_middleware
from streams.settings import Settings

log = logging.getLogger(__name__)

#: Request bodies above this are refused before they are read, on every service.
MAX_REQUEST_BYTES = 64 * 1024
#: aiohttp's own limit on the request line and on each header line, in bytes.
MAX_LINE_BYTES = 8190
#: How long an idle keep-alive connection stays open (aiohttp's run_app default; its connection
#: handler's own default is an hour, which lets idle connections pile up).
KEEPALIVE_TIMEOUT_S = 75.0

#: The details a malformed request gets, by the kind of error, most specific kind first.
_DETAILS: tuple[tuple[type[Exception], int, str], ...] = (
    (
        http_exceptions.LineTooLong,
        400,
        f"The request line or a header is longer than {MAX_LINE_BYTES:,} bytes.",
    ),
    (
        http_exceptions.ContentEncodingError,
        415,
        "The body could not be decoded: send it uncompressed, or with Content-Encoding gzip or deflate.",
    ),
    (http_exceptions.DecompressSizeError, 413, "The body is too large once decompressed."),
    (http_exceptions.BadStatusLine, 400, "This is not an HTTP request this server can read."),
    (http_exceptions.InvalidHeader, 400, "A header of this request is not valid HTTP."),
    (http_exceptions.BadHttpMessage, 400, "This request is not valid HTTP."),
)


#: The connection counts a site's connections are admitted by (services/common/connection_limits.py).
connection_counts_key = web.AppKey("connection_counts", ConnectionCounts)


def service_application(service: str, settings: Settings, registry: CollectorRegistry) -> web.Application:
    """An application with what every service's has: traces, problem+json errors, metrics, body
    limits, and caps on the connections one client and the service hold open."""
    app = web.Application(
        client_max_size=MAX_REQUEST_BYTES,
        middlewares=[tracing_middleware(), problem_middleware, http_metrics_middleware(registry, service)],
    )
    app[body_timeout_key] = settings.request_body_timeout_s
    app[connection_counts_key] = capped_connections(service, settings, registry)
    return app


def capped_connections(service: str, settings: Settings, registry: CollectorRegistry) -> ConnectionCounts:
    """The connection caps of a service's HTTP port (its health port too), from its settings."""
    return ConnectionCounts(
        per_address=settings.max_connections_per_address,
        total=descriptor_bound(settings.max_connections),
        trusted_proxies=settings.trusted_proxies,
        registry=registry,
        service=service,
    )


@functools.cache
def refusal(reason: Reason) -> bytes:
    """The whole answer to a connection refused before it was read: a 503 problem, then the close."""
    detail = {
        "address": "Too many connections from your address are open; close some, then try again.",
        "total": "This service has as many connections open as it can take; please try again in a few seconds.",
    }[reason]
    body = json.dumps({"type": "about:blank", "title": "Service Unavailable", "status": 503, "detail": detail})
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        f"Content-Type: {PROBLEM_JSON}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Retry-After: 5\r\n"
        "Connection: close\r\n\r\n"
    )
    return (head + body).encode()


def malformed_request_answer(exc: BaseException | None, status: int) -> tuple[int, str]:
    """The status and detail for a request aiohttp refused with `exc` (or failed with `status`)."""
    for kind, kind_status, detail in _DETAILS:
        if isinstance(exc, kind):
            return kind_status, detail
    if status < 500:
        return status, "This request could not be read."
    return 500, FAULT_DETAIL


class ProblemRequestHandler(RequestHandler):
    """aiohttp's connection handler, with a problem+json answer for what never reaches the app, and
    a 503 for a connection over a cap (`connections`), closed before any of it is read."""

    def __init__(self, manager: Server, *, connections: ConnectionCounts | None = None, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._connections = connections
        self._counted_as: str | None = None
        self._refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._connections is not None:
            peer = transport.get_extra_info("peername")
            admitted = self._connections.admit(peer[0] if isinstance(peer, tuple) and peer else None)
            if isinstance(admitted, Refused):
                self._refused = True
                cast(asyncio.Transport, transport).write(refusal(admitted.reason))
                transport.close()
                return
            self._counted_as = admitted
        super().connection_made(transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._refused:
            return  # aiohttp never saw this connection
        if self._connections is not None and self._counted_as is not None:
            self._connections.release(self._counted_as)
            self._counted_as = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # aiohttp's message is not used: it quotes the request.
        if request.writer.output_size > 0:
            raise ConnectionError("the response had started; the connection is closed instead")
        answer_status, detail = malformed_request_answer(exc, status)
        kind = type(exc).__name__ if exc is not None else f"status {status}"
        if answer_status >= 500:
            log.error("a request failed outside the application: %s (answered %d)", kind, answer_status)
        else:
            log.info("refused a request that is not valid HTTP: %s (answered %d)", kind, answer_status)
        response = problem_response(answer_status, detail)
        response.force_close()
        return response

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        # aiohttp's other error lines ("Unhandled exception" when the rest of a body that could not
        # be decoded is drained) carry tracebacks that quote the request: the kind is enough.
        exc = kwargs.get("exc_info")
        kind = type(exc).__name__ if isinstance(exc, BaseException) else "unknown error"
        log.warning("a connection ended on an error outside the application: %s", kind)


class ProblemTCPSite(web.TCPSite):
    """A TCP site whose connections are served by `ProblemRequestHandler`, never access-logged."""

    async def start(self) -> None:
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        manager = self._runner.server
        if manager is None:
            raise RuntimeError("call the runner's setup() before starting a site")
        connections = self._runner.app.get(connection_counts_key) if isinstance(self._runner, web.AppRunner) else None
        self._server = await loop.create_server(
            lambda: ProblemRequestHandler(
                manager,
                connections=connections,
                loop=loop,
                keepalive_timeout=KEEPALIVE_TIMEOUT_S,
                access_log=None,  # None turns access logging off
            ),
            self._host,
            self._port,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )


async def start_site(app: web.Application, host: str, port: int, *, shutdown_timeout: float = 5.0) -> web.AppRunner:
    """Start `app` (its startup hooks included) listening on host:port; cleanup() stops it."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        await ProblemTCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


def serve_until_signalled(app: web.Application, host: str, port: int, *, shutdown_timeout: float = 5.0) -> None:
    """Run `app` on host:port until SIGINT or SIGTERM, then shut it down gracefully."""
    asyncio.run(_serve(app, host, port, shutdown_timeout))


async def _serve(app: web.Application, host: str, port: int, shutdown_timeout: float) -> None:
    runner = await start_site(app, host, port, shutdown_timeout=shutdown_timeout)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
