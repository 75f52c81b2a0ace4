"""Inbox lists: newest-first pages and replays after an event key, across buckets and recipients."""

from __future__ import annotations

from typing import Any

import pytest

from services.common.pk_lists import BUCKET
from services.notify.inbox_lists import InboxLists, merge_newest, merge_oldest
from tests.unit.test_pk_lists import PrimaryKeyOnlyCollection


class FakeDb:
    def __init__(self) -> None:
        self.collections: dict[str, PrimaryKeyOnlyCollection] = {}

    def __getitem__(self, name: str) -> PrimaryKeyOnlyCollection:
        return self.collections.setdefault(name, PrimaryKeyOnlyCollection())


def _key(n: int) -> str:
    return f"{n:020d}-n{n}"


@pytest.fixture
async def lists() -> InboxLists:
    inbox = InboxLists(FakeDb())  # type: ignore[arg-type]
    for n in range(3 * BUCKET + 7):
        await inbox.add({"_id": f"n{n}", "recipient_id": "me" if n % 3 else "moderators", "event_key": _key(n)})
    return inbox


async def test_newest_first_then_below_a_cursor(lists: InboxLists) -> None:
    mine = [n for n in range(3 * BUCKET + 7) if n % 3]
    assert [e["n"] for e in await lists.newest("me", None, 5)] == [f"n{n}" for n in mine[::-1][:5]]
    cursor = _key(mine[40])
    assert [e["n"] for e in await lists.newest("me", cursor, 3)] == [f"n{n}" for n in mine[39:36:-1]]
    assert await lists.newest("nobody", None, 5) == []


async def test_replay_after_a_key_is_oldest_first_and_complete(lists: InboxLists) -> None:
    mine = [n for n in range(3 * BUCKET + 7) if n % 3]
    replay = await lists.oldest_after("me", _key(mine[100]), 500)
    assert [e["n"] for e in replay] == [f"n{n}" for n in mine[101:]]


async def test_a_moderator_sees_their_own_and_the_shared_inbox_merged(lists: InboxLists) -> None:
    newest = merge_newest([await lists.newest(r, None, 4) for r in ("me", "moderators")], 4)
    assert [e["n"] for e in newest] == [f"n{n}" for n in range(3 * BUCKET + 6, 3 * BUCKET + 2, -1)]
    oldest = merge_oldest([await lists.oldest_after(r, _key(9), 3) for r in ("me", "moderators")], 3)
    assert [e["n"] for e in oldest] == ["n10", "n11", "n12"]


async def test_every_id_and_drop(lists: InboxLists) -> None:
    ids: list[Any] = await lists.every_id("me")
    assert len(ids) == len([n for n in range(3 * BUCKET + 7) if n % 3]) == len(set(ids))
    await lists.drop("me")
    assert await lists.every_id("me") == [] and await lists.newest("me", None, 5) == []


def test_a_notification_listed_twice_shows_once() -> None:
    twice = [{"n": "a", "k": "3"}, {"n": "b", "k": "2"}, {"n": "a", "k": "3"}, {"n": "c", "k": "1"}]
    assert [e["n"] for e in merge_newest([sorted(twice, key=lambda e: e["k"], reverse=True)], 3)] == ["a", "b", "c"]
    assert [e["n"] for e in merge_oldest([sorted(twice, key=lambda e: e["k"])], 2)] == ["c", "b"]
