"""A decision stored but never sent (Kafka refused it and the moderator never sent it again) is
sent later, once; one whose send was confirmed is not."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pymongo.errors import AutoReconnect

from services.common.identities import Identity
from services.moderation.api.decision_resends import UNSENT_AFTER, resend_decisions
from streams.events import utc_now
from streams.publishing import EventsUnavailable
from tests.unit.memory_review_db import MemoryReviewDb, review_store
from tests.unit.test_moderation_store_failures import ADA, ROOT, _open_item


class Publisher:
    def __init__(self) -> None:
        self.refusing = False
        self.sent: list[tuple[str, str, str]] = []

    async def decision(self, item: dict[str, Any], moderator: Identity, decision: str, note: str) -> None:
        if self.refusing:
            raise EventsUnavailable("KafkaTimeoutError")
        self.sent.append((item["_id"], moderator.id, decision))


@pytest.fixture
def db() -> MemoryReviewDb:
    db = MemoryReviewDb()
    for item_id in ("i-1", "i-2"):
        db["review_items"].docs[item_id] = _open_item(item_id)
        db["review_open"].docs[item_id] = {"_id": item_id}
    db["migrations"].docs["audit_trails"] = {"_id": "audit_trails"}
    return db


def _age_markers(db: MemoryReviewDb) -> None:
    for marker in db["unsent_decisions"].docs.values():
        marker["since"] = utc_now() - UNSENT_AFTER - timedelta(seconds=1)


async def test_a_decision_kafka_refused_is_sent_later_by_its_moderator_and_only_once(db: MemoryReviewDb) -> None:
    review, publisher = review_store(db), Publisher()
    await review.decide("i-1", ADA, "approve", "")
    await review.decide("i-2", ADA, "remove", "")
    await review.decision_sent(db["review_items"].docs["i-2"])  # its request sent it
    assert await resend_decisions(review, publisher) == 0, "a request may still be sending it"  # type: ignore[arg-type]

    _age_markers(db)
    publisher.refusing = True
    assert await resend_decisions(review, publisher) == 0  # type: ignore[arg-type]
    publisher.refusing = False
    assert await resend_decisions(review, publisher) == 1  # type: ignore[arg-type]
    assert publisher.sent == [("i-1", ADA.id, "approve")]
    assert await resend_decisions(review, publisher) == 0, "sent once"  # type: ignore[arg-type]


async def test_a_decision_that_was_never_stored_leaves_nothing_to_send(db: MemoryReviewDb) -> None:
    review, publisher = review_store(db), Publisher()
    db["review_items"].fail("find_one_and_update", call=1)  # the database goes before the decision is written
    with pytest.raises(AutoReconnect):
        await review.decide("i-1", ADA, "approve", "")
    _age_markers(db)
    assert await resend_decisions(review, publisher) == 0  # type: ignore[arg-type]
    assert publisher.sent == [] and db["unsent_decisions"].docs == {}, "the item is still open: nothing to send"


async def test_a_later_decisions_marker_outlives_the_send_of_an_earlier_one(db: MemoryReviewDb) -> None:
    review, publisher = review_store(db), Publisher()
    escalated, _ = await review.decide("i-1", ADA, "escalate", "")
    await review.decide("i-1", ROOT, "remove", "")  # the admin's decision; Kafka refuses it
    await review.decision_sent(escalated)  # the escalation's send is confirmed late
    _age_markers(db)
    assert await resend_decisions(review, publisher) == 1  # type: ignore[arg-type]
    assert publisher.sent == [("i-1", ROOT.id, "remove")]


async def test_an_unsent_decision_on_words_the_author_has_since_edited_is_not_sent_over_the_edit(
    db: MemoryReviewDb,
) -> None:
    review, publisher = review_store(db), Publisher()
    await review.decide("i-1", ADA, "remove", "")
    db["review_items"].docs["i-1"]["superseded_by"] = 2  # the edit's verdict came meanwhile
    _age_markers(db)
    assert await resend_decisions(review, publisher) == 0  # type: ignore[arg-type]
    assert publisher.sent == [] and db["unsent_decisions"].docs == {}
