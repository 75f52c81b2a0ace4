"""An item's audit trail is read by primary key, complete whether its entries came before or
after the trails existed. Runs the moderation store against the real FerretDB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.common.identities import Identity
from services.moderation.api.store import ModerationStore
from streams.events import PostReported
from tests.harness import StackUnderTest, throwaway_database

pytestmark = pytest.mark.integration

ADA = Identity("m-ada", "moderator", "moderator", "ada")


@pytest.fixture
async def db(stack: StackUnderTest) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    async with throwaway_database(stack, "trails") as database:
        yield database


async def _reported_item(store: ModerationStore, post_id: str) -> dict[str, Any]:
    report = PostReported(
        report_id=f"r-{post_id}", post_id=post_id, thread_id="t-1", reporter_id="u-2", author_id="u-1", reason="spam"
    )
    await store.add_report(report)
    return await store.item(f"report:{post_id}")


class _Filters:
    """The filters the audit log is asked with."""

    def __init__(self, store: ModerationStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[dict[str, Any]] = []
        audit = store._audit
        find = audit.find

        def recorded(query: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            self.seen.append(query)
            return find(query, *args, **kwargs)

        monkeypatch.setattr(audit, "find", recorded)


async def test_an_items_trail_is_its_entries_in_order_read_by_primary_key(
    db: AsyncDatabase[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ModerationStore(db)
    await store.ensure_indexes()
    await store.build_audit_trails()
    item, other = await _reported_item(store, "p-1"), await _reported_item(store, "p-2")
    for action in ("view", "claim", "message"):
        await store.audit(item, ADA, action, f"{action} note")
    await store.audit(other, ADA, "view")
    filters = _Filters(store, monkeypatch)
    trail = await store.audit_log(item_id=item["_id"])
    assert [entry["action"] for entry in trail] == ["view", "claim", "message"]
    assert filters.seen and all(list(query) == ["_id"] for query in filters.seen), filters.seen
    assert await store.audit_log(item_id="report:nothing") == []


async def test_entries_from_before_the_trails_are_listed_once_at_start_up(db: AsyncDatabase[dict[str, Any]]) -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    await db["audit"].insert_many(
        [
            {
                "_id": f"old-{n}",
                "item_id": "report:p-9",
                "post_id": "p-9",
                "action": f"old {n}",
                "at": at + timedelta(minutes=n),
            }
            for n in range(3)
        ]
    )
    store = ModerationStore(db)
    assert [entry["action"] for entry in await store.audit_log(item_id="report:p-9")] == ["old 0", "old 1", "old 2"]
    assert await store.build_audit_trails() == 1
    assert await store.build_audit_trails() == 0, "once per database"
    item = await _reported_item(store, "p-9")
    await store.audit(item, ADA, "view")
    trail = await store.audit_log(item_id="report:p-9")
    assert [entry["action"] for entry in trail] == ["old 0", "old 1", "old 2", "view"]
