"""The one JSON body reader: hostile shapes are a 400 with a clear detail, never a 500."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiokafka.errors import KafkaTimeoutError
from pymongo.errors import NetworkTimeout, ServerSelectionTimeoutError

from services.common.json_body import (
    MAX_DEPTH,
    InvalidJsonBody,
    nesting_depth_exceeds,
    parse_json_object,
)
from services.common.problems import PROBLEM_JSON, problem_middleware, read_json_object


def _refused(raw: bytes) -> str:
    with pytest.raises(InvalidJsonBody) as caught:
        parse_json_object(raw)
    return caught.value.detail


def _nested(depth: int) -> bytes:
    return b'{"a": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


def test_nesting_up_to_the_limit_is_read_and_one_more_level_is_refused() -> None:
    assert parse_json_object(_nested(MAX_DEPTH))["a"] is not None
    assert "nested too deeply" in _refused(_nested(MAX_DEPTH + 1))


def test_nesting_sixty_thousand_deep_is_refused_quickly() -> None:
    raw = b'{"a": ' + b"[" * 60_000 + b"]" * 60_000 + b"}"
    started = time.perf_counter()
    assert "nested too deeply" in _refused(raw)
    assert time.perf_counter() - started < 0.5
    assert "nested too deeply" in _refused(b"[" * 60_000), "unclosed brackets too"


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = '"' + "[{" * 100 + '\\"[[[' + '"'
    assert parse_json_object(('{"body": ' + text + "}").encode())["body"].startswith("[{[{")
    assert not nesting_depth_exceeds(b'{"a": "\\\\", "b": "[[[[[[[["}', 2), "an escaped backslash ends no string"


def test_an_unterminated_string_full_of_escaped_quotes_is_scanned_in_linear_time() -> None:
    raw = b'{"a": "' + b'\\"' * 30_000
    started = time.perf_counter()
    assert _refused(raw) == "The request body is not valid JSON."
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("number", ["9" * 5000, "-" + "9" * 31, "1." + "0" * 40, "1e" + "0" * 40])
def test_numbers_longer_than_the_limit_are_refused(number: str) -> None:
    assert "at most 30 characters" in _refused(f'{{"n": {number}}}'.encode())


def test_numbers_within_the_limit_are_read() -> None:
    assert parse_json_object(b'{"a": -123456789012345678901234567890, "b": 1.5e3}') == {
        "a": -123456789012345678901234567890,
        "b": 1500.0,
    }


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
def test_non_finite_numbers_are_refused(value: str) -> None:
    assert "finite" in _refused(f'{{"n": {value}}}'.encode())


def test_the_interpreters_int_conversion_limit_is_a_400_not_a_500(monkeypatch: pytest.MonkeyPatch) -> None:
    def int_limit_hit(literal: str) -> int:
        raise ValueError("Exceeds the limit (4300 digits) for integer string conversion")

    monkeypatch.setattr("services.common.json_body._parse_int", int_limit_hit)
    assert _refused(b'{"n": 1}') == "The request body is not valid JSON."


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b'{"a": 1', "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"text"', "must be a JSON object"),
        (b"null", "must be a JSON object"),
        (b'{"a": "\xff\xfe"}', "not valid UTF-8"),
        (b'{"a": "\\ud800"}', "unpaired surrogate"),
        (b'{"a": ["\\udc00x"]}', "unpaired surrogate"),
    ],
)
def test_malformed_bodies_get_a_clear_detail(raw: bytes, detail: str) -> None:
    assert detail in _refused(raw)


def test_a_paired_surrogate_escape_is_ordinary_text() -> None:
    assert parse_json_object(b'{"a": "\\ud83d\\ude00", "b": "\\\\ud800"}') == {"a": "\U0001f600", "b": "\\ud800"}


@pytest.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response(await read_json_object(request))

    app = web.Application(middlewares=[problem_middleware], client_max_size=64 * 1024)
    app.router.add_post("/echo", echo)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


@pytest.mark.parametrize(
    "body",
    [b"[" * 60_000, b'{"n": ' + b"9" * 5000 + b"}", b'{"n": NaN}', b'{"s": "\\udfff"}', b"\xc3\x28"],
)
async def test_every_refusal_reaches_the_client_as_a_400_problem(client: TestClient[Any, Any], body: bytes) -> None:
    response = await client.post("/echo", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert response.content_type == PROBLEM_JSON
    problem = await response.json(content_type=None)
    assert problem["status"] == 400 and problem["detail"]


async def test_a_good_body_still_reaches_the_handler(client: TestClient[Any, Any]) -> None:
    response = await client.post("/echo", json={"a": [1, {"b": "c"}]})
    assert response.status == 200 and await response.json() == {"a": [1, {"b": "c"}]}


@pytest.mark.parametrize(
    "outage", [NetworkTimeout("timed out"), ServerSelectionTimeoutError("no server"), KafkaTimeoutError()]
)
async def test_a_database_or_broker_out_of_reach_is_a_503_with_retry_after_not_a_500(outage: Exception) -> None:
    async def handler(request: web.Request) -> web.Response:
        raise outage

    app = web.Application(middlewares=[problem_middleware])
    app.router.add_get("/v1/posts/{post_id}", handler)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        response = await client.get("/v1/posts/p1")
        assert response.status == 503 and response.headers["Retry-After"] == "5"
        assert response.content_type == PROBLEM_JSON
        assert (await response.json())["status"] == 503
    finally:
        await client.close()
