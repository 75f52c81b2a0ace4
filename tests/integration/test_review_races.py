"""A moderator's decision and another moderator's claim, on the real FerretDB: the claim taken
between the decision's read and its write wins, as it would had it come first."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.common.identities import Identity
from services.moderation.api.store import ModerationStore, ReviewError
from streams.events import PostReported
from tests.harness import StackUnderTest, throwaway_database

pytestmark = pytest.mark.integration

ADA = Identity("m-ada", "moderator", "moderator", "ada")
BEN = Identity("m-ben", "moderator", "moderator", "ben")
ROOT = Identity("m-root", "moderator", "admin", "root")


class ClaimedWhileDeciding(ModerationStore):
    """Ada claims the item just after Ben's decision has read it."""

    async def _admins_only_once_escalated(self, item_id: str, moderator: Identity) -> dict[str, Any]:
        current = await super()._admins_only_once_escalated(item_id, moderator)
        if moderator is not ADA:
            await self.claim(item_id, ADA)
        return current


@pytest.fixture
async def store(stack: StackUnderTest) -> AsyncIterator[ClaimedWhileDeciding]:
    async with throwaway_database(stack, "review") as db:
        review = ClaimedWhileDeciding(db)
        await review.ensure_indexes()
        yield review


async def _reported(store: ModerationStore, post_id: str) -> str:
    level = await store.add_report(
        PostReported(
            report_id=f"r-{post_id}",
            post_id=post_id,
            thread_id="t-1",
            reporter_id="u-2",
            author_id="u-1",
            reason="spam",
        )
    )
    assert level == "report"
    return f"report:{post_id}"  # a report item is named after the post it opened on


async def test_a_claim_taken_after_a_decision_read_the_item_is_not_overridden(store: ClaimedWhileDeciding) -> None:
    item_id = await _reported(store, "p-1")
    with pytest.raises(ReviewError) as refused:
        await store.decide(item_id, BEN, "remove", "")
    assert refused.value.status == 409 and "claim" in refused.value.detail
    item = await store.item(item_id)
    assert item["status"] == "open" and item["claim"]["moderator_id"] == ADA.id


async def test_an_admin_still_decides_over_a_claim(store: ClaimedWhileDeciding) -> None:
    item_id = await _reported(store, "p-2")
    decided, repeat = await store.decide(item_id, ROOT, "approve", "")
    assert decided["status"] == "decided" and not repeat
