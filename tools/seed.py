"""`haven seed --posts N [--threads M] [--members K]`: a forum of a given size, for benchmarks.

Adds N published posts to the running databases (prefix from settings, like every command), with
their threads, members, reactions, inbox items, screenings and moderation history in proportion.
Every seeded document carries `seeded: true`, so seeded data can be told apart and removed.

Documents are shaped like the ones the services write (same collections, same fields) and are
written in bulk (`insert_many`, unordered, a few thousand at a time): a million posts take
minutes, not hours. The indexes come from the stores' own `ensure_indexes`, so a seeded database
is indexed exactly like a live one. Bodies are fixed benign sentences, never real member words.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TextIO

from services.common.pk_lists import list_documents

#: Documents per insert_many call.
BATCH = 2_000
#: The forum collection that remembers how many posts were seeded (a primary-key read).
SEED_STATE_ID = "seed"

_BODIES = (
    "Day {n}. Went to a meeting and actually talked this time.",
    "Cravings were loud tonight but I made tea and called my sponsor instead.",
    "Week {n} without a drink. Sleeping better. Thank you all for being here at 3am.",
    "My sister picked me up from the clinic today. Small things feel big.",
    "Read the thread twice tonight. It helps to know others get through this.",
)
_REACTIONS = ("hug", "strength", "me_too")


@dataclass(frozen=True)
class SeedPlan:
    """How much to add. Threads and members default to one per 20 and one per 10 posts."""

    posts: int
    threads: int
    members: int
    boards: tuple[str, ...]
    #: A member who receives a share of the inbox items (a benchmark's own reader), if any.
    focus_member_id: str | None = None
    #: Seeded times end here and go back one second per post, so live posts stay newest.
    now: datetime = field(default_factory=lambda: _utc_now())

    @classmethod
    def of(
        cls,
        posts: int,
        threads: int | None,
        members: int | None,
        boards: tuple[str, ...],
        focus_member_id: str | None = None,
    ) -> SeedPlan:
        if posts < 1:
            raise ValueError("--posts must be at least 1")
        threads = max(1, posts // 20) if threads is None else threads
        members = max(1, posts // 10) if members is None else members
        if not 1 <= threads <= posts or members < 1:
            raise ValueError("--threads must be from 1 to --posts, and --members at least 1")
        return cls(posts, threads, members, boards, focus_member_id)


def _utc_now() -> datetime:
    from streams.events import utc_now

    return utc_now()


@dataclass
class SeedBatch:
    """What one slice of the plan adds, per database and collection."""

    forum: dict[str, list[dict[str, Any]]]
    notify: dict[str, list[dict[str, Any]]]
    moderation: dict[str, list[dict[str, Any]]]

    def size(self) -> int:
        return sum(len(docs) for part in (self.forum, self.notify, self.moderation) for docs in part.values())


def plan_batches(plan: SeedPlan, run_id: str, batch_posts: int = BATCH) -> Iterator[tuple[int, SeedBatch]]:
    """The seeded documents, a slice of posts at a time: yields (posts so far, documents).

    Pure: no database, so a test can check shapes and proportions. Threads hold runs of
    consecutive posts (post k is in thread k * threads // posts; threads go round the boards), post
    k is written by member k % members. Every 2nd post gets a reaction and its author an inbox
    item; every 50th post went through the review queue and was decided. A thread's post list
    (the page read model) is written with its last post; its board's list is `board_entries`.
    """
    members = [f"seed-{run_id}-m{i}" for i in range(plan.members)]
    done = 0
    if plan.members:
        yield (
            0,
            SeedBatch(
                forum={"identities": [_identity(m, _handle(run_id, i), plan.now) for i, m in enumerate(members)]},
                notify={},
                moderation={},
            ),
        )
    while done < plan.posts:
        upto = min(plan.posts, done + batch_posts)
        forum: dict[str, list[dict[str, Any]]] = {"threads": [], "posts": [], "reactions": [], "thread_post_lists": []}
        notify: dict[str, list[dict[str, Any]]] = {"inbox": []}
        moderation: dict[str, list[dict[str, Any]]] = {
            "screenings": [],
            "review_items": [],
            "audit": [],
            "audit_trails": [],
            "review_items_by_post": [],
        }
        for k in range(done, upto):
            thread_no = k * plan.threads // plan.posts
            thread_id = f"seed-{run_id}-t{thread_no}"
            board = plan.boards[thread_no % len(plan.boards)]
            author = members[k % plan.members]
            post_id = f"seed-{run_id}-p{k}"
            at = _at(plan, k)
            first, last = _first_post(plan, thread_no), _first_post(plan, thread_no + 1) - 1
            is_start = k == first
            if is_start:
                forum["threads"].append(
                    {
                        "_id": thread_id,
                        "board_slug": board,
                        "title": f"Seeded thread {thread_no}",
                        "author_id": author,
                        "first_post_id": post_id,
                        "status": "published",
                        "created_at": at,
                        "last_activity_at": _at(plan, last),
                        "seeded": True,
                    }
                )
            if k == last:
                forum["thread_post_lists"] += [
                    {**doc, "seeded": True}
                    for doc in list_documents(thread_id, [{"p": f"seed-{run_id}-p{j}"} for j in range(first, last + 1)])
                ]
            forum["posts"].append(
                {
                    "_id": post_id,
                    "thread_id": thread_id,
                    "board_slug": board,
                    "author_id": author,
                    "author_handle": _handle(run_id, k % plan.members),
                    "body": _BODIES[k % len(_BODIES)].format(n=k % 400 + 1),
                    "status": "published",
                    "revision": 1,
                    "is_thread_start": is_start,
                    "reply_to": None,
                    "created_at": at,
                    "published_at": at,
                    "screened_at": at,
                    "reactions": {"hug": 1 if k % 2 == 0 else 0, "strength": 0, "me_too": 0},
                    "resources": [],
                    "author_milestone": None,
                    "redacted": [],
                    "reply_quote": None,
                    "thread_pos": k - first,
                    "verdict": {
                        "risk": 0.01,
                        "categories": [],
                        "action": "publish",
                        "reasons": [],
                        "model_version": "seed",
                    },
                    "seeded": True,
                }
            )
            moderation["screenings"].append(
                {
                    "_id": f"{post_id}:1",
                    "action": "publish",
                    "risk": 0.01,
                    "screened_at": at,
                    "seeded": True,
                }
            )
            if k % 2 == 0:
                reactor = members[(k + 1) % plan.members]
                forum["reactions"].append(
                    {
                        "_id": f"{post_id}:{reactor}:hug",
                        "post_id": post_id,
                        "identity_id": reactor,
                        "kind": "hug",
                        "created_at": at,
                        "seeded": True,
                    }
                )
                recipient = plan.focus_member_id if plan.focus_member_id and k % 4 == 0 else author
                notify["inbox"].append(
                    {
                        "_id": f"reaction:{post_id}:{reactor}:hug",
                        "event_key": f"{_ns(at):020d}-seed{k}",
                        "recipient_id": recipient,
                        "kind": "reaction",
                        "post_id": post_id,
                        "data": {"reaction": "hug"},
                        "occurred_at": at,
                        "stored_at": at,
                        "read": k % 3 == 0,
                        "seeded": True,
                    }
                )
            if k % 50 == 25:
                item_id = f"post:{post_id}:1"
                moderation["review_items"].append(
                    {
                        "_id": item_id,
                        "post_id": post_id,
                        "thread_id": thread_id,
                        "author_id": author,
                        "revision": 1,
                        "board_slug": board,
                        "title": None,
                        "body": None,
                        "verdict": None,
                        "resources": [],
                        "reports": [],
                        "level_rank": 1,
                        "status": "decided",
                        "created_at": at,
                        "decision": {"decision": "approve", "note": "", "moderator_id": "seed", "at": at},
                        "seeded": True,
                    }
                )
                moderation["review_items_by_post"].append({"_id": post_id, "items": [item_id], "seeded": True})
                moderation["audit_trails"] += [
                    {**doc, "seeded": True} for doc in list_documents(item_id, [{"a": f"seed-{run_id}-a{k}"}])
                ]
                moderation["audit"].append(
                    {
                        "_id": f"seed-{run_id}-a{k}",
                        "item_id": item_id,
                        "post_id": post_id,
                        "moderator_id": "seed",
                        "moderator_name": "seed",
                        "action": "approve",
                        "note": "",
                        "at": at,
                        "seeded": True,
                    }
                )
        done = upto
        yield done, SeedBatch(forum=forum, notify=notify, moderation=moderation)


def _first_post(plan: SeedPlan, thread_no: int) -> int:
    # The smallest k with k * threads // posts == thread_no.
    return -(-thread_no * plan.posts // plan.threads)


def _at(plan: SeedPlan, k: int) -> datetime:
    # Milliseconds, as the database keeps them, so read-model entries compare equal to documents.
    return (plan.now - timedelta(seconds=plan.posts - k)).replace(microsecond=plan.now.microsecond // 1000 * 1000)


def board_entries(plan: SeedPlan, run_id: str) -> dict[str, list[dict[str, Any]]]:
    """Per board, its seeded threads' list entries, least recently active first."""
    entries: dict[str, list[dict[str, Any]]] = {}
    for thread_no in range(plan.threads):
        entries.setdefault(plan.boards[thread_no % len(plan.boards)], []).append(
            {"t": f"seed-{run_id}-t{thread_no}", "a": _at(plan, _first_post(plan, thread_no + 1) - 1)}
        )
    return entries


def _identity(member_id: str, handle: str, now: datetime) -> dict[str, Any]:
    # A token hash no token can have (not hex): seeded members can never sign in.
    return {
        "_id": member_id,
        "handle": handle,
        "token_hash": f"seeded:{member_id}",
        "country": "GB",
        "language": "en",
        "sober_since": None,
        "show_milestone": True,
        "created_at": now,
        "seeded": True,
    }


def _handle(run_id: str, n: int) -> str:
    # Handles are unique across the forum: each seeding run has its own.
    return f"Seed{run_id}Member{n}"


def _ns(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000) * 1_000


class Progress:
    """A one-line progress bar on stderr (redrawn at most 10 times a second)."""

    def __init__(self, total: int, out: TextIO = sys.stderr, width: int = 30) -> None:
        self.total, self.out, self.width = total, out, width
        self.started = time.perf_counter()
        self._drawn = 0.0

    def show(self, done: int, *, final: bool = False) -> None:
        now = time.perf_counter()
        if not final and now - self._drawn < 0.1:
            return
        self._drawn = now
        share = done / self.total if self.total else 1.0
        filled = int(share * self.width)
        elapsed = now - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        self.out.write(
            f"\r[{'#' * filled}{'.' * (self.width - filled)}] {share:4.0%} {done}/{self.total} posts"
            f"  {elapsed:5.0f} s  {rate:7.0f} posts/s"
        )
        if final:
            self.out.write("\n")
        self.out.flush()


async def seed(settings: Any, plan: SeedPlan, *, progress: bool = True) -> int:
    """Write the plan to the databases named by `settings`; returns how many posts are seeded now.

    Not idempotent by design (each run adds a new slice under its own run id); the running total
    is kept in the forum's `seed_state` document.
    """
    from services.common.mongo import create_mongo_client
    from services.forum.store import ForumStore
    from services.moderation.api.store import ModerationStore
    from services.notify.inbox_lists import InboxLists
    from services.notify.store import Inbox
    from streams.events import new_id

    client = create_mongo_client(settings)
    try:
        forum_db = client[settings.database_name("forum")]
        notify_db = client[settings.database_name("notify")]
        moderation_db = client[settings.database_name("moderation")]
        store = ForumStore(forum_db)
        await store.ensure_indexes()
        await Inbox(notify_db).ensure_indexes()
        await ModerationStore(moderation_db).ensure_indexes()
        from services.forum.boards import SEEDED_BOARDS

        await store.seed_boards(SEEDED_BOARDS)
        bar = Progress(plan.posts) if progress else None
        run_id = new_id()[:8]
        inboxes: dict[str, list[dict[str, Any]]] = {}
        for done, batch in plan_batches(plan, run_id):
            for item in batch.notify.get("inbox", []):
                inboxes.setdefault(item["recipient_id"], []).append({"n": item["_id"], "k": item["event_key"]})
            await asyncio.gather(
                *(
                    db[name].insert_many(docs, ordered=False)
                    for db, part in (
                        (forum_db, batch.forum),
                        (notify_db, batch.notify),
                        (moderation_db, batch.moderation),
                    )
                    for name, docs in part.items()
                    if docs
                )
            )
            if bar:
                bar.show(done)
        for board, entries in board_entries(plan, run_id).items():
            await store.board_threads.extend(board, entries, new_items=len(entries))
        await _write_inbox_lists(InboxLists(notify_db), inboxes, plan.focus_member_id)
        if bar:
            bar.show(plan.posts, final=True)
        state = await forum_db["seed_state"].find_one_and_update(
            {"_id": SEED_STATE_ID}, {"$inc": {"posts": plan.posts}}, upsert=True, return_document=True
        )
        return int(state["posts"]) if state else plan.posts
    finally:
        await client.close()


async def _write_inbox_lists(lists: Any, inboxes: dict[str, list[dict[str, Any]]], existing_member: str | None) -> None:
    """Each seeded recipient's inbox list: new members' lists in bulk, the focus member's appended."""
    docs: list[dict[str, Any]] = []
    for recipient, entries in inboxes.items():
        if recipient == existing_member:
            await lists.lists.extend(recipient, entries)
            continue
        docs += [{**doc, "seeded": True} for doc in list_documents(recipient, entries)]
        if len(docs) >= BATCH:
            await lists.lists.collection.insert_many(docs, ordered=False)
            docs = []
    if docs:
        await lists.lists.collection.insert_many(docs, ordered=False)


async def seeded_posts(settings: Any) -> int:
    from services.common.mongo import create_mongo_client

    client = create_mongo_client(settings)
    try:
        state = await client[settings.database_name("forum")]["seed_state"].find_one({"_id": SEED_STATE_ID})
        return int(state["posts"]) if state else 0
    finally:
        await client.close()


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--posts", type=int, required=True, help="published posts to add")
    parser.add_argument("--threads", type=int, default=None, help="threads to spread them over (default posts/20)")
    parser.add_argument("--members", type=int, default=None, help="members who wrote them (default posts/10)")


def run(args: argparse.Namespace) -> int:
    from services.forum.boards import SEEDED_BOARDS

    try:
        plan = SeedPlan.of(args.posts, args.threads, args.members, tuple(b.slug for b in SEEDED_BOARDS))
    except ValueError as exc:
        print(f"haven seed: {exc}", file=sys.stderr)
        return 2
    settings = args.settings
    started = time.perf_counter()
    total = asyncio.run(seed(settings, plan))
    print(
        f"seeded {plan.posts} posts, {plan.threads} threads, {plan.members} members in "
        f"{time.perf_counter() - started:.1f} s; {total} seeded posts in {settings.database_name('forum')}"
    )
    return 0
