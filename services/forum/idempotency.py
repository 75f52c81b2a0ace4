"""`Idempotency-Key` on the member POSTs that create posts: a retried submission is answered, not
duplicated.

A member whose connection dropped after sending a post cannot know whether it arrived. Sending it
again with the same key gets the first answer back (the same post) when the first attempt was
accepted, and a fresh attempt when the first one was refused (a 503 stores nothing). The same key
with a different request is a 422.

One document per (member, key), keyed by a hash of both, so each check is a primary-key read on any
database. It holds the ids it answered with and a digest of the request keyed by the member's token
(never stored), never the request itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

from services.common.problems import Problem
from streams.events import utc_now

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
#: A request still "sending" after this long died with its process (requests end within seconds):
#: the key may be used again.
STALE_SENDING = timedelta(seconds=60)
#: How long a key is remembered. Retries come within minutes; after this the key is new again.
KEPT_FOR = timedelta(hours=24)


def key_from(request: web.Request) -> str | None:
    """The request's key: 1 to 255 visible ASCII characters, or a 400 problem."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 0 < len(key) <= MAX_KEY_LENGTH or not all(33 <= ord(c) <= 126 for c in key):
        raise Problem(400, f"'{HEADER}' must be 1 to {MAX_KEY_LENGTH} visible ASCII characters.")
    return key


def request_digest(route: str, data: dict[str, Any], token: str) -> str:
    """A digest of the request as sent, keyed by the member's bearer token.

    The request is hashed before redaction, so a plain hash of it would let someone holding the
    database test guesses of a phone number a published post shows removed. The token is 256
    random bits and never stored, so without it the digest says nothing; a retry carries it.
    """
    canonical = json.dumps([route, data], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    key = token.encode("utf-8", "surrogatepass")
    return hmac.new(key, canonical.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Claimed:
    """This request may go ahead; `finish` or `fail` must follow."""

    record_id: str


@dataclass(frozen=True)
class Answered:
    """An earlier request with this key was accepted: answer with what it created."""

    response: dict[str, Any]


#: Accepted answers held in memory while the database will not take their records (per instance).
MAX_LATE_ANSWERS = 10_000


@dataclass(frozen=True)
class _LateAnswer:
    digest: str
    response: dict[str, Any]


class IdempotencyRecords:
    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self._records = collection
        #: Answers whose record could not be written yet, by record id: a retry reaching this
        #: instance gets them, and `write_late_answers` stores them once the database answers.
        self._late: dict[str, _LateAnswer] = {}

    @property
    def late_answers(self) -> int:
        return len(self._late)

    @staticmethod
    def _record_id(identity_id: str, key: str) -> str:
        return hashlib.sha256(f"{identity_id}\0{key}".encode()).hexdigest()

    async def begin(self, identity_id: str, key: str, digest: str) -> Claimed | Answered:
        record_id = self._record_id(identity_id, key)
        late = self._late.get(record_id)
        if late is not None:
            if late.digest != digest:
                raise Problem(422, f"This {HEADER} was already used for a different request.")
            return Answered(late.response)
        fresh = {"_id": record_id, "digest": digest, "state": "sending", "at": utc_now()}
        try:
            await self._records.insert_one(fresh)
            return Claimed(record_id)
        except DuplicateKeyError:
            pass
        record = await self._records.find_one({"_id": record_id})
        if record is None:  # expired between the two calls: take it afresh
            return await self.begin(identity_id, key, digest)
        if record["digest"] != digest:
            raise Problem(422, f"This {HEADER} was already used for a different request.")
        if record["state"] == "sent":
            return Answered(record["response"])
        stale = record["state"] == "sending" and utc_now() - record["at"] > STALE_SENDING
        if record["state"] == "failed" or stale:
            # The earlier attempt was refused and stored nothing: this one starts again.
            result = await self._records.update_one(
                {"_id": record_id, "state": record["state"], "at": record["at"]},
                {"$set": {"state": "sending", "at": utc_now()}},
            )
            if result.modified_count == 1:
                return Claimed(record_id)
        raise Problem(
            409,
            "A request with this Idempotency-Key is still being handled; try again shortly.",
            headers={"Retry-After": "2"},
        )

    async def finish(self, claimed: Claimed, response: dict[str, Any]) -> None:
        await self._records.update_one({"_id": claimed.record_id}, {"$set": {"state": "sent", "response": response}})

    def finish_later(self, claimed: Claimed, digest: str, response: dict[str, Any]) -> None:
        """The submission was accepted but its record could not be written: keep the answer here
        until the database takes it. Past the bound the answer is dropped, and a retry after
        STALE_SENDING could then post twice (as after a crash)."""
        if len(self._late) >= MAX_LATE_ANSWERS:
            log.warning("an accepted submission's idempotency record was dropped: %d wait already", len(self._late))
            return
        self._late[claimed.record_id] = _LateAnswer(digest, response)

    async def write_late_answers(self) -> int:
        """Store the answers held in memory; stops at the first refusal. Returns how many went."""
        written = 0
        for record_id, late in list(self._late.items()):
            await self._records.update_one({"_id": record_id}, {"$set": {"state": "sent", "response": late.response}})
            del self._late[record_id]
            written += 1
        return written

    async def ensure_indexes(self) -> None:
        await self._records.create_index([("at", ASCENDING)])

    async def forget_older_than(self, age: timedelta = KEPT_FOR) -> int:
        """Drop the records of keys first used more than `age` ago; returns how many."""
        result = await self._records.delete_many({"at": {"$lt": utc_now() - age}})
        return int(result.deleted_count)

    async def fail(self, claimed: Claimed) -> None:
        await self._records.update_one({"_id": claimed.record_id}, {"$set": {"state": "failed"}})


async def keep_forgetting_old_keys(records: IdempotencyRecords, every_s: float = 3600.0) -> None:
    """Run for the forum's lifetime: old keys' records go once an hour (each instance does it;
    repeating a delete is harmless)."""
    while True:
        try:
            forgotten = await records.forget_older_than()
            if forgotten:
                log.info("forgot %d idempotency keys older than %s", forgotten, KEPT_FOR)
        except PyMongoError as exc:
            log.warning("could not forget old idempotency keys (%s); trying again later", type(exc).__name__)
        await asyncio.sleep(every_s)


async def keep_writing_late_answers(records: IdempotencyRecords, every_s: float = 2.0) -> None:
    """Run for the forum's lifetime: answers held in memory go to the database once it answers,
    well before STALE_SENDING lets a retry on another instance start the submission again."""
    while True:
        if records.late_answers:
            try:
                written = await records.write_late_answers()
                log.info("kept %d idempotency records that had waited for the database", written)
            except PyMongoError as exc:
                log.warning(
                    "%d idempotency records still wait for the database (%s)", records.late_answers, type(exc).__name__
                )
        await asyncio.sleep(every_s)


async def write_late_answers_before_leaving(records: IdempotencyRecords) -> None:
    if not records.late_answers:
        return
    try:
        await records.write_late_answers()
    except PyMongoError as exc:
        log.warning("%d idempotency records were not kept at shutdown (%s)", records.late_answers, type(exc).__name__)
