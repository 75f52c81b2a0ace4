"""A fetched batch of notifications is stored as storing them one by one would: once each, listed
once, in order, never for an erased member. Runs the inbox against the real FerretDB."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from services.common.database_absence import DatabaseAbsence
from services.notify.inbox_lists import MARKER_ID
from services.notify.resumption import REPLAY_PAGE, Resumption
from services.notify.store import Inbox
from streams.events import Notification
from tests.harness import StackUnderTest, throwaway_database

pytestmark = pytest.mark.integration


@pytest.fixture
async def inbox(stack: StackUnderTest) -> AsyncIterator[Inbox]:
    async with throwaway_database(stack, "inbox") as db:
        await db["migrations"].insert_one({"_id": MARKER_ID})
        store = Inbox(db)
        await store.ensure_indexes()
        yield store


def _note(recipient: str, n: int) -> Notification:
    return Notification(notification_id=f"{recipient}:reply:{n}", recipient_id=recipient, kind="reply", post_id=f"p{n}")


async def _ids(inbox: Inbox, recipient: str) -> list[str]:
    items, _ = await inbox.page([recipient], None, 50)
    return [item["_id"] for item in items]


async def test_a_batch_is_stored_once_each_and_listed_newest_first(inbox: Inbox) -> None:
    assert await inbox.lists.ready(), "the test database is marked as migrated to per-recipient lists"
    batch = [_note("ana", 1), _note("ben", 1), _note("ana", 2), _note("ana", 3)]
    stored = await inbox.store_many(batch)
    assert set(stored) == {n.notification_id for n in batch}
    assert await _ids(inbox, "ana") == ["ana:reply:3", "ana:reply:2", "ana:reply:1"]
    assert await _ids(inbox, "ben") == ["ben:reply:1"]
    keys = [stored[n.notification_id]["event_key"] for n in batch if n.recipient_id == "ana"]
    assert keys == sorted(keys), "event keys (the SSE ids) follow the batch's order"


async def test_a_redelivered_batch_keeps_the_first_event_keys_and_lists_nothing_twice(inbox: Inbox) -> None:
    first = await inbox.store_many([_note("ana", 1), _note("ana", 2)])
    single = await inbox.store(_note("ana", 3))
    again = await inbox.store_many([_note("ana", 1), _note("ana", 2), _note("ana", 3), _note("ana", 4)])
    assert again["ana:reply:1"]["event_key"] == first["ana:reply:1"]["event_key"]
    assert again["ana:reply:3"]["event_key"] == single["event_key"]
    assert await _ids(inbox, "ana") == ["ana:reply:4", "ana:reply:3", "ana:reply:2", "ana:reply:1"]


async def test_nothing_is_kept_for_an_erased_member(inbox: Inbox) -> None:
    await inbox.store_many([_note("cat", 1), _note("dan", 1)])
    await inbox.purge("cat")
    stored = await inbox.store_many([_note("cat", 2), _note("dan", 2)])
    assert "cat:reply:2" in stored, "still handed back, to push to what is connected"
    assert await _ids(inbox, "cat") == []
    assert await _ids(inbox, "dan") == ["dan:reply:2", "dan:reply:1"]


async def test_a_batch_larger_than_the_databases_connection_pool_is_stored(inbox: Inbox) -> None:
    # 200 notifications (a full fetch) make a 200-statement bulk update: the command that used to
    # leave stock FerretDB 1.24 waiting for ever on its 100 pooled connections.
    batch = [_note("eve", n) for n in range(200)]
    stored = await asyncio.wait_for(inbox.store_many(batch), timeout=60)
    assert len(stored) == 200
    items, _ = await inbox.page(["eve"], None, 50)
    assert [item["_id"] for item in items] == [f"eve:reply:{n}" for n in range(199, 149, -1)]


async def test_a_moderators_words_about_a_deleted_post_are_not_kept_now_or_later(inbox: Inbox) -> None:
    def words(n: int, kind: str, field: str) -> Notification:
        return Notification(
            notification_id=f"eve:{kind}:{n}",
            recipient_id="eve",
            kind=kind,
            post_id="p-gone",
            data={field: "you said X"},
        )

    await inbox.store(words(1, "message", "text"))
    await inbox.forget_words("p-gone")
    await inbox.store(words(2, "post.removed", "note"))
    await inbox.store_many([words(3, "message", "text"), _note("eve", 9)])
    items, _ = await inbox.page(["eve"], None, 50)
    by_id = {item["_id"]: item for item in items}
    assert by_id["eve:message:1"]["data"] == {"text": ""}
    assert by_id["eve:post.removed:2"]["data"] == {"note": ""}
    assert by_id["eve:message:3"]["data"] == {"text": ""}
    assert "eve:reply:9" in by_id, "other notifications are stored as they are"


class _StaleOnce:
    """The deleted-posts collection as seen by an instance that checked just before another one
    handled the deletion: the first look answers "not deleted" after the other instance acted."""

    def __init__(self, real: Any, meanwhile: Callable[[], Awaitable[None]]) -> None:
        self._real, self._meanwhile = real, meanwhile

    async def find_one(self, *args: Any, **kwargs: Any) -> None:
        await self._meanwhile()
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


async def test_a_deletion_another_instance_handles_during_a_store_still_takes_the_words(inbox: Inbox) -> None:
    other_instance = Inbox(inbox._items.database)
    inbox._deleted_posts = _StaleOnce(inbox._deleted_posts, lambda: other_instance.forget_words("p-race"))
    await inbox.store(
        Notification(
            notification_id="fay:message:1",
            recipient_id="fay",
            kind="message",
            post_id="p-race",
            data={"text": "you said X"},
        )
    )
    items, _ = await inbox.page(["fay"], None, 50)
    assert [item["data"] for item in items] == [{"text": ""}]


class _NoneErasedYet:
    """The erased-members collection as seen by an instance that looked just before another one
    erased the member: the first look answers "not erased" after the other instance purged."""

    def __init__(self, real: Any, meanwhile: Callable[[], Awaitable[None]]) -> None:
        self._real, self._meanwhile = real, meanwhile
        self._looked = False

    async def _first_look(self) -> bool:
        first, self._looked = not self._looked, True
        if first:
            await self._meanwhile()
        return first

    async def find_one(self, *args: Any, **kwargs: Any) -> Any:
        return None if await self._first_look() else await self._real.find_one(*args, **kwargs)

    def find(self, *args: Any, **kwargs: Any) -> Any:
        looker, real = self, self._real

        class _Cursor:
            async def to_list(self, length: int | None) -> list[Any]:
                return [] if await looker._first_look() else await real.find(*args, **kwargs).to_list(length)

        return _Cursor()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@pytest.mark.parametrize("in_a_batch", [False, True])
async def test_an_erasure_another_instance_handles_during_a_store_keeps_nothing(inbox: Inbox, in_a_batch: bool) -> None:
    other_instance = Inbox(inbox._items.database)
    inbox._erased = _NoneErasedYet(inbox._erased, lambda: other_instance.purge("gus"))
    if in_a_batch:
        await inbox.store_many([_note("gus", 1), _note("hal", 1)])
    else:
        await inbox.store(_note("gus", 1))
    assert await _ids(inbox, "gus") == []
    assert await inbox._items.count_documents({"recipient_id": "gus"}) == 0, "nothing of the erased member is kept"
    if in_a_batch:
        assert await _ids(inbox, "hal") == ["hal:reply:1"], "the others in the batch are kept"


async def test_mark_all_read_writes_each_item_once_not_on_every_click(
    inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    await inbox.store_many([_note("ivy", n) for n in range(1, 71)])  # more than one bucket
    writes = 0
    write = inbox._guarded.update_one

    async def counted(*args: Any, **kwargs: Any) -> bool:
        nonlocal writes
        writes += 1
        return await write(*args, **kwargs)

    monkeypatch.setattr(inbox._guarded, "update_one", counted)
    assert await inbox.mark_read("ivy", None) == 70 and writes == 70
    assert await inbox.mark_read("ivy", None) == 0
    assert writes == 70, "a second click finds nothing new to write"
    await inbox.store(_note("ivy", 71))
    assert await inbox.mark_read("ivy", None) == 1 and writes == 71
    items, _ = await inbox.page(["ivy"], None, 100)
    assert len(items) == 71 and all(item["read"] for item in items)


async def test_a_replay_longer_than_a_page_is_written_whole(inbox: Inbox) -> None:
    notes = [_note("zed", n) for n in range(REPLAY_PAGE + 20)]
    for start in range(0, len(notes), 100):
        await inbox.store_many(notes[start : start + 100])
    resumption = Resumption(inbox, DatabaseAbsence("the inbox"), ["zed"], "0")
    replayed = await resumption.catch_up()
    assert [item["_id"] for item in replayed] == [n.notification_id for n in notes]
    assert resumption.caught_up


async def test_a_notification_stored_after_the_replay_comes_before_the_next_live_one(inbox: Inbox) -> None:
    seen = await inbox.store(_note("yan", 1))
    resumption = Resumption(inbox, DatabaseAbsence("the inbox"), ["yan"], seen["event_key"])
    assert await resumption.catch_up() == []
    # Not pushed (nobody was listening when it came), stored after the replay read the inbox:
    await inbox.store(_note("yan", 2))
    live = await inbox.store(_note("yan", 3))
    assert [item["_id"] for item in await resumption.through(live)] == ["yan:reply:2", "yan:reply:3"]


class _NotStoredYet:
    """The items collection as seen by an instance that looked just before another stored the item."""

    def __init__(self, real: Any) -> None:
        self._real, self._looked = real, False

    async def find_one(self, *args: Any, **kwargs: Any) -> Any:
        if not self._looked:
            self._looked = True
            return None
        return await self._real.find_one(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


async def test_an_item_another_instance_stored_but_never_listed_is_listed_by_the_one_that_lost_the_insert(
    inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_instance = Inbox(inbox._items.database)

    async def stops_before_listing(item: dict[str, Any]) -> None:
        raise TimeoutError("the instance stopped before listing what it stored")

    monkeypatch.setattr(other_instance.lists, "add", stops_before_listing)
    with pytest.raises(TimeoutError):
        await other_instance.store(_note("xia", 1))
    inbox._items = _NotStoredYet(inbox._items)  # type: ignore[assignment]
    await inbox.store(_note("xia", 1))  # its insert finds the item there
    assert await _ids(inbox, "xia") == ["xia:reply:1"]


async def test_a_live_item_brings_what_came_before_it_and_nothing_after(inbox: Inbox) -> None:
    seen = await inbox.store(_note("wes", 1))
    resumption = Resumption(inbox, DatabaseAbsence("the inbox"), ["wes"], seen["event_key"])
    assert await resumption.catch_up() == []
    live = await inbox.store(_note("wes", 2))
    await inbox.store(_note("wes", 3))  # stored after: written when its own push comes
    assert [item["_id"] for item in await resumption.through(live)] == ["wes:reply:2"]
