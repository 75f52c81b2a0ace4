"""An accepted submission stays accepted when its Idempotency-Key record cannot be written."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from pymongo.errors import AutoReconnect

from services.forum import idempotency, views
from services.forum.keys import idempotency_key

ACCEPTED = {"thread_id": "t-1", "post_id": "p-1", "status": "pending", "redacted": []}


class FlakyRecords:
    """Claims every key; `finish` fails its first `failures` calls, as a database blip would."""

    def __init__(self, failures: int) -> None:
        self.failures, self.finished, self.failed = failures, [], 0  # type: ignore[var-annotated]

    async def begin(self, identity_id: str, key: str, digest: str) -> idempotency.Claimed:
        return idempotency.Claimed("r-1")

    async def finish(self, claimed: idempotency.Claimed, response: dict[str, Any]) -> None:
        if self.failures:
            self.failures -= 1
            raise AutoReconnect("the database blinked")
        self.finished.append(response)

    async def fail(self, claimed: idempotency.Claimed) -> None:
        self.failed += 1


def _request(records: FlakyRecords) -> web.Request:
    app = web.Application()
    app[idempotency_key] = records  # type: ignore[assignment]
    return make_mocked_request(
        "POST", "/v1/boards/newcomers/threads", headers={"Idempotency-Key": "k-1", "Authorization": "Bearer x"}, app=app
    )


@pytest.mark.parametrize(("failures", "kept"), [(1, True), (10, False)])
async def test_an_accepted_submission_is_answered_even_when_its_record_cannot_be_kept(
    monkeypatch: pytest.MonkeyPatch, failures: int, kept: bool
) -> None:
    monkeypatch.setattr(views, "_REMEMBER_RETRIES_S", (0.0, 0.0, 0.0), raising=False)
    records = FlakyRecords(failures)
    async with views._idempotent(_request(records), {"_id": "m-1"}, "thread", {"body": "x"}) as attempt:
        attempt.response = ACCEPTED
    assert records.failed == 0, "an accepted post is never recorded as refused (a retry would post it again)"
    assert records.finished == ([ACCEPTED] if kept else [])
