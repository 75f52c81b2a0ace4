"""The forum's one "published, or mine" rule: who may read, answer, quote, react to or change what."""

from __future__ import annotations

from typing import Any

import pytest

from services.common.problems import Problem
from services.forum import access
from streams.events import PostStatus

AUTHOR, OTHER = "m-author", "m-other"
NOT_PUBLISHED = [s for s in PostStatus if s is not PostStatus.PUBLISHED]


def _record(status: str, **extra: Any) -> dict[str, Any]:
    return {"_id": "p-1", "thread_id": "t-1", "author_id": AUTHOR, "status": status, **extra}


def _refusal(check: Any, *args: Any) -> tuple[int, str]:
    with pytest.raises(Problem) as raised:
        check(*args)
    return raised.value.status, raised.value.detail


@pytest.mark.parametrize("viewer_id", [AUTHOR, OTHER, None])
def test_a_published_thread_or_post_is_everyones_to_read(viewer_id: str | None) -> None:
    thread, post = _record("published"), _record("published")
    assert access.readable_thread(thread, viewer_id) is thread
    assert access.readable_post(post, viewer_id) is post


@pytest.mark.parametrize("status", NOT_PUBLISHED)
def test_an_unpublished_one_is_seen_by_its_author_only(status: PostStatus) -> None:
    record = _record(status)
    assert access.readable_thread(record, AUTHOR) is record
    assert access.readable_post(record, AUTHOR) is record
    for viewer_id in (OTHER, None):
        assert _refusal(access.readable_thread, record, viewer_id) == (404, "There is no such thread.")
        assert _refusal(access.readable_post, record, viewer_id) == (404, "There is no such post.")


def test_a_missing_one_is_refused_like_a_hidden_one() -> None:
    assert _refusal(access.readable_thread, None, AUTHOR) == (404, "There is no such thread.")
    assert _refusal(access.readable_post, None, AUTHOR) == (404, "There is no such post.")


@pytest.mark.parametrize("status", NOT_PUBLISHED)
def test_only_a_published_thread_takes_replies_even_from_its_author(status: PostStatus) -> None:
    published = _record("published")
    assert access.thread_open_for_replies(published) is published
    for thread in (_record(status), None):
        assert _refusal(access.thread_open_for_replies, thread) == (
            404,
            "There is no such thread (or it is not published yet).",
        )


@pytest.mark.parametrize("status", NOT_PUBLISHED)
def test_only_a_published_post_takes_reactions_and_reports(status: PostStatus) -> None:
    published = _record("published")
    assert access.post_open_to_others(published) is published
    for post in (_record(status), None):
        assert _refusal(access.post_open_to_others, post) == (404, "There is no such post.")


def test_a_reply_quotes_only_a_published_post_of_its_own_thread() -> None:
    quoted = _record("published")
    assert access.quotable_post(quoted, "t-1") is quoted
    refused = (400, "'reply_to' must be a published post of this thread.")
    assert _refusal(access.quotable_post, quoted, "t-2") == refused
    assert _refusal(access.quotable_post, _record("held"), "t-1") == refused
    assert _refusal(access.quotable_post, None, "t-1") == refused


@pytest.mark.parametrize("status", ["pending", "held", "published"])
def test_an_author_may_change_their_post_until_it_is_removed_or_deleted(status: str) -> None:
    post = _record(status)
    assert access.own_changeable_post(post, AUTHOR) is post
    assert _refusal(access.own_changeable_post, post, OTHER) == (404, "There is no such post of yours.")


@pytest.mark.parametrize("status", ["removed", "deleted"])
def test_a_removed_or_deleted_post_is_no_longer_the_authors_to_change(status: str) -> None:
    assert _refusal(access.own_changeable_post, _record(status), AUTHOR) == (404, "There is no such post of yours.")
    assert _refusal(access.own_changeable_post, None, AUTHOR) == (404, "There is no such post of yours.")


def test_an_author_may_delete_their_deleted_post_again_to_finish_a_broken_off_deletion() -> None:
    deleted = _record("deleted")
    assert access.own_deletable_post(deleted, AUTHOR) is deleted
    assert _refusal(access.own_deletable_post, deleted, OTHER) == (404, "There is no such post of yours.")
    assert _refusal(access.own_deletable_post, _record("removed"), AUTHOR) == (404, "There is no such post of yours.")
    assert _refusal(access.own_deletable_post, None, AUTHOR) == (404, "There is no such post of yours.")
