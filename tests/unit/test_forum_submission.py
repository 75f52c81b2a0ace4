"""One submission use case for a new thread, a reply and an edit: the steps, their order, and the undo."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from pymongo.errors import AutoReconnect

from services.common.problems import Problem
from services.forum import submission
from services.forum.keys import hotline_numbers_key, limits_key, member_turns_key, publisher_key, store_key
from services.forum.limits import MemberTurns, RateLimits
from services.forum.publisher import EventsUnavailable, ForumPublisher
from services.forum.redaction import RedactionTimedOut
from services.forum.store import ForumStore
from services.forum.submission import Draft, read_draft, submit
from services.forum.submission_kinds import Edit, NewThread, Reply, excerpt
from streams.events import PostSubmitted

MEMBER = {"_id": "m-1", "handle": "Calm Otter", "country": "GB", "language": "en"}
THREAD = {"_id": "t-1", "board_slug": "alcohol", "author_id": "m-2", "status": "published"}


class RecordingStore:
    """Records every write, in order. Post times are written as the real store writes them on
    FerretDB: by `_id` alone, trusting the version the caller read."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.member: dict[str, Any] = {**MEMBER, "recent_post_times": [], "post_times_version": None}
        self.posts: dict[str, dict[str, Any]] = {
            "q-1": {
                "_id": "q-1",
                "thread_id": "t-1",
                "status": "published",
                "author_handle": "Brave Heron",
                "body": "One day at a time. " * 30,
            },
            "q-held": {
                "_id": "q-held",
                "thread_id": "t-1",
                "status": "held",
                "author_handle": "Brave Heron",
                "body": "Held.",
            },
        }
        self.threads: dict[str, dict[str, Any]] = {}
        self.edit_conflict = False

    async def identity(self, identity_id: str) -> dict[str, Any] | None:
        return dict(self.member)

    async def replace_post_times(self, identity: dict[str, Any], times: list[datetime]) -> bool:
        self.calls.append("replace_post_times")
        self.member["recent_post_times"] = times
        self.member["post_times_version"] = (self.member["post_times_version"] or 0) + 1
        return True

    async def forget_post_time(self, identity_id: str, at: datetime) -> None:
        self.calls.append("forget_post_time")
        self.member["recent_post_times"] = [t for t in self.member["recent_post_times"] if t != at]

    async def post(self, post_id: str) -> dict[str, Any] | None:
        self.calls.append("post")
        return self.posts.get(post_id)

    async def insert_thread(self, doc: dict[str, Any]) -> None:
        self.calls.append("insert_thread")
        self.threads[doc["_id"]] = doc

    async def note_quote(self, quoted_post_id: str, reply_id: str) -> None:
        self.calls.append("note_quote")

    async def insert_post(self, doc: dict[str, Any]) -> None:
        self.calls.append("insert_post")
        self.posts[doc["_id"]] = doc

    async def clear_reply_quote(self, post_id: str, *, words: bool) -> None:
        self.calls.append("clear_reply_quote")
        quote = self.posts[post_id]["reply_quote"]
        quote["author_handle"] = None
        if words:
            quote.update(excerpt=None, removed=True)

    async def delete_post(self, post_id: str) -> None:
        self.calls.append("delete_post")
        del self.posts[post_id]

    async def delete_thread(self, thread_id: str) -> None:
        self.calls.append("delete_thread")
        del self.threads[thread_id]

    async def start_edit(self, post: dict[str, Any], body: str, redacted: list[str]) -> dict[str, Any] | None:
        self.calls.append("start_edit")
        if self.edit_conflict:
            return None
        return {**post, "revision": post["revision"] + 1, "pending_body": body}

    async def remember_unsent_edit(self, post_id: str, revision: int) -> None:
        self.calls.append("remember_unsent_edit")

    async def thread(self, thread_id: str) -> dict[str, Any] | None:
        return self.threads.get(thread_id)


class RecordingPublisher:
    def __init__(self, store: RecordingStore) -> None:
        self.store = store
        self.sent: list[PostSubmitted] = []
        self.down = False

    async def post_submitted(self, event: PostSubmitted) -> None:
        self.store.calls.append("post_submitted")
        if self.down:
            raise EventsUnavailable("kafka is down")
        self.sent.append(event)


