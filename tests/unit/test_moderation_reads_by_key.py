"""On FerretDB a filter on anything beside `_id` reads every review item ever queued (20,000 at a
million posts): a moderator's claim took 2 s there, a decision 1 s, a peer report 3 s and a
deleted post's cleanup 1 s. Those paths, and the alerts on the way to a moderator, must reach
`review_items`, the audit log and the post lists by primary key alone."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from services.common.identities import Identity
from services.common.pk_guard import GuardedUpdates
from services.moderation.api.store import ModerationStore, ReviewError
from streams.events import PostReported, PostScreened, Verdict, new_id, utc_now
from tests.unit.memory_review_db import MemoryCollection, MemoryReviewDb
from tests.unit.test_moderation_store_failures import ADA, ROOT, _open_item

BEA = Identity(id="mod-bea", kind="moderator", role="moderator", name="Bea")


def _by_key(query: dict[str, Any]) -> None:
    key = query.get("_id")
    by_list = isinstance(key, dict) and list(key) == ["$in"]
    assert list(query) == ["_id"] and (isinstance(key, str) or by_list), f"reads every item on FerretDB: {query}"


class KeyOnlyItems(MemoryCollection):
    """Review items that refuse any filter but exactly `{_id: id}` or `{_id: {$in: ids}}`."""

    async def find_one(self, query: dict[str, Any], projection: Any = None) -> dict[str, Any] | None:
        _by_key(query)
        return await super().find_one(query, projection)

    def find(self, query: dict[str, Any], projection: Any = None) -> Any:
        _by_key(query)
        return super().find(query, projection)

    async def find_one_and_update(self, query: dict[str, Any], update: dict[str, Any], **kw: Any) -> Any:
        _by_key(query)
        return await super().find_one_and_update(query, update, **kw)

    async def update_one(self, query: dict[str, Any], update: dict[str, Any], upsert: bool = False) -> Any:
        _by_key(query)
        return await super().update_one(query, update, upsert)

    async def update_many(self, query: dict[str, Any], update: dict[str, Any]) -> None:
        _by_key(query)
        await super().update_many(query, update)


@pytest.fixture
def db() -> MemoryReviewDb:
    db = MemoryReviewDb()
    for name in ("review_items", "audit", "review_items_by_post"):
        db.collections[name] = KeyOnlyItems()
    for built in ("audit_trails", "review_open", "review_items_by_post"):
        db["migrations"].docs[built] = {"_id": built}
    for item_id, waited in (("i-1", timedelta(0)), ("i-2", timedelta(minutes=6))):
        item = _open_item(item_id, waited)
        db["review_items"].docs[item_id] = item
        db["review_open"].docs[item_id] = {"_id": item_id, "r": item["level_rank"], "c": item["created_at"]}
    return db


@pytest.fixture
def store(db: MemoryReviewDb) -> ModerationStore:
    # As on FerretDB: guards are checked on the document read by key.
    return ModerationStore(db, guarded=GuardedUpdates(server_has_indexed_filters=False))  # type: ignore[arg-type]


async def test_a_claim_and_a_decision_reach_the_item_by_key_alone(store: ModerationStore, db: MemoryReviewDb) -> None:
    claimed, first = await store.claim("i-1", ADA)
    assert first and claimed["claim"]["moderator_id"] == ADA.id
    _, first_again = await store.claim("i-1", ADA)
    assert not first_again, "a renewal is not a first claim"
    decided, repeated = await store.decide("i-1", ADA, "approve", "")
    assert decided["status"] == "decided" and not repeated
    assert "i-1" not in db["review_open"].docs


async def test_another_moderators_live_claim_still_wins_without_a_guarded_filter(store: ModerationStore) -> None:
    await store.claim("i-1", ADA)
    with pytest.raises(ReviewError) as claim_refused:
        await store.claim("i-1", BEA)
    with pytest.raises(ReviewError) as decision_refused:
        await store.decide("i-1", BEA, "remove", "")
    assert claim_refused.value.status == decision_refused.value.status == 409
    decided, _ = await store.decide("i-1", ROOT, "remove", "")
    assert decided["decision"]["moderator_id"] == ROOT.id, "an admin may decide over a claim"


async def test_a_lapsed_claim_can_be_taken_over(store: ModerationStore, db: MemoryReviewDb) -> None:
    await store.claim("i-1", ADA)
    db["review_items"].docs["i-1"]["claim"]["until"] = utc_now() - timedelta(seconds=1)
    claimed, _ = await store.claim("i-1", BEA)
    assert claimed["claim"]["moderator_id"] == BEA.id


async def test_alerts_and_realerts_read_items_by_key(store: ModerationStore, db: MemoryReviewDb) -> None:
    await store.mark_alerted("i-2")
    assert await store.alerted_items(["i-1", "i-2", "i-unknown"]) == {"i-2"}
    taken = await store.take_unclaimed_urgent(timedelta(minutes=5))
    assert [item["_id"] for item in taken] == ["i-2"], "only the urgent item waiting over five minutes"
    assert await store.take_unclaimed_urgent(timedelta(minutes=5)) == [], "re-alerted once per wait"


def _report(post_id: str, report_id: str | None = None) -> PostReported:
    return PostReported(
        report_id=report_id or new_id(),
        post_id=post_id,
        thread_id="t-1",
        reporter_id=f"m-{new_id()[:6]}",
        author_id="m-1",
        reason="other",
        note="they named the bridge",
    )


async def test_reports_on_a_post_gather_in_its_one_open_item(store: ModerationStore, db: MemoryReviewDb) -> None:
    first = _report("p-9")
    assert await store.add_report(first) == "report"
    assert await store.add_report(_report("p-9")) is None, "joins the open item"
    assert await store.add_report(first) is None, "a redelivery"
    item = db["review_items"].docs["report:p-9"]
    assert len(item["reports"]) == 2
    assert list(db["review_open"].docs) == ["i-1", "i-2", "report:p-9"]


async def test_a_report_after_the_decision_opens_an_item_of_its_own(store: ModerationStore, db: MemoryReviewDb) -> None:
    await store.add_report(_report("p-9"))
    await store.decide("report:p-9", ADA, "approve", "")
    later = _report("p-9")
    assert await store.add_report(later) == "report"
    assert db["review_items"].docs[f"report:p-9:{later.report_id}"]["status"] == "open"
    assert db["audit"].docs[f"reopened:report:p-9:{later.report_id}"]["action"] == "reopened"


async def test_a_deleted_posts_words_leave_its_items_and_audit_notes(
    store: ModerationStore, db: MemoryReviewDb
) -> None:
    await store.add_report(_report("p-9"))
    await store.claim("report:p-9", ADA)
    await store.decide("report:p-9", ADA, "remove", "quotes the bridge")
    await store.forget_post("p-9")
    item = db["review_items"].docs["report:p-9"]
    assert (item["body"], item["reports"][0]["note"], item["decision"]["note"]) == (None, "", "")
    assert [entry["note"] for entry in db["audit"].docs.values()] == ["", ""]


async def _snapshot(store: ModerationStore, post_id: str) -> list[dict[str, Any]]:
    return copy.deepcopy(await store.post_items.of(store._items, post_id))


def _read_first_as(store: ModerationStore, monkeypatch: pytest.MonkeyPatch, stale: list[dict[str, Any]]) -> None:
    """The next read of a post's items sees `stale` (as a read made before another write would)."""
    read, stale_reads = store.post_items.of, iter([stale])

    async def read_before_the_other_write(items: Any, post_id: str) -> list[dict[str, Any]]:
        return next(stale_reads, None) or await read(items, post_id)

    monkeypatch.setattr(store.post_items, "of", read_before_the_other_write)


