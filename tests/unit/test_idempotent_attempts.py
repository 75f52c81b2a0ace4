"""An accepted submission stays accepted when its Idempotency-Key record cannot be written: it is
answered at once, a retry gets the first answer, and the record is written once the database is
back, before a retry long after could post twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from pymongo.errors import AutoReconnect, DuplicateKeyError

from services.forum import idempotency, views
from services.forum.keys import idempotency_key
from streams.events import utc_now

ACCEPTED = {"thread_id": "t-1", "post_id": "p-1", "status": "pending", "redacted": []}


class Updated:
    def __init__(self, modified: int) -> None:
        self.modified_count = modified


class Records:
    """An idempotency_keys collection whose database can go away."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.away = False

    def _reachable(self) -> None:
        if self.away:
            raise AutoReconnect("the database is away")

    async def insert_one(self, doc: dict[str, Any]) -> None:
        self._reachable()
        if doc["_id"] in self.docs:
            raise DuplicateKeyError("exists")
        self.docs[doc["_id"]] = dict(doc)

    async def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        self._reachable()
        doc = self.docs.get(query["_id"])
        return dict(doc) if doc else None

    async def update_one(self, query: dict[str, Any], update: dict[str, Any]) -> Updated:
        self._reachable()
        doc = self.docs.get(query["_id"])
        if doc is None or any(doc.get(k) != v for k, v in query.items()):
            return Updated(0)
        doc.update(update["$set"])
        return Updated(1)


def _request(records: idempotency.IdempotencyRecords) -> web.Request:
    app = web.Application()
    app[idempotency_key] = records
    return make_mocked_request(
        "POST", "/v1/boards/newcomers/threads", headers={"Idempotency-Key": "k-1", "Authorization": "Bearer x"}, app=app
    )


async def _submit(records: idempotency.IdempotencyRecords) -> dict[str, Any] | None:
    """One submission through the view's idempotency wrapper; returns the earlier answer, if any."""
    async with views._idempotent(_request(records), {"_id": "m-1"}, "thread", {"body": "x"}) as attempt:
        if attempt.answered is not None:
            return attempt.answered
        attempt.response = ACCEPTED
    return None


async def test_an_accepted_submission_whose_record_waits_for_the_database_is_answered_and_kept_later() -> None:
    collection = Records()
    records = idempotency.IdempotencyRecords(collection)  # type: ignore[arg-type]
    original_finish = records.finish

    async def database_goes_away(claimed: idempotency.Claimed, response: dict[str, Any]) -> None:
        collection.away = True  # it went just after the post was stored and sent
        await original_finish(claimed, response)

    records.finish = database_goes_away  # type: ignore[method-assign]
    assert await _submit(records) is None, "accepted: answered at once, not after retries"
    [record] = collection.docs.values()
    assert record["state"] == "sending"
    assert await _submit(records) == ACCEPTED, "a retry to this instance gets the first answer, database or not"

    collection.away = False
    assert await records.write_late_answers() == 1
    assert records.late_answers == 0
    record["at"] = utc_now() - idempotency.STALE_SENDING - timedelta(seconds=1)
    other_instance = idempotency.IdempotencyRecords(collection)  # type: ignore[arg-type]
    assert await _submit(other_instance) == ACCEPTED, "long after, on any instance: the same answer, no second post"


async def test_late_answers_wait_while_the_database_refuses() -> None:
    collection = Records()
    records = idempotency.IdempotencyRecords(collection)  # type: ignore[arg-type]
    await collection.insert_one({"_id": "r-1", "digest": "d", "state": "sending", "at": utc_now()})
    records.finish_later(idempotency.Claimed("r-1"), "d", ACCEPTED)
    collection.away = True
    try:
        await records.write_late_answers()
    except AutoReconnect:
        pass
    assert records.late_answers == 1, "kept for the next round"
    collection.away = False
    await records.write_late_answers()
    assert collection.docs["r-1"]["state"] == "sent" and collection.docs["r-1"]["response"] == ACCEPTED