@pytest.fixture
def store() -> RecordingStore:
    return RecordingStore()


@pytest.fixture
def publisher(store: RecordingStore) -> RecordingPublisher:
    return RecordingPublisher(store)


@pytest.fixture
def request_(store: RecordingStore, publisher: RecordingPublisher) -> web.Request:
    app = web.Application()
    app[store_key] = _forum_store(store)
    app[publisher_key] = cast(ForumPublisher, publisher)
    app[limits_key] = RateLimits(posts_per_minute=2, posts_per_hour=5)
    app[member_turns_key] = MemberTurns()
    app[hotline_numbers_key] = frozenset()
    return make_mocked_request("POST", "/", app=app)


def _member(store: RecordingStore) -> dict[str, Any]:
    return dict(store.member)


def _forum_store(store: RecordingStore) -> ForumStore:
    return cast(ForumStore, store)


async def test_a_new_thread_is_redacted_counted_stored_then_sent(
    request_: web.Request, store: RecordingStore, publisher: RecordingPublisher
) -> None:
    draft = Draft(title="Write to me at a@b.com", body="Day one. Call 07700 900123.")
    answer = await submit(request_, _member(store), draft, NewThread(_forum_store(store), _member(store), "alcohol"))
    assert store.calls == ["replace_post_times", "insert_thread", "insert_post", "post_submitted"]
    assert answer == {
        "thread_id": answer["thread_id"],
        "post_id": answer["post_id"],
        "status": "pending",
        "redacted": ["e-mail address", "phone number"],
    }
    thread, post = store.threads[answer["thread_id"]], store.posts[answer["post_id"]]
    (event,) = publisher.sent
    assert "a@b.com" not in thread["title"] and thread["title"] == event.title
    assert "07700" not in post["body"] and post["body"] == event.body
    assert post["is_thread_start"] and event.is_thread_start and event.country == "GB"


async def test_a_thread_kafka_could_not_take_is_undone_and_its_slot_given_back(
    request_: web.Request, store: RecordingStore, publisher: RecordingPublisher
) -> None:
    publisher.down = True
    with pytest.raises(Problem) as raised:
        await submit(
            request_,
            _member(store),
            Draft(title="Day one", body="Still here."),
            NewThread(_forum_store(store), _member(store), "alcohol"),
        )
    assert raised.value.status == 503 and raised.value.headers["Retry-After"] == "5"
    assert raised.value.detail.startswith("We could not save this right now. Nothing was posted")
    assert store.calls == [
        "replace_post_times",
        "insert_thread",
        "insert_post",
        "post_submitted",
        "delete_post",
        "delete_thread",
        "forget_post_time",
    ]
    assert store.threads == {} and set(store.posts) == {"q-1", "q-held"}
    assert store.member["recent_post_times"] == []


async def test_a_reply_checks_its_quote_before_taking_a_slot_and_stores_an_excerpt(
    request_: web.Request, store: RecordingStore, publisher: RecordingPublisher
) -> None:
    answer = await submit(
        request_, _member(store), Draft(body="Thank you."), Reply(_forum_store(store), _member(store), THREAD, "q-1")
    )
    assert store.calls == ["post", "replace_post_times", "note_quote", "insert_post", "post", "post_submitted"]
    assert answer == {"post_id": answer["post_id"], "status": "pending", "redacted": []}
    reply = store.posts[answer["post_id"]]
    assert reply["reply_to"] == "q-1" and reply["thread_id"] == "t-1" and reply["board_slug"] == "alcohol"
    assert reply["reply_quote"] == {
        "post_id": "q-1",
        "author_handle": "Brave Heron",
        "excerpt": excerpt(store.posts["q-1"]["body"]),
    }
    assert len(reply["reply_quote"]["excerpt"]) <= 280 and reply["reply_quote"]["excerpt"].endswith("…")
    assert publisher.sent[0].reply_to == "q-1"


