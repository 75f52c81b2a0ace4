"""Screening records save work and never stop it: a database out of reach neither blocks a batch
nor makes the worker emit a post twice, and what could not be written is written later."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo import UpdateOne
from pymongo.errors import AutoReconnect, OperationFailure, ServerSelectionTimeoutError

from services.common.database_absence import DatabaseAbsence
from services.moderation.worker.screening_records import ScreeningRecords, keep_writing_unwritten
from tests.unit.memory_screenings import MemoryCursor, MemoryScreenings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FlakyScreenings(MemoryScreenings):
    """The `screenings` collection on a database that can be taken away, counting what is asked."""

    def __init__(self) -> None:
        super().__init__()
        self.away: Exception | None = None
        self.calls = 0

    def find(self, query: dict[str, Any], projection: dict[str, int]) -> MemoryCursor:
        self.calls += 1
        if self.away is not None:
            raise self.away
        return super().find(query, projection)

    async def bulk_write(self, requests: list[UpdateOne], ordered: bool = True) -> None:
        self.calls += 1
        if self.away is not None:
            raise self.away
        await super().bulk_write(requests, ordered)


RECORD = {"action": "hold_urgent", "risk": "imminent", "screened_at": "t"}


def _records(collection: FlakyScreenings, clock: Clock, **kwargs: Any) -> ScreeningRecords:
    absence = DatabaseAbsence("screening records", retry_after_s=5.0, clock=clock)
    return ScreeningRecords(collection, absence=absence, **kwargs)  # type: ignore[arg-type]


async def test_with_the_database_answering_a_recorded_screening_is_not_screened_again() -> None:
    collection = FlakyScreenings()
    records = _records(collection, Clock())
    await records.remember({"p1:1": RECORD})
    assert collection.docs == {"p1:1": RECORD}
    assert await records.unscreened(["p1:1", "p2:1"]) == {"p2:1"}
    assert records.unwritten == 0


async def test_a_database_out_of_reach_lets_every_post_be_screened_and_keeps_the_records() -> None:
    collection, clock = FlakyScreenings(), Clock()
    records = _records(collection, clock)
    collection.away = ServerSelectionTimeoutError("no servers")
    assert await records.unscreened(["p1:1", "p2:1"]) == {"p1:1", "p2:1"}
    assert records.database_away
    await records.remember({"p1:1": RECORD, "p2:1": RECORD})
    assert records.unwritten == 2 and collection.docs == {}
    # Redelivered meanwhile (a rebalance): what this worker screened is known without the database.
    assert await records.unscreened(["p1:1", "p3:1"]) == {"p3:1"}


async def test_while_the_database_is_away_it_is_asked_again_only_after_a_pause() -> None:
    collection, clock = FlakyScreenings(), Clock()
    records = _records(collection, clock)
    collection.away = AutoReconnect("connection refused")
    await records.unscreened(["p1:1"])
    await records.remember({"p1:1": RECORD})
    await records.unscreened(["p2:1"])
    assert collection.calls == 1, "each try can cost a server-selection timeout; a batch must not pay it"
    clock.now += 5.0
    await records.unscreened(["p2:1"])
    assert collection.calls == 2


async def test_the_records_kept_are_written_once_the_database_answers_again() -> None:
    collection, clock = FlakyScreenings(), Clock()
    records = _records(collection, clock)
    collection.away = AutoReconnect("connection refused")
    await records.remember({"p1:1": RECORD})
    collection.away = None
    clock.now += 5.0
    await records.remember({"p2:1": RECORD})
    assert set(collection.docs) == {"p1:1", "p2:1"}
    assert records.unwritten == 0 and not records.database_away


async def test_past_the_bound_the_oldest_records_are_forgotten_not_the_screening() -> None:
    collection = FlakyScreenings()
    records = _records(collection, Clock(), max_unwritten=2)
    collection.away = AutoReconnect("connection refused")
    await records.remember({"p1:1": RECORD, "p2:1": RECORD, "p3:1": RECORD})
    assert records.unwritten == 2 and records.forgotten == 1
    assert await records.unscreened(["p1:1", "p3:1"]) == {"p1:1"}, "a forgotten one is screened again"


async def test_a_database_that_answers_with_an_error_is_screened_past_but_not_taken_for_away() -> None:
    collection = FlakyScreenings()
    records = _records(collection, Clock())
    collection.away = OperationFailure("not authorized")
    assert await records.unscreened(["p1:1"]) == {"p1:1"}, "the records only save work: the post is screened"
    collection.away = None
    await records.remember({"p1:1": {"action": "publish"}})
    assert await records.unscreened(["p1:1"]) == set(), "asked again at once: an error is not an absence"


async def test_a_frozen_database_costs_a_batch_moments_not_its_socket_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    class Frozen(FlakyScreenings):
        def find(self, query: dict[str, Any], projection: dict[str, int]) -> Any:
            class Hanging:
                async def to_list(self, length: int | None) -> list[dict[str, Any]]:
                    await asyncio.sleep(60)
                    return []

            return Hanging()

    monkeypatch.setattr("services.moderation.worker.screening_records.READ_WAIT_S", 0.05)
    records = _records(Frozen(), Clock())
    assert await asyncio.wait_for(records.unscreened(["p1:1"]), 1.0) == {"p1:1"}
    assert records.database_away


async def test_the_records_kept_are_written_when_the_database_is_back_even_if_no_post_arrives() -> None:
    collection, clock = FlakyScreenings(), Clock()
    records = _records(collection, clock)
    collection.away = AutoReconnect("connection refused")
    await records.remember({"p1:1": RECORD})
    collection.away = None
    clock.now += 5.0
    writing = asyncio.create_task(keep_writing_unwritten(records, every_s=0.01))
    try:
        for _ in range(100):
            if not records.unwritten:
                break
            await asyncio.sleep(0.01)
    finally:
        writing.cancel()
    assert set(collection.docs) == {"p1:1"} and records.unwritten == 0
