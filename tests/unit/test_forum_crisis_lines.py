"""A refused post's answer carries crisis lines when the post must wait, and only then."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from aiokafka.errors import KafkaConnectionError
from pymongo.errors import ServerSelectionTimeoutError

from services.common.problems import Problem, problem_middleware
from services.common.tokens import hash_token
from services.forum import views
from services.forum.auth import member_key
from services.forum.crisis_lines import CRISIS_LINES_FIELD, offers_crisis_lines, standing_lines_key
from services.forum.keys import identity_window_key, settings_key, store_key
from services.forum.limits import AddressWindow
from streams.events import Resource
from streams.settings import Settings


class LinesByCountry:
    """Stands in for the resource directory: one line named after the country it was asked for."""

    def __init__(self) -> None:
        self.asked: list[str | None] = []

    def __call__(self, country: str | None, /) -> Sequence[Resource]:
        self.asked.append(country)
        return [
            Resource(
                name=f"crisis line of {country or 'nowhere'}",
                category="suicide",
                how=["call"],
                contact="000",
                source="the test",
                country=country or "INTL",
                confidence="high",
            )
        ]


@pytest.fixture
def lines() -> LinesByCountry:
    return LinesByCountry()


def _request(lines: LinesByCountry, member: dict[str, Any] | None = None) -> web.Request:
    app = web.Application()
    app[standing_lines_key] = lines
    request = make_mocked_request("POST", "/v1/boards/newcomers/threads", app=app)
    if member is not None:
        request[member_key] = member
    return request


def _failing(exc: BaseException) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        raise exc

    return offers_crisis_lines(handler)


def _body(problem: Problem) -> dict[str, Any]:
    assert problem.text is not None
    body: dict[str, Any] = json.loads(problem.text)
    return body


async def test_a_member_over_their_post_limit_gets_their_countrys_lines_with_the_same_answer(
    lines: LinesByCountry,
) -> None:
    refused = Problem(429, "10 posts a minute; try again in 40 seconds.", headers={"Retry-After": "40"})
    with pytest.raises(Problem) as raised:
        await _failing(refused)(_request(lines, {"_id": "m1", "country": "GB"}))
    answer = raised.value
    assert answer.status == 429 and answer.headers["Retry-After"] == "40"
    body = _body(answer)
    assert body["detail"] == refused.detail
    assert [line["name"] for line in body[CRISIS_LINES_FIELD]] == ["crisis line of GB"]
    assert lines.asked == ["GB"]


@pytest.mark.parametrize(
    "fault", [ServerSelectionTimeoutError("no primary"), KafkaConnectionError("no broker")], ids=["database", "kafka"]
)
async def test_storage_out_of_reach_before_the_member_is_known_gets_503_with_the_international_lines(
    lines: LinesByCountry, fault: Exception
) -> None:
    with pytest.raises(Problem) as raised:
        await _failing(fault)(_request(lines))
    answer = raised.value
    assert answer.status == 503 and int(answer.headers["Retry-After"]) > 0
    assert [line["country"] for line in _body(answer)[CRISIS_LINES_FIELD]] == ["INTL"]
    assert lines.asked == [None]


async def test_a_fault_in_the_forum_itself_still_carries_the_lines(lines: LinesByCountry) -> None:
    with pytest.raises(Problem) as raised:
        await _failing(RuntimeError("a bug"))(_request(lines, {"_id": "m1", "country": None}))
    assert raised.value.status == 500
    assert _body(raised.value)[CRISIS_LINES_FIELD], "a bug must not cost the member the lines"
    assert "a bug" not in (raised.value.text or "")


async def test_a_503_the_submission_chose_keeps_its_detail(lines: LinesByCountry) -> None:
    unsaved = Problem(503, "We could not save this right now. Nothing was posted.", headers={"Retry-After": "5"})
    with pytest.raises(Problem) as raised:
        await _failing(unsaved)(_request(lines, {"_id": "m1", "country": "US"}))
    assert _body(raised.value)["detail"] == unsaved.detail
    assert lines.asked == ["US"]


@pytest.mark.parametrize("status", [400, 401, 404, 409, 413, 415, 422])
async def test_a_post_that_can_be_fixed_now_gets_the_answer_unchanged(lines: LinesByCountry, status: int) -> None:
    refused = Problem(status, "Change what you sent.")
    with pytest.raises(Problem) as raised:
        await _failing(refused)(_request(lines, {"_id": "m1", "country": "GB"}))
    assert raised.value is refused
    assert lines.asked == []


async def test_aiohttps_own_http_errors_pass_through_to_the_problem_middleware(lines: LinesByCountry) -> None:
    with pytest.raises(web.HTTPMethodNotAllowed):
        await _failing(web.HTTPMethodNotAllowed("POST", ["GET"]))(_request(lines))
    assert lines.asked == []


async def test_lines_that_cannot_be_had_leave_the_refusal_as_it_was() -> None:
    def broken(country: str | None, /) -> Sequence[Resource]:
        raise LookupError("no directory")

    app = web.Application()
    app[standing_lines_key] = broken
    refused = Problem(429, "Wait a minute.", headers={"Retry-After": "60"})
    with pytest.raises(Problem) as raised:
        await _failing(refused)(make_mocked_request("POST", "/", app=app))
    assert raised.value is refused, "never a 500 in place of the member's 429"


async def test_an_accepted_post_is_answered_as_the_handler_answered(lines: LinesByCountry) -> None:
    async def accept(request: web.Request) -> web.StreamResponse:
        return web.json_response({"post_id": "p1"}, status=202)

    response = await offers_crisis_lines(accept)(_request(lines))
    assert response.status == 202 and lines.asked == []


async def test_a_newcomer_refused_at_joining_gets_the_lines_of_the_country_they_gave(lines: LinesByCountry) -> None:
    app = web.Application(middlewares=[problem_middleware])
    app[standing_lines_key] = lines
    app[settings_key] = Settings()
    app[identity_window_key] = AddressWindow(0)  # every new identity from this address must wait
    views.setup_routes(app)
    async with TestClient(TestServer(app)) as client:
        response = await client.post("/v1/identities", json={"country": "nz"})
        problem = await response.json(content_type=None)
    assert response.status == 429 and int(response.headers["Retry-After"]) > 0
    assert [line["name"] for line in problem[CRISIS_LINES_FIELD]] == ["crisis line of NZ"]


class RememberingStore:
    """Stands in for the forum's store: the countries it read lately, by token hash."""

    def __init__(self, countries: dict[str, str]) -> None:
        self._countries = countries

    def remembered_country(self, token_hash: str) -> str | None:
        return self._countries.get(token_hash)