@pytest.mark.parametrize(
    ("landed_meanwhile", "quote_left"),
    [
        ({"author_handle": None}, {"author_handle": None}),
        ({"status": "deleted", "body": None}, {"author_handle": None, "excerpt": None, "removed": True}),
    ],
    ids=["quoted author erased", "quoted post deleted"],
)
async def test_a_reply_stored_after_its_quoted_author_was_erased_or_the_post_deleted_keeps_no_copy(
    request_: web.Request,
    store: RecordingStore,
    monkeypatch: pytest.MonkeyPatch,
    landed_meanwhile: dict[str, Any],
    quote_left: dict[str, Any],
) -> None:
    take_slot = store.replace_post_times

    async def lands_after_the_check(identity: dict[str, Any], times: list[datetime]) -> bool:
        # Its clearing of quotes finds no reply yet: this one is stored only after it.
        store.posts["q-1"].update(landed_meanwhile)
        return await take_slot(identity, times)

    monkeypatch.setattr(store, "replace_post_times", lands_after_the_check)
    answer = await submit(
        request_, _member(store), Draft(body="Thank you."), Reply(_forum_store(store), _member(store), THREAD, "q-1")
    )
    quote = store.posts[answer["post_id"]]["reply_quote"]
    assert {field: quote[field] for field in quote_left} == quote_left


@pytest.mark.parametrize(
    ("reply_to", "detail"),
    [
        (7, "'reply_to' must be a post id."),
        ("q-held", "'reply_to' must be a published post of this thread."),
        ("missing", "'reply_to' must be a published post of this thread."),
    ],
)
async def test_a_reply_with_a_bad_quote_is_refused_without_spending_a_slot(
    request_: web.Request, store: RecordingStore, publisher: RecordingPublisher, reply_to: Any, detail: str
) -> None:
    with pytest.raises(Problem) as raised:
        await submit(
            request_,
            _member(store),
            Draft(body="Thank you."),
            Reply(_forum_store(store), _member(store), THREAD, reply_to),
        )
    assert (raised.value.status, raised.value.detail) == (400, detail)
    assert "replace_post_times" not in store.calls and publisher.sent == []


async def test_a_reply_kafka_could_not_take_is_deleted_and_its_slot_given_back(
    request_: web.Request, store: RecordingStore, publisher: RecordingPublisher
) -> None:
    publisher.down = True
    with pytest.raises(Problem) as raised:
        await submit(
            request_, _member(store), Draft(body="Thank you."), Reply(_forum_store(store), _member(store), THREAD, None)
        )
    assert raised.value.status == 503
    assert store.calls == ["replace_post_times", "insert_post", "post_submitted", "delete_post", "forget_post_time"]


async def test_an_edit_that_lost_a_race_gives_its_slot_back_and_sends_nothing(
    request_: web.Request, store: RecordingStore, publisher: RecordingPublisher
) -> None:
    store.edit_conflict = True
    post = {"_id": "p-1", "thread_id": "t-1", "board_slug": "alcohol", "author_id": "m-1", "revision": 1}
    with pytest.raises(Problem) as raised:
        await submit(request_, _member(store), Draft(body="Edited."), Edit(_forum_store(store), _member(store), post))
    assert raised.value.status == 409
    assert store.calls == ["replace_post_times", "start_edit", "forget_post_time"]
    assert publisher.sent == []


async def test_an_edit_is_sent_as_the_next_revision(
    request_: web.Request, store: RecordingStore, publisher: RecordingPublisher
) -> None:
    post = {"_id": "p-1", "thread_id": "t-1", "board_slug": "alcohol", "author_id": "m-1", "revision": 1}
    answer = await submit(
        request_, _member(store), Draft(body="Edited."), Edit(_forum_store(store), _member(store), post)
    )
    assert answer == {"post_id": "p-1", "status": "pending", "revision": 2, "redacted": []}
    (event,) = publisher.sent
    assert (event.kind, event.revision, event.body) == ("edit", 2, "Edited.")


async def test_an_edit_kafka_could_not_take_yet_is_kept_and_remembered_to_be_sent_again(
    request_: web.Request, store: RecordingStore, publisher: RecordingPublisher
) -> None:
    publisher.down = True
    post = {"_id": "p-1", "thread_id": "t-1", "board_slug": "alcohol", "author_id": "m-1", "revision": 1}
    answer = await submit(
        request_, _member(store), Draft(body="Edited."), Edit(_forum_store(store), _member(store), post)
    )
    assert answer == {"post_id": "p-1", "status": "pending", "revision": 2, "redacted": []}
    assert store.calls == ["replace_post_times", "start_edit", "post_submitted", "remember_unsent_edit"]


