"""Requests that are not valid HTTP, sent to every running service as raw bytes.

aiohttp refuses these before any handler or middleware runs. Each service still answers with a
problem+json whose detail does not quote the request, and no log line carries what was sent (a
token, a query) or the address it came from.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from tests.harness import REQUEST_BODY_TIMEOUT_S, ForumClient, RunningServices, eventually, send_raw, status_and_headers

pytestmark = pytest.mark.integration

OVER_THE_LINE_LIMIT = 9000
ADDRESS = re.compile(r"\b127\.0\.0\.1\b(?!:\d)")


def malformed_requests(marker: str) -> dict[str, tuple[bytes, int]]:
    """What aiohttp refuses before any handler runs, by name, with the status it must get."""
    post = b'{"body":"' + marker.encode() + b'"}'
    return {
        "query past the line limit": (
            f"GET /v1/boards?cursor={marker}{'A' * OVER_THE_LINE_LIMIT} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode(),
            400,
        ),
        "bearer token past the line limit": (
            f"GET /v1/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {marker}{'x' * OVER_THE_LINE_LIMIT}\r\n\r\n".encode(),
            400,
        ),
        "not HTTP at all": (f"HELO {marker}\r\n\r\n".encode(), 400),
        "a header name with a space": (
            f"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nBad Name{marker}: 1\r\n\r\n".encode(),
            400,
        ),
        "a body in brotli": (
            b"POST /v1/identities HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
            b"Content-Encoding: br\r\nContent-Length: " + str(len(post)).encode() + b"\r\n\r\n" + post,
            415,
        ),
    }


async def test_requests_that_are_not_http_get_a_problem_and_leave_no_trace_in_the_logs(
    services: RunningServices,
) -> None:
    marker = f"m{uuid.uuid4().hex}"
    before = {path: path.stat().st_size for path in services.log_dir.glob("*.log")}
    for base_url in (services.forum, services.moderation, services.notify):
        for name, (request, status) in malformed_requests(marker).items():
            answer = await send_raw(base_url, request)
            assert answer.status == status, f"{name} at {base_url}: {answer.status} {answer.body[:200]!r}"
            assert answer.content_type.startswith("application/problem+json"), f"{name}: {answer.content_type}"
            problem = json.loads(answer.body)
            assert problem["status"] == status
            assert problem["detail"] and marker not in problem["detail"]
            assert "install" not in problem["detail"].lower()

    def new_lines() -> str:
        return "\n".join(_written_since(path, before.get(path, 0)) for path in services.log_dir.glob("*.log"))

    # One "refused" line a request (the services log at INFO), read once all of them are written.
    expected = 3 * len(malformed_requests(marker))
    written = await eventually(
        lambda: _ready(new_lines(), expected),
        timeout=15,
    )
    assert marker not in written
    assert not ADDRESS.search(written), "a client address reached a log"
    assert "Traceback" not in written


def _written_since(path: Path, offset: int) -> str:
    with path.open("rb") as log_file:
        log_file.seek(offset)
        return log_file.read().decode(errors="replace")


async def _ready(lines: str, expected: int) -> str | None:
    return lines if lines.count("refused a request that is not valid HTTP") >= expected else None


def _post(path: str, content_type: str, encoding: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: {content_type}\r\n"
        f"Content-Encoding: {encoding}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def test_a_body_that_is_not_the_gzip_it_claims_is_a_400_problem(services: RunningServices) -> None:
    not_gzip = b'{"country":"GB"}'
    for base_url, path, content_type in (
        (services.forum, "/v1/identities", "application/json"),
        (services.moderation, "/console/session", "application/x-www-form-urlencoded"),
    ):
        answer = await send_raw(base_url, _post(path, content_type, "gzip", not_gzip))
        assert answer.status == 400, f"{path}: {answer.status} {answer.body[:200]!r}"
        assert answer.content_type.startswith("application/problem+json")
        assert "could not be read" in json.loads(answer.body)["detail"]


async def test_a_well_formed_gzip_body_is_still_read(services: RunningServices) -> None:
    body = gzip.compress(json.dumps({"country": "GB"}).encode())
    answer = await send_raw(services.forum, _post("/v1/identities", "application/json", "gzip", body))
    assert answer.status == 201, answer.body[:200]
    assert "handle" in json.loads(answer.body)


@dataclass(frozen=True)
class TrickledAnswer:
    status: int
    problem: dict[str, object]
    answered_after_s: float
    bytes_sent: int


async def trickle(base_url: str, head: bytes, body: bytes) -> TrickledAnswer:
    """Send the head at once and then the body a byte a second, until the server answers."""
    parts = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    started = time.monotonic()
    try:
        writer.write(head)
        await writer.drain()
        for sent in range(len(body)):
            try:
                first = await asyncio.wait_for(reader.read(1), timeout=1.0)
                break
            except TimeoutError:
                writer.write(body[sent : sent + 1])
                await writer.drain()
        else:
            raise AssertionError("the whole body went out a byte a second and the server never answered")
        answered_after = time.monotonic() - started
        status, headers = status_and_headers(first + await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10))
        assert headers["content-type"].startswith("application/problem+json")
        assert headers["connection"] == "close"
        problem = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), timeout=10)
        return TrickledAnswer(status, json.loads(problem), answered_after, sent)
    finally:
        writer.close()


def _head(path: str, content_type: str, length: int, extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {length}\r\n\r\n"
    ).encode()


async def test_a_post_trickled_a_byte_a_second_gets_a_408_and_its_retry_is_a_first_attempt(
    services: RunningServices,
) -> None:
    async with aiohttp.ClientSession() as session:
        member = await ForumClient.join(session, services.forum)
        post = json.dumps({"title": "Slow line tonight", "body": "Day 12. The signal here is terrible."}).encode()
        key = f"slow-{uuid.uuid4().hex}"
        head = _head(
            "/v1/boards/newcomers/threads",
            "application/json",
            len(post),
            f"Authorization: Bearer {member.token}\r\nIdempotency-Key: {key}\r\n",
        )

        answer = await trickle(services.forum, head, post)

        assert answer.status == 408
        assert answer.problem["status"] == 408 and "send it again" in str(answer.problem["detail"])
        # Answered at the deadline (with slack for a loaded machine), long before the body was all sent.
        assert REQUEST_BODY_TIMEOUT_S - 0.5 <= answer.answered_after_s <= REQUEST_BODY_TIMEOUT_S + 5
        assert answer.bytes_sent < len(post)
        # Nothing of the slow attempt was recorded: the same key with another body is a first
        # attempt (a recorded one would make it a 422), and it is accepted.
        status, created = await member.request(
            "POST",
            "/v1/boards/newcomers/threads",
            json={"title": "Slow line tonight", "body": "Day 12. Sent again from the car park."},
            headers={"Idempotency-Key": key},
        )
        assert status == 202, created


async def test_a_sign_in_form_trickled_a_byte_a_second_gets_a_408(services: RunningServices) -> None:
    form = b"token=" + b"x" * 60
    head = _head("/console/session", "application/x-www-form-urlencoded", len(form))

    answer = await trickle(services.moderation, head, form)

    assert answer.status == 408
    assert REQUEST_BODY_TIMEOUT_S - 0.5 <= answer.answered_after_s <= REQUEST_BODY_TIMEOUT_S + 5