async def test_a_member_refused_while_the_database_is_away_gets_the_country_read_for_their_token_lately(
    lines: LinesByCountry,
) -> None:
    app = web.Application()
    app[standing_lines_key] = lines
    app[store_key] = RememberingStore({hash_token("t-of-ireland"): "IE"})  # type: ignore[assignment]
    fault = ServerSelectionTimeoutError("no primary")
    known = make_mocked_request("POST", "/", headers={"Authorization": "Bearer t-of-ireland"}, app=app)
    stranger = make_mocked_request("POST", "/", headers={"Authorization": "Bearer t-never-seen"}, app=app)
    for request in (known, stranger):
        with pytest.raises(Problem) as raised:
            await _failing(fault)(request)
        assert raised.value.status == 503
    assert lines.asked == ["IE", None]


async def test_the_identity_read_now_wins_over_the_country_remembered(lines: LinesByCountry) -> None:
    app = web.Application()
    app[standing_lines_key] = lines
    app[store_key] = RememberingStore({hash_token("t"): "IE"})  # type: ignore[assignment]
    request = make_mocked_request("POST", "/", headers={"Authorization": "Bearer t"}, app=app)
    request[member_key] = {"_id": "m1", "country": "AU"}  # moved since: read just now
    with pytest.raises(Problem):
        await _failing(Problem(429, "Wait.", headers={"Retry-After": "9"}))(request)
    assert lines.asked == ["AU"]
