"""RFC 9457 problem+json responses, and the middleware that makes every error one."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from aiokafka.errors import KafkaError
from pymongo.errors import ConnectionFailure

from services.common.database_absence import DatabaseAway
from services.common.json_body import InvalidJsonBody, parse_json_object

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

#: Seconds a request's body may take to arrive once its headers have (Settings.request_body_timeout_s).
body_timeout_key = web.AppKey("body_timeout_s", float)
DEFAULT_BODY_TIMEOUT_S = 30.0

#: Details of the two answers no handler chose. Neither says what became of the request: a store or a
#: send may have finished before the fault, which is why submissions take an Idempotency-Key.
UNREACHABLE_DETAIL = "We cannot reach our storage right now; please try again in a few seconds."
FAULT_DETAIL = "Something went wrong on our side; please try again in a moment."

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class Problem(web.HTTPException):
    """An HTTP error rendered as application/problem+json with a clear detail."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        self.status_code = status
        body = {"type": "about:blank", "title": _TITLES.get(status, "Error"), "status": status, "detail": detail}
        body.update(extensions)
        super().__init__(
            headers=headers,
            text=json.dumps(body),
            content_type=PROBLEM_JSON,
        )
        self.detail = detail


def problem_from_http_error(exc: web.HTTPException) -> web.Response:
    status = exc.status
    detail = exc.reason or _TITLES.get(status, "Error")
    if status == 404:
        detail = "No such resource."
    elif status == 405:
        detail = "This method is not allowed on this resource."
    elif status == 413:
        detail = "The request body is too large."
    body = {"type": "about:blank", "title": _TITLES.get(status, "Error"), "status": status, "detail": detail}
    headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
    return web.Response(status=status, text=json.dumps(body), content_type=PROBLEM_JSON, headers=headers)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Problem:
        raise
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem_from_http_error(exc)
    except Exception as exc:
        raise failure_problem(request, exc) from exc


def failure_problem(request: web.Request, exc: Exception) -> Problem:
    """The problem for an exception no handler turned into one, logged by method and path only
    (query strings and bodies may carry personal data)."""
    if isinstance(exc, ConnectionFailure | KafkaError | DatabaseAway):
        # The database or the broker is out of reach (stopped, paused, timing out): the request
        # may succeed in a moment, so this is a 503, not a fault in the service.
        log.warning("%s on %s %s: answered 503", type(exc).__name__, request.method, request.path)
        return Problem(503, UNREACHABLE_DETAIL, headers={"Retry-After": "5"})
    log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return Problem(500, FAULT_DETAIL)


def problem_response(status: int, detail: str, headers: dict[str, str] | None = None) -> web.Response:
    """A problem+json response to return (not raise), for paths outside a handler's own errors."""
    body = {"type": "about:blank", "title": _TITLES.get(status, "Error"), "status": status, "detail": detail}
    return web.Response(status=status, text=json.dumps(body), content_type=PROBLEM_JSON, headers=headers)


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400/413/415 problem: the one reader of every service.

    Nesting depth and number size are limited (services.common.json_body), so no body's shape can
    make a handler fail with a 500.
    """
    if request.content_length is not None and request.content_length > request.app._client_max_size:
        raise Problem(413, "The request body is larger than 64 KiB.")
    if request.content_type not in (
        "application/json",
        "application/problem+json",
        "",
    ) and not request.content_type.endswith("+json"):
        raise Problem(415, "Send the body as application/json.")
    try:
        async with body_deadline(request):
            raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise Problem(413, "The request body is larger than 64 KiB.") from exc
    except web.RequestPayloadError as exc:
        # Gzip that is not gzip, a chunked body cut short: aiohttp could not read what was sent.
        raise Problem(400, "The request body could not be read as it was encoded or framed.") from exc
    try:
        return parse_json_object(raw)
    except InvalidJsonBody as exc:
        raise Problem(400, exc.detail) from exc


@asynccontextmanager
async def body_deadline(request: web.Request) -> AsyncIterator[None]:
    """Read the body inside this, so a body sent a byte at a time cannot hold a connection for ever.

    aiohttp closes a connection whose headers are slow (its keep-alive timer), but once a handler
    reads the body nothing bounds the wait. Past the deadline the answer is a 408 and the
    connection is closed; nothing of the body was used.
    """
    seconds = request.app.get(body_timeout_key, DEFAULT_BODY_TIMEOUT_S)
    deadline = asyncio.timeout(seconds)
    try:
        async with deadline:
            yield
    except TimeoutError as exc:
        if not deadline.expired():
            raise
        problem = Problem(
            408,
            f"The request body did not arrive within {seconds:g} seconds. Nothing was stored; please send it again.",
        )
        problem.force_close()
        raise problem from exc
