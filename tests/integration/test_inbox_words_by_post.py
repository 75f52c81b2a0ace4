"""A deleted post's notes and messages lose their words through the post's list of item ids,
whether they were stored before the lists existed or after. Runs the inbox against the real
FerretDB, which reads every notification for any filter beside `_id`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.notify.inbox_lists import MARKER_ID as INBOX_LISTS_BUILT
from services.notify.store import Inbox, unstored_item
from streams.events import Notification
from tests.harness import StackUnderTest, throwaway_database

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(stack: StackUnderTest) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    async with throwaway_database(stack, "inbox_words") as database:
        await database["migrations"].insert_one({"_id": INBOX_LISTS_BUILT})
        yield database


def _words(n: int, kind: str, field: str, post_id: str = "p-gone") -> Notification:
    return Notification(
        notification_id=f"eve:{kind}:{n}", recipient_id="eve", kind=kind, post_id=post_id, data={field: "you said X"}
    )


async def _stored_by_an_older_version(db: AsyncDatabase[dict[str, Any]], notification: Notification) -> None:
    """As a version without the post lists stored it: in no post's list."""
    item = unstored_item(notification) | {
        "event_key": f"00000000000000000000-{notification.notification_id}",
        "listed": True,
    }
    await db["inbox"].insert_one(item)


async def _data(db: AsyncDatabase[dict[str, Any]], item_id: str) -> dict[str, Any]:
    item = await db["inbox"].find_one({"_id": item_id})
    assert item is not None
    return dict(item["data"])


async def test_notes_from_before_and_after_the_build_lose_their_words(db: AsyncDatabase[dict[str, Any]]) -> None:
    await _stored_by_an_older_version(db, _words(1, "post.removed", "note"))
    await _stored_by_an_older_version(db, _words(2, "message", "text", post_id="p-kept"))
    inbox = Inbox(db)
    assert not await inbox.words_by_post.ready()
    assert await inbox.words_by_post.build(db["inbox"]) == 2
    built = await db["inbox_words_by_post"].find_one({"_id": "p-gone"})
    assert built == {"_id": "p-gone", "items": ["eve:post.removed:1"]}, "only its note: a kind with words, this post"

    after_build = Inbox(db)
    await after_build.store(_words(3, "message", "text"))
    await after_build.store_many([_words(4, "post.removed", "note"), _words(5, "message", "text")])
    listed = await db["inbox_words_by_post"].find_one({"_id": "p-gone"})
    assert listed is not None and len(listed["items"]) == 4

    await after_build.forget_words("p-gone")
    assert await _data(db, "eve:post.removed:1") == {"note": ""}, "stored before the lists existed"
    assert await _data(db, "eve:message:3") == {"text": ""}, "stored one by one after the build"
    assert await _data(db, "eve:post.removed:4") == {"note": ""}, "stored in a batch after the build"
    assert await _data(db, "eve:message:5") == {"text": ""}
    assert await _data(db, "eve:message:2") == {"text": "you said X"}, "about another post"


async def test_before_the_build_a_deletion_still_reaches_older_notes_by_the_query(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    await _stored_by_an_older_version(db, _words(1, "post.removed", "note"))
    inbox = Inbox(db)
    await inbox.forget_words("p-gone")
    assert await _data(db, "eve:post.removed:1") == {"note": ""}