async def test_a_report_read_before_its_item_was_escalated_still_joins_it(
    store: ModerationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.add_report(_report("p-9"))
    before_escalation = await _snapshot(store, "p-9")
    await store.decide("report:p-9", ADA, "escalate", "needs an admin")
    _read_first_as(store, monkeypatch, before_escalation)
    assert await store.add_report(_report("p-9")) is None, "joined, not a second open item"
    assert len((await store.item("report:p-9"))["reports"]) == 2


async def test_a_report_delivered_twice_at_once_is_filed_once(
    store: ModerationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.add_report(_report("p-9"))
    before_either = await _snapshot(store, "p-9")
    twice = _report("p-9")
    assert await store.add_report(twice) is None
    _read_first_as(store, monkeypatch, before_either)
    assert await store.add_report(twice) is None
    filed = [report["report_id"] for report in (await store.item("report:p-9"))["reports"]]
    assert filed.count(twice.report_id) == 1


async def test_a_held_verdict_replayed_for_an_item_from_before_alert_marks_does_not_alert_again(
    store: ModerationStore, db: MemoryReviewDb
) -> None:
    held = PostScreened(
        post_id="p-old",
        thread_id="t-1",
        board_slug="general",
        author_id="m-1",
        verdict=Verdict(id="p-old", risk="high", action="hold", model_version="screen-v1"),
        body="words",
    )
    assert await store.add_screened(held) == "hold", "the first delivery alerts"
    del db["review_items"].docs["post:p-old:1"]["alerted"]  # stored before the field existed
    assert await store.add_screened(held) is None


def _read_item_first_as(
    store: ModerationStore, monkeypatch: pytest.MonkeyPatch, stale: dict[str, Any], *, reads: int = 1
) -> None:
    """The next `reads` reads of the item see `stale`, as reads made before another write would."""
    read, stale_reads = store.item, iter([copy.deepcopy(stale) for _ in range(reads)])

    async def read_before_the_other_claim(item_id: str) -> dict[str, Any]:
        return next(stale_reads, None) or await read(item_id)

    monkeypatch.setattr(store, "item", read_before_the_other_claim)


async def test_a_claim_read_before_another_moderators_claim_landed_does_not_take_it_over(
    store: ModerationStore, db: MemoryReviewDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    unclaimed = copy.deepcopy(await store.item("i-1"))
    await store.claim("i-1", BEA)
    _read_item_first_as(store, monkeypatch, unclaimed)
    with pytest.raises(ReviewError) as refused:
        await store.claim("i-1", ADA)
    assert refused.value.status == 409
    assert db["review_items"].docs["i-1"]["claim"]["moderator_id"] == BEA.id


async def test_a_decision_read_before_another_moderators_claim_landed_is_refused(
    store: ModerationStore, db: MemoryReviewDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    unclaimed = copy.deepcopy(await store.item("i-1"))
    await store.claim("i-1", BEA)
    _read_item_first_as(store, monkeypatch, unclaimed, reads=2)  # decide reads it twice before writing
    with pytest.raises(ReviewError) as refused:
        await store.decide("i-1", ADA, "remove", "")
    assert refused.value.status == 409
    assert db["review_items"].docs["i-1"]["status"] == "open"
