"""Inputs no client of ours sends, made up by an attacker: each is refused as a client's mistake
(a 400 or a 401 upstream), never raised as a server error."""

from __future__ import annotations

import base64
import json

import pytest

from services.common.tokens import hash_token, new_token, tokens_match
from services.forum.store import InvalidCursor, decode_cursor, encode_cursor
from services.moderation.api.queue_listing import BadPageRequest
from services.moderation.api.queue_listing import decode_cursor as decode_queue_cursor


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize("moment", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+01:00"])
def test_a_thread_cursor_at_the_calendars_edge_is_refused(moment: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(_cursor([moment, "x"]))


def test_cursors_naming_an_id_no_query_can_carry_are_refused() -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(_cursor(["2026-01-01T00:00:00+00:00", "\ud800"]))
    with pytest.raises(BadPageRequest):
        decode_queue_cursor(_cursor([2, 1700000000000, "\ud800"]))


def test_a_thread_cursor_handed_out_still_reads_back() -> None:
    from datetime import UTC, datetime

    moment = datetime(2026, 12, 7, 19, 40, tzinfo=UTC)
    assert decode_cursor(encode_cursor(moment, "t-1")) == (moment, "t-1")


def test_a_queue_cursor_of_nested_brackets_is_refused() -> None:
    cursor = base64.urlsafe_b64encode(b"[" * 3000).decode().rstrip("=")
    with pytest.raises(BadPageRequest):
        decode_queue_cursor(cursor)


@pytest.mark.parametrize("token", ["\udcff", "\ud800abc", "caf\u00e9"])
def test_a_token_that_is_not_ascii_hashes_and_matches_nothing(token: str) -> None:
    real = new_token()
    assert len(hash_token(token)) == 64
    assert not tokens_match(hash_token(real), token)
    assert tokens_match(hash_token(real), real)


def test_an_idempotency_digest_needs_the_members_token_to_be_checked() -> None:
    import hashlib

    from services.forum.idempotency import request_digest

    route, data = "POST /v1/boards/x/threads", {"title": "t", "body": "call me on 555 0100"}
    token = new_token()
    digest = request_digest(route, data, token)
    assert digest == request_digest(route, dict(data), token), "a retry with the same token matches"
    assert digest != request_digest(route, data, new_token())
    plain = json.dumps([route, data], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert digest != hashlib.sha256(plain.encode()).hexdigest(), "a guess of the body alone cannot be checked"


def test_a_sobriety_date_in_the_future_is_not_written_into_the_error() -> None:
    from datetime import date

    from services.forum.milestones import days_sober

    with pytest.raises(ValueError) as raised:
        days_sober(date(2031, 5, 17), date(2026, 12, 7))
    assert "2031" not in str(raised.value)
