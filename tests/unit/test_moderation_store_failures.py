"""The review store when the database fails partway: a repeated decision completes its records, and
urgent items already marked for a re-alert are re-alerted in the same round, or on the next one
when Kafka refused them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pymongo.errors import AutoReconnect

from services.common.identities import Identity
from services.moderation.api.realert import UrgentRealerter
from services.moderation.api.sla import SlaMetrics
from streams.events import utc_now
from streams.publishing import EventsUnavailable
from tests.unit.memory_review_db import MemoryReviewDb, review_store

ADA = Identity(id="mod-ada", kind="moderator", role="moderator", name="Ada")
ROOT = Identity(id="admin-root", kind="moderator", role="admin", name="Root")


def _open_item(item_id: str, waited: timedelta = timedelta(0)) -> dict[str, Any]:
    return {
        "_id": item_id,
        "post_id": f"p-{item_id}",
        "thread_id": "t-1",
        "author_id": "m-1",
        "level_rank": 3,
        "status": "open",
        "created_at": utc_now() - waited,
        "claim": None,
        "verdict": {"model_version": "screen-v2"},
    }


def _queued(db: MemoryReviewDb, item: dict[str, Any]) -> None:
    db["review_items"].docs[item["_id"]] = item
    db["review_open"].docs[item["_id"]] = {"_id": item["_id"], "r": item["level_rank"], "c": item["created_at"]}


@pytest.fixture
def db() -> MemoryReviewDb:
    db = MemoryReviewDb()
    _queued(db, _open_item("i-1"))
    db["migrations"].docs["audit_trails"] = {"_id": "audit_trails"}  # trails are read, not the log
    db["migrations"].docs["review_open"] = {"_id": "review_open"}
    return db


@pytest.mark.parametrize(
    ("collection", "method"), [("audit", "insert_one"), ("review_open", "delete_one")], ids=["audit", "queue entry"]
)
async def test_a_decision_repeated_after_the_database_failed_is_closed_and_audited_once(
    db: MemoryReviewDb, collection: str, method: str
) -> None:
    store = review_store(db)
    db[collection].fail(method, call=1)
    with pytest.raises(AutoReconnect):
        await store.decide("i-1", ADA, "remove", "Names a place and a date.")
    _, repeated = await store.decide("i-1", ADA, "remove", "Names a place and a date.")
    await store.decide("i-1", ADA, "remove", "Names a place and a date.")  # its answer lost too: once more
    assert repeated
    entries = await store.audit_log(item_id="i-1")
    assert [(e["action"], e["moderator_id"], e["note"], e["model_version"]) for e in entries] == [
        ("remove", "mod-ada", "Names a place and a date.", "screen-v2")
    ]
    assert len(db["audit"].docs) == 1, "the log itself holds the one entry too"
    assert "i-1" not in db["review_open"].docs


async def test_an_escalation_and_the_admins_decision_after_it_are_both_audited(db: MemoryReviewDb) -> None:
    store = review_store(db)
    await store.decide("i-1", ADA, "escalate", "")
    await store.decide("i-1", ROOT, "approve", "")
    assert [e["action"] for e in await store.audit_log(item_id="i-1")] == ["escalate", "approve"]


class RecordingPublisher:
    def __init__(self) -> None:
        self.realerted: list[str] = []
        self.refusing = False

    async def urgent_unclaimed(self, item: dict[str, Any], waited_s: int) -> None:
        if self.refusing:
            raise EventsUnavailable("KafkaTimeoutError")
        self.realerted.append(item["_id"])


def _realerter(db: MemoryReviewDb, publisher: RecordingPublisher) -> UrgentRealerter:
    return UrgentRealerter(
        review_store(db),
        publisher,  # type: ignore[arg-type]
        SlaMetrics(CollectorRegistry()),
        timedelta(minutes=5),
    )


async def test_an_item_marked_before_the_database_failed_is_realerted_in_the_same_round() -> None:
    db = MemoryReviewDb()
    db["migrations"].docs["review_open"] = {"_id": "review_open"}
    for item_id in ("i-a", "i-b"):
        _queued(db, _open_item(item_id, waited=timedelta(minutes=6)))
    db["review_items"].fail("find_one_and_update", call=2)
    publisher = RecordingPublisher()
    realerter = _realerter(db, publisher)
    assert await realerter.run_once() == 1
    assert publisher.realerted == ["i-a"]
    assert await realerter.run_once() == 1, "the item the failure stopped at is taken on the next round"
    assert publisher.realerted == ["i-a", "i-b"]


async def test_urgent_items_kafka_refused_to_realert_are_realerted_on_the_next_round() -> None:
    db = MemoryReviewDb()
    db["migrations"].docs["review_open"] = {"_id": "review_open"}
    for item_id in ("i-a", "i-b", "i-c"):
        _queued(db, _open_item(item_id, waited=timedelta(minutes=6)))
    publisher = RecordingPublisher()
    realerter = _realerter(db, publisher)
    publisher.refusing = True
    with pytest.raises(EventsUnavailable):
        await realerter.run_once()
    publisher.refusing = False
    assert await realerter.run_once() == 3, "none of them waits another five minutes"
    assert sorted(publisher.realerted) == ["i-a", "i-b", "i-c"]
