"""Building the page read models from the posts and threads themselves (`haven migrate`).

The forum appends to a thread's post list and a board's thread list as it publishes (see
`ForumStore`). Data written before those lists existed is listed by `build_page_lists`: it reads
every post and thread once, rebuilds each list whole from them (published posts by publication
time, published threads by activity), writes each post's place, then records that it ran.

Idempotent: a list is replaced whole, never appended to, so running it again (or after a crash
halfway) yields the same lists. Run it while no forum materializes events for this database: the
forum runs it at start-up when it has not run yet (one instance locally); with several forum
instances, run `haven migrate` before rolling them out.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from services.common.pk_lists import BUCKET, list_documents
from services.forum.store import PAGE_LISTS_MARKER, ForumStore

log = logging.getLogger(__name__)

_EARLIEST = datetime.min.replace(tzinfo=UTC)
_WRITES_AT_ONCE = 64


async def build_page_lists(store: ForumStore, *, force: bool = False) -> dict[str, int]:
    """Rebuild every thread's and board's page list; returns counts. Skips if built before, unless forced."""
    if not force and await store.page_lists_complete():
        return {"threads": 0, "boards": 0, "posts": 0}
    by_thread: dict[str, list[tuple[datetime, str, Any]]] = {}
    async for post in store.posts.find({}, {"thread_id": 1, "status": 1, "published_at": 1, "thread_pos": 1}):
        if post.get("status") == "published":
            by_thread.setdefault(post["thread_id"], []).append(
                (post.get("published_at") or _EARLIEST, post["_id"], post.get("thread_pos"))
            )
    by_board: dict[str, list[tuple[datetime, str]]] = {}
    unlisted: list[str] = []
    fields = {"board_slug": 1, "status": 1, "last_activity_at": 1, "board_pos": 1}
    async for thread in store.threads.find({}, fields):
        if thread.get("status") == "published" and thread.get("last_activity_at"):
            by_board.setdefault(thread["board_slug"], []).append((thread["last_activity_at"], thread["_id"]))
        elif thread.get("board_pos") is not None:
            unlisted.append(thread["_id"])
    moved = 0
    for thread_id, posts in by_thread.items():
        posts.sort(key=lambda p: (p[0], p[1]))
        await _replace_list(store.thread_posts.collection, thread_id, [{"p": post_id} for _, post_id, _ in posts])
        changed = [(post_id, n) for n, (_, post_id, pos) in enumerate(posts) if pos != n]
        for start in range(0, len(changed), _WRITES_AT_ONCE):
            await asyncio.gather(
                *(
                    store.posts.update_one({"_id": post_id}, {"$set": {"thread_pos": n}})
                    for post_id, n in changed[start : start + _WRITES_AT_ONCE]
                )
            )
        moved += len(changed)
    for board, threads in by_board.items():
        threads.sort()
        await _replace_list(
            store.board_threads.collection, board, [{"t": t, "a": at} for at, t in threads], items=len(threads)
        )
        # Each thread's one entry is where the rebuilt list put it (readers count only that one).
        placed = [(thread_id, n, at) for n, (at, thread_id) in enumerate(threads)]
        for start in range(0, len(placed), _WRITES_AT_ONCE):
            await asyncio.gather(
                *(
                    store.threads.update_one({"_id": thread_id}, {"$set": {"board_pos": n, "listed_activity": at}})
                    for thread_id, n, at in placed[start : start + _WRITES_AT_ONCE]
                )
            )
    # A thread the rebuilt lists leave out has no place on them now: should it be listed again,
    # it is a new thread to its board's count (pk_lists.py), not a move.
    for start in range(0, len(unlisted), _WRITES_AT_ONCE):
        await asyncio.gather(
            *(
                store.threads.update_one({"_id": thread_id}, {"$unset": {"board_pos": "", "listed_activity": ""}})
                for thread_id in unlisted[start : start + _WRITES_AT_ONCE]
            )
        )
    await store.db["migrations"].update_one(
        {"_id": PAGE_LISTS_MARKER}, {"$set": {"at": datetime.now(UTC)}}, upsert=True
    )
    counts = {"threads": len(by_thread), "boards": len(by_board), "posts": moved}
    log.info("page lists built: %(threads)d threads, %(boards)d boards, %(posts)d post places written", counts)
    return counts


async def _replace_list(collection: Any, key: str, entries: list[dict[str, Any]], *, items: int | None = None) -> None:
    head = await collection.find_one({"_id": key})
    old_buckets = -(-int(head["n"]) // BUCKET) if head else 0
    new_docs = list_documents(key, entries, items=items)
    new_ids = {doc["_id"] for doc in new_docs}
    for number in range(old_buckets):
        if f"{key}/{number}" not in new_ids:
            await collection.delete_one({"_id": f"{key}/{number}"})
    for doc in new_docs:
        await collection.replace_one({"_id": doc["_id"]}, doc, upsert=True)
