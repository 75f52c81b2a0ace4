"""A post the member sends while erasing themselves is erased too, whether it was stored while the
erasure ran or just after. Runs the forum's store against the real FerretDB."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo.errors import AutoReconnect

from services.forum.store import ForumStore
from services.forum.submission import catch_up_an_erasure
from tests.harness import StackUnderTest, throwaway_database

pytestmark = pytest.mark.integration

WORDS = "my sister's name is Marisol and she lives on Elm Street"


@pytest.fixture
async def store(stack: StackUnderTest) -> AsyncIterator[ForumStore]:
    async with throwaway_database(stack, "erasure_in_flight") as db:
        yield ForumStore(db)


async def _member(store: ForumStore) -> str:
    identity_id = f"m-{uuid.uuid4().hex[:8]}"
    await store.identities.insert_one({"_id": identity_id, "token_hash": f"h-{identity_id}", "handle": "QuietHarbor12"})
    return identity_id


async def _stored_post(store: ForumStore, author_id: str) -> str:
    post_id = f"p-{uuid.uuid4().hex[:8]}"
    await store.insert_post(
        {
            "_id": post_id,
            "thread_id": "t-1",
            "author_id": author_id,
            "author_handle": "QuietHarbor12",
            "revision": 1,
            "status": "pending",
            "body": WORDS,
            "is_thread_start": False,
            "pending_body": None,
        }
    )
    return post_id


async def _left(store: ForumStore, post_id: str) -> dict[str, Any]:
    post = await store.post(post_id)
    assert post is not None
    return {"body": post["body"], "handle": post["author_handle"], "status": post["status"]}


@pytest.mark.parametrize("erase_posts", [True, False])
async def test_a_post_stored_while_the_erasure_runs_is_erased_with_the_rest(
    store: ForumStore, monkeypatch: pytest.MonkeyPatch, erase_posts: bool
) -> None:
    member = await _member(store)
    in_flight: list[str] = []
    delete_identity = store.delete_identity

    async def a_post_lands_first(identity_id: str) -> None:
        in_flight.append(await _stored_post(store, identity_id))  # after the first look for posts
        await delete_identity(identity_id)

    monkeypatch.setattr(store, "delete_identity", a_post_lands_first)
    await store.erase_identity(member, erase_posts=erase_posts)
    left = await _left(store, in_flight[0])
    assert left["handle"] is None
    if erase_posts:
        assert (left["body"], left["status"]) == (None, "deleted")


async def test_a_post_stored_just_after_the_erasure_is_caught_up_by_its_submission(store: ForumStore) -> None:
    member = await _member(store)
    await store.erase_identity(member, erase_posts=True)
    late = await _stored_post(store, member)  # its request was signed in before the erasure
    await catch_up_an_erasure(store, member)
    assert await _left(store, late) == {"body": None, "handle": None, "status": "deleted"}


async def test_an_erasure_whose_second_look_fails_still_ends_so_its_tombstone_goes_out(
    store: ForumStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = await _member(store)
    first_look = store._forget_posts_of
    looks = 0

    async def second_look_fails(identity_id: str, *, erase_posts: bool) -> None:
        nonlocal looks
        looks += 1
        if looks == 2:
            raise AutoReconnect("the database went away after the identity was deleted")
        await first_look(identity_id, erase_posts=erase_posts)

    monkeypatch.setattr(store, "_forget_posts_of", second_look_fails)
    await store.erase_identity(member, erase_posts=True)  # returns: delete_me sends the tombstone next
    assert looks == 2 and await store.identity(member) is None
