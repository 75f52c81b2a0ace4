"""On FerretDB a filter on anything beside `_id` reads every notification ever stored: a deleted
post's cleanup took 4.5 s with the inbox of 100,000 posts. Once the post lists are built, it must
reach `inbox` by primary key alone, and still take the words out of every note and message about
the post, whether stored before the lists existed or after."""

from __future__ import annotations

from typing import Any

import pytest

from services.notify.store import WORDS_BY_KIND, Inbox
from services.notify.words_by_post import WordsByPost
from streams.events import Notification, utc_now
from tests.unit.memory_review_db import MemoryCollection, MemoryReviewDb
from tests.unit.test_moderation_reads_by_key import KeyOnlyItems
from tests.unit.test_pk_lists import PrimaryKeyOnlyCollection


def _stored_by_an_older_version(item_id: str, kind: str, post_id: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "_id": item_id,
        "event_key": f"{item_id}-key",
        "recipient_id": "eve",
        "kind": kind,
        "post_id": post_id,
        "data": data,
        "occurred_at": utc_now(),
        "stored_at": utc_now(),
        "read": False,
        "listed": True,
    }


@pytest.fixture
def db() -> MemoryReviewDb:
    db = MemoryReviewDb()
    db.collections["inbox"] = KeyOnlyItems()
    db.collections["inbox_lists"] = PrimaryKeyOnlyCollection()
    for item in (
        _stored_by_an_older_version("old-note", "post.removed", "p-gone", {"note": "you said X"}),
        _stored_by_an_older_version("old-reply", "reply", "p-gone", {"excerpt": "a reply"}),
        _stored_by_an_older_version("other-post", "message", "p-kept", {"text": "about another post"}),
    ):
        db["inbox"].docs[item["_id"]] = item
    return db


async def _build_as_haven_migrate_does(db: MemoryReviewDb) -> None:
    """The one-time listing is the one scan of the inbox: it reads a view that takes any filter."""
    every_item = MemoryCollection()
    every_item.docs = db["inbox"].docs
    await WordsByPost(db, WORDS_BY_KIND).build(every_item)  # type: ignore[arg-type]


async def test_a_deleted_posts_words_leave_its_notes_and_messages_by_key_alone(db: MemoryReviewDb) -> None:
    await _build_as_haven_migrate_does(db)
    inbox = Inbox(db)  # type: ignore[arg-type]
    await inbox.store(
        Notification(
            notification_id="new-message",
            recipient_id="eve",
            kind="message",
            post_id="p-gone",
            data={"text": "you said X"},
        )
    )

    await inbox.forget_words("p-gone")

    items = db["inbox"].docs
    assert items["old-note"]["data"] == {"note": ""}, "stored before the lists existed"
    assert items["new-message"]["data"] == {"text": ""}, "stored after"
    assert items["old-reply"]["data"] == {"excerpt": "a reply"}, "a kind without a moderator's words"
    assert items["other-post"]["data"] == {"text": "about another post"}
    assert sorted(db["inbox_words_by_post"].docs["p-gone"]["items"]) == ["new-message", "old-note"]