async def test_an_edit_of_a_threads_first_post_is_screened_with_the_threads_title(
    request_: web.Request, store: RecordingStore, publisher: RecordingPublisher
) -> None:
    store.threads["t-1"] = {**THREAD, "title": "I can't do this any more"}
    post = {
        "_id": "p-1",
        "thread_id": "t-1",
        "board_slug": "alcohol",
        "author_id": "m-1",
        "revision": 1,
        "is_thread_start": True,
    }
    await submit(request_, _member(store), Draft(body="Edited."), Edit(_forum_store(store), _member(store), post))
    (event,) = publisher.sent
    assert (event.is_thread_start, event.title) == (True, "I can't do this any more")


async def test_a_member_past_the_limit_gets_429_before_anything_is_stored(
    request_: web.Request, store: RecordingStore, publisher: RecordingPublisher
) -> None:
    for _ in range(2):
        await submit(
            request_, _member(store), Draft(body="Hi."), Reply(_forum_store(store), _member(store), THREAD, None)
        )
    store.calls.clear()
    with pytest.raises(Problem) as raised:
        await submit(
            request_, _member(store), Draft(body="Hi."), Reply(_forum_store(store), _member(store), THREAD, None)
        )
    assert raised.value.status == 429 and "Retry-After" in raised.value.headers
    assert store.calls == [] and len(publisher.sent) == 2


async def test_two_posts_sent_together_by_one_member_cannot_both_use_the_last_slot(
    request_: web.Request, store: RecordingStore, publisher: RecordingPublisher
) -> None:
    await submit(request_, _member(store), Draft(body="Hi."), Reply(_forum_store(store), _member(store), THREAD, None))
    # Both requests checked the token (and so read the identity) before either took its slot.
    read_by_both = _member(store)
    results = await asyncio.gather(
        *(
            submit(
                request_, dict(read_by_both), Draft(body="Hi."), Reply(_forum_store(store), read_by_both, THREAD, None)
            )
            for _ in range(2)
        ),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, Problem)]
    assert len(publisher.sent) == 2 and len(store.member["recent_post_times"]) == 2
    assert [r.status for r in refused] == [429]


async def test_a_redaction_timeout_is_a_503_before_any_check_or_slot(
    request_: web.Request, store: RecordingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def timed_out(*args: Any, **kwargs: Any) -> Any:
        raise RedactionTimedOut("busy")

    monkeypatch.setattr(submission, "redact_off_loop", timed_out)
    with pytest.raises(Problem) as raised:
        await submit(
            request_, _member(store), Draft(body="Hi."), Reply(_forum_store(store), _member(store), THREAD, "q-held")
        )
    assert raised.value.status == 503 and raised.value.headers["Retry-After"] == "5"
    assert store.calls == []


def test_a_draft_is_validated_title_first() -> None:
    with pytest.raises(Problem) as raised:
        read_draft({}, titled=True)
    assert (raised.value.status, raised.value.detail) == (400, "'title' is required.")
    with pytest.raises(Problem) as raised:
        read_draft({"body": 5}, titled=False)
    assert (raised.value.status, raised.value.detail) == (400, "'body' must be a string.")
    with pytest.raises(Problem) as raised:
        read_draft({"body": "x" * (submission.MAX_BODY * 4 + 1)}, titled=False)
    assert raised.value.status == 413
    assert read_draft({"title": "Day one", "body": "Still here."}, titled=True) == Draft(
        body="Still here.", title="Day one"
    )


async def test_a_reply_whose_quote_cannot_be_checked_again_is_taken_back(
    request_: web.Request, store: RecordingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = store.post

    async def database_away_after_the_insert(post_id: str) -> dict[str, Any] | None:
        if "insert_post" in store.calls:
            raise AutoReconnect("the database went away")
        return await read(post_id)

    monkeypatch.setattr(store, "post", database_away_after_the_insert)
    with pytest.raises(AutoReconnect):
        await submit(
            request_,
            _member(store),
            Draft(body="Thank you."),
            Reply(_forum_store(store), _member(store), THREAD, "q-1"),
        )
    assert store.calls[-2:] == ["insert_post", "delete_post"]
    assert set(store.posts) == {"q-1", "q-held"}
