"""The forum's request bodies have one statement, services/forum/requests.py: the OpenAPI document
takes every body schema from its model, and the handlers refuse exactly what the models' limits
leave out (one character over a max_length is refused, the max_length itself is taken)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from services.common.openapi import COMPONENT_REF
from services.common.problems import Problem
from services.forum.member_views import _changes
from services.forum.openapi import forum_openapi
from services.forum.post_actions import reaction_kind, report_fields
from services.forum.requests import (
    COUNTRY_PATTERN,
    EditRequest,
    NewIdentityRequest,
    NewThreadRequest,
    ProfileChangeRequest,
    ReactionRequest,
    ReplyRequest,
    ReportRequest,
    length_limits,
)
from services.forum.submission import read_draft
from services.forum.views import identity_fields
from streams.events import REACTION_KINDS, REPORT_REASONS

BODIES: dict[tuple[str, str], type[BaseModel]] = {
    ("post", "/v1/identities"): NewIdentityRequest,
    ("patch", "/v1/me"): ProfileChangeRequest,
    ("post", "/v1/boards/{slug}/threads"): NewThreadRequest,
    ("post", "/v1/threads/{thread_id}/posts"): ReplyRequest,
    ("patch", "/v1/posts/{post_id}"): EditRequest,
    ("post", "/v1/posts/{post_id}/reactions"): ReactionRequest,
    ("post", "/v1/posts/{post_id}/reports"): ReportRequest,
}


def _documented_bodies() -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): op["requestBody"]["content"]["application/json"]["schema"]
        for path, ops in forum_openapi()["paths"].items()
        for method, op in ops.items()
        if "requestBody" in op
    }


def test_every_documented_request_body_is_a_models_schema() -> None:
    documented = _documented_bodies()
    assert set(documented) == set(BODIES)
    for operation, model in BODIES.items():
        expected = model.model_json_schema(ref_template=COMPONENT_REF)
        expected.pop("$defs", None)
        assert documented[operation] == expected, operation


def test_the_body_schemas_are_valid_json_schema_and_their_references_resolve() -> None:
    document = forum_openapi()
    components = document["components"].get("schemas", {})
    for schema in [*_documented_bodies().values(), *components.values()]:
        Draft202012Validator.check_schema(schema)
        for ref in re.findall(r"'\$ref': '([^']+)'", repr(schema)):
            assert ref.removeprefix("#/components/schemas/") in components, ref


def _status(check: Callable[[], object]) -> int | None:
    """None when the handler's check takes the input, else the status it answers with."""
    try:
        check()
    except Problem as exc:
        return exc.status
    return None


def _draft(data: dict[str, Any], *, titled: bool) -> int | None:
    return _status(lambda: read_draft(data, titled=titled))


def test_a_title_and_a_body_one_character_over_the_models_limit_are_refused() -> None:
    low, high = length_limits(NewThreadRequest, "title")
    assert (low, high) == (3, 200)
    assert _draft({"title": "t" * high, "body": "b"}, titled=True) is None
    assert _draft({"title": "t" * (high + 1), "body": "b"}, titled=True) == 400
    assert _draft({"title": "t" * low, "body": "b"}, titled=True) is None
    assert _draft({"title": "t" * (low - 1), "body": "b"}, titled=True) == 400
    for model in (NewThreadRequest, ReplyRequest, EditRequest):
        low, high = length_limits(model, "body")
        assert (low, high) == (1, 20_000)
        assert _draft({"body": "b" * high}, titled=False) is None
        assert _draft({"body": "b" * (high + 1)}, titled=False) == 400
        # Far over the limit is a body too large, as before.
        assert _draft({"body": "b" * (high * 4 + 1)}, titled=False) == 413
        assert _draft({"body": "b" * low}, titled=False) is None
        assert _draft({"body": "b" * (low - 1)}, titled=False) == 400


def test_a_report_note_one_character_over_the_models_limit_is_refused() -> None:
    _, high = length_limits(ReportRequest, "note")
    assert _status(lambda: report_fields({"reason": "spam", "note": "n" * high})) is None
    assert _status(lambda: report_fields({"reason": "spam", "note": "n" * (high + 1)})) == 400
    assert report_fields({"reason": "other"}) == ("other", "")


@pytest.mark.parametrize(
    ("model", "check"),
    [
        (NewIdentityRequest, lambda body: identity_fields(body)),
        (ProfileChangeRequest, lambda body: _changes(body)),
    ],
)
def test_country_and_language_lengths_are_the_models(
    model: type[BaseModel], check: Callable[[dict[str, Any]], object]
) -> None:
    low, high = length_limits(model, "country")
    assert low == high == 2
    assert _status(lambda: check({"country": "g" * high})) is None
    assert _status(lambda: check({"country": "g" * (high + 1)})) == 400
    assert _status(lambda: check({"country": "g" * (low - 1)})) == 400
    low, high = length_limits(model, "language")
    assert _status(lambda: check({"language": "l" * high})) is None
    assert _status(lambda: check({"language": "l" * (high + 1)})) == 400
    assert _status(lambda: check({"language": "l" * low})) is None
    assert _status(lambda: check({"language": "l" * (low - 1)})) == 400
    assert _status(lambda: check({"country": None, "language": None})) is None


@pytest.mark.parametrize("country", ["GB", "gb", "Gb", "G1", "ÉÉ", "ǅx", "G", "GBR", "g\n", ""])
def test_the_documented_country_pattern_takes_what_the_handlers_take(country: str) -> None:
    documented = re.fullmatch(COUNTRY_PATTERN.strip("^$"), country) is not None
    assert (_status(lambda: identity_fields({"country": country})) is None) is documented
    assert (_status(lambda: _changes({"country": country})) is None) is documented


def test_a_profile_change_takes_the_models_fields_and_no_other() -> None:
    every_field = {"country": "gb", "language": "en", "sober_since": "2020-01-31", "show_milestone": False}
    assert set(every_field) == set(ProfileChangeRequest.model_fields)
    assert _status(lambda: _changes(every_field)) is None
    assert _status(lambda: _changes({"handle": "Calm Otter"})) == 400


def test_reaction_kinds_and_report_reasons_are_the_models_enums() -> None:
    kinds = ReactionRequest.model_json_schema()["properties"]["kind"]["enum"]
    reasons = ReportRequest.model_json_schema()["properties"]["reason"]["enum"]
    assert tuple(kinds) == REACTION_KINDS == ("hug", "strength", "me_too")
    assert tuple(reasons) == REPORT_REASONS == ("worried_about_author", "harassment", "spam", "other")
    for kind in kinds:
        assert reaction_kind({"kind": kind}) == kind
    for reason in reasons:
        assert report_fields({"reason": reason})[0] == reason
    assert _status(lambda: reaction_kind({"kind": "love"})) == 400
    assert _status(lambda: report_fields({"reason": "boring"})) == 400
