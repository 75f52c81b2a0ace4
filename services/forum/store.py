"""The forum's MongoDB data layer (database `haven_forum`).

Uses only what FerretDB and MongoDB both support: CRUD, unique indexes, simple queries. No
transactions: every write is a single-document operation that is safe to repeat.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from services.common.pk_guard import GuardedUpdates, matches
from services.common.pk_lists import ListHead, PkList
from services.forum.boards import Board
from services.forum.post_states import LIVE, Transition, leads_to, refused_from, starts_from, verdict_transition
from services.forum.quote_lists import QuoteLists
from streams.events import PostScreened, PostStatus, utc_now

log = logging.getLogger(__name__)

#: About 200 bytes each: the members active lately, not every member there ever was.
MAX_REMEMBERED_TOKEN_LINKS = 50_000
#: What a thread is called once its starter's words are gone.
REMOVED_TITLE = "[removed]"


class _TokenLink(NamedTuple):
    identity_id: str
    country: str | None


def _may_start(transition: Transition) -> Any:
    """The status filter of a transition: the one status it starts from, or `{"$in": [...]}`."""
    statuses = starts_from(transition)
    return statuses[0] if len(statuses) == 1 else {"$in": list(statuses)}


class InvalidCursor(ValueError):
    pass


@dataclass
class ScreeningApplied:
    """A verdict applied by apply_screenings: the post as apply_screening returns it (None: the
    verdict changed nothing), and its thread when the batch read it."""

    post: dict[str, Any] | None
    thread: dict[str, Any] | None = None


def _screening_update(event: PostScreened, transition: Transition, now: datetime) -> dict[str, Any]:
    """The post fields a verdict sets."""
    status = leads_to(transition)
    update: dict[str, Any] = {
        "status": status,
        "verdict": {
            "risk": event.verdict.risk,
            "categories": list(event.verdict.categories),
            "action": event.verdict.action,
            "reasons": list(event.verdict.reasons),
            "model_version": event.verdict.model_version,
        },
        "resources": [r.model_dump() for r in event.resources],
        "screened_at": now,
    }
    if status == PostStatus.PUBLISHED:
        update["published_at"] = now
    return update


def _applied_before(post: dict[str, Any], event: PostScreened, status: str) -> bool:
    """Whether this very verdict was applied to the post already (the event is a redelivery)."""
    return (
        post.get("revision") == event.revision
        and post.get("pending_body") is None
        and post.get("status") == status
        and (post.get("verdict") or {}).get("action") == event.verdict.action
    )


#: A reaction sent again this soon after the first finds it still being counted (see add_reaction).
RECOUNT_AFTER = timedelta(seconds=10)
#: The most buckets of a board's list one read takes (64 buckets: 4,096 entries).
_MOST_BUCKETS_AT_ONCE = 64


def _listed_entry(thread: dict[str, Any]) -> dict[str, Any] | None:
    """The thread's entry on its board's list as the list holds it, before a move; None if unlisted."""
    if thread.get("board_pos") is None or thread.get("listed_activity") is None:
        return None
    return {"t": thread["_id"], "a": thread["listed_activity"], "i": thread["board_pos"]}


def _approved_early_at(post: dict[str, Any], revision: int) -> bool:
    """Whether a moderator's approval that came before this revision's verdict was applied to it."""
    early = post.get("early_decision") or {}
    return (
        post.get("revision") == revision
        and post.get("status") == PostStatus.PUBLISHED
        and early.get("revision") == revision
        and early.get("decision") == "approve"
    )


def encode_cursor(moment: datetime, doc_id: str) -> str:
    raw = json.dumps([moment.isoformat(), doc_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        moment, doc_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        parsed = datetime.fromisoformat(moment)
        # The driver sends a datetime as UTC: a moment at the calendar's edge with an offset
        # ("9999-12-31T23:00:00-05:00") overflows there, so it is refused here instead.
        if parsed.tzinfo is not None:
            parsed.astimezone(UTC)
        last_id = str(doc_id)
        last_id.encode("utf-8")  # a lone surrogate cannot go into a query (UnicodeEncodeError: a ValueError)
        return parsed, last_id
    # RecursionError: a cursor of nested '['; OverflowError: a moment beyond the calendar in UTC.
    except (ValueError, TypeError, RecursionError, OverflowError) as exc:
        raise InvalidCursor("cursor is not one this API gave out") from exc


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def encode_position(position: int) -> str:
    return base64.urlsafe_b64encode(json.dumps(["i", position]).encode()).decode().rstrip("=")


def decode_position(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        tag, position = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, RecursionError) as exc:
        raise InvalidCursor("cursor is not one this API gave out") from exc
    if tag != "i" or not isinstance(position, int) or isinstance(position, bool) or not 0 <= position < 2**53:
        raise InvalidCursor("cursor is not one this API gave out")
    return position


async def _collect(
    collection: Any,
    entries: list[dict[str, Any]],
    field: str,
    found: list[tuple[int, dict[str, Any]]],
    limit: int,
    live: Callable[[dict[str, Any], dict[str, Any]], bool],
) -> None:
    """Add to `found` the live documents the entries name, until it holds limit + 1: one
    `{_id: {$in: [...]}}` query for as many as are still missing (most entries are live). That
    filter is served by the `_id` index on MongoDB and on Haven's FerretDB build (patches.json)."""
    start = 0
    while start < len(entries) and len(found) <= limit:
        chunk = entries[start : start + limit + 1 - len(found)]
        start += len(chunk)
        wanted = list(dict.fromkeys(e[field] for e in chunk))
        docs = {d["_id"]: d for d in await collection.find({"_id": {"$in": wanted}}).to_list(None)}
        found += [(e["i"], docs[e[field]]) for e in chunk if e[field] in docs and live(e, docs[e[field]])]


def _page(found: list[tuple[int, dict[str, Any]]], limit: int) -> Page:
    if len(found) > limit:
        found = found[:limit]
        return Page([doc for _, doc in found], encode_position(found[-1][0]))
    return Page([doc for _, doc in found], None)


#: What a quote of a deleted post keeps: that there was a quote, no handle, no words.
_QUOTE_OF_DELETED = {"reply_quote.author_handle": None, "reply_quote.excerpt": None, "reply_quote.removed": True}


def _words_deleted() -> dict[str, Any]:
    """The fields an author's deletion sets on each deleted post."""
    return {
        "status": leads_to(Transition.AUTHOR_DELETES),
        "body": None,
        "pending_body": None,
        "verdict": None,
        "moderator_note": None,
        "early_decision": None,
        "deleted_at": utc_now(),
    }


def _nothing_listed(cursor: str | None) -> Page:
    """The page of a list never appended to, which never gave out a cursor: any cursor is refused."""
    if cursor:
        raise InvalidCursor("cursor is not one this API gave out")
    return Page([], None)


#: The `migrations` record that every identity has its token link.
TOKEN_LINKS_MARKER = "token_links"
#: The `migrations` record that every published thread and post is on its page list (page_lists.py).
PAGE_LISTS_MARKER = "page_lists"


class ForumStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], guarded: GuardedUpdates | None = None) -> None:
        self.db = db
        # Every guarded write (verdicts, decisions, edits, post times) is a primary-key hit, also
        # on FerretDB: see services/common/pk_guard.py.
        self._guarded = guarded or GuardedUpdates()
        self._page_lists_complete = False
        # Which replies quote each post, so a post's words leave quotes without a search.
        self.quotes = QuoteLists(db)
        self.identities = db["identities"]
        # token hash -> identity id, so that checking a token is a primary-key lookup on any
        # database (FerretDB, for one, uses an index only for a filter of exactly {_id: value}).
        self.tokens = db["identity_tokens"]
        # A link never changes (a random token's hash names one identity for good), so links are
        # kept in memory too; the identity itself is still read on every request, so an erased,
        # disabled or re-tokened member is refused as before. Each link also keeps the country the
        # identity had when last read: while the database is away, a refusal can still give the
        # member their own country's crisis lines (see crisis_lines.py).
        self._token_links: OrderedDict[str, _TokenLink] = OrderedDict()
        #: Whether `link_every_token` has run on this database: until then a token without a link
        #: may belong to an identity made before links existed, found only by searching.
        self.every_token_linked = False
        self.boards = db["boards"]
        # Boards are seeded and never removed, so one found stays found.
        self._known_boards: set[str] = set()
        self.threads = db["threads"]
        self.posts = db["posts"]
        self.reactions = db["reactions"]
        self.reports = db["reports"]
        # Erased identities' ids and whether their posts lost their words (no words, no handle).
        self.erasures = db["erasures"]
        # Posts whose latest edit may not have reached Kafka: ids and revisions, no words.
        self.unsent_edits = db["unsent_edits"]
        self.revisions = db["post_revisions"]
        # Page read models (services/common/pk_lists.py): a thread's published posts in the order
        # they became visible, and a board's thread activity, newest last. Pages read them by
        # primary key, so a page costs the same in a forum of a thousand posts or of millions.
        self.thread_posts = PkList(db["thread_post_lists"])
        self.board_threads = PkList(db["board_thread_lists"])

    async def ensure_indexes(self) -> None:
        await self.identities.create_index("token_hash", unique=True)
        await self.identities.create_index("handle", unique=True)
        await self.threads.create_index(
            [("board_slug", ASCENDING), ("status", ASCENDING), ("last_activity_at", DESCENDING), ("_id", DESCENDING)]
        )
        await self.posts.create_index(
            [("thread_id", ASCENDING), ("status", ASCENDING), ("published_at", ASCENDING), ("_id", ASCENDING)]
        )
        await self.posts.create_index([("author_id", ASCENDING), ("created_at", DESCENDING)])
        await self.revisions.create_index([("post_id", ASCENDING)])
        await self.posts.create_index([("reply_quote.post_id", ASCENDING)])
        await self.reactions.create_index(
            [("post_id", ASCENDING), ("identity_id", ASCENDING), ("kind", ASCENDING)], unique=True
        )
        await self.reports.create_index([("reporter_id", ASCENDING), ("created_at", DESCENDING)])
        await self.reactions.create_index([("identity_id", ASCENDING)])
        await self.threads.create_index([("first_post_id", ASCENDING)])

    async def seed_boards(self, boards: tuple[Board, ...]) -> None:
        for position, board in enumerate(boards):
            await self.boards.update_one(
                {"_id": board.slug},
                {
                    "$set": {"name": board.name, "description": board.description, "position": position},
                },
                upsert=True,
            )

    # identities

    async def insert_identity(self, doc: dict[str, Any]) -> None:
        await self.identities.insert_one(doc)
        await self.tokens.insert_one({"_id": doc["token_hash"], "identity_id": doc["_id"]})

    async def delete_identity(self, identity_id: str) -> None:
        """The identity first: until it is gone the member's token works, so an erasure the
        database broke off before can be retried. Its token link after, and a link the database
        does not take then is left behind: it names a deleted identity, refuses the token like no
        link would, and is removed when the token is next tried."""
        doc = await self.identities.find_one_and_delete({"_id": identity_id})
        if doc is None:
            return
        self._token_links.pop(doc["token_hash"], None)
        try:
            await self.tokens.delete_one({"_id": doc["token_hash"]})
        except PyMongoError as exc:
            log.warning("an erased identity's token link is left for later (%s)", type(exc).__name__)

    async def identity_by_token_hash(self, token_hash: str) -> dict[str, Any] | None:
        remembered = self._token_links.get(token_hash)
        identity_id = None if remembered is None else remembered.identity_id
        if identity_id is None:
            link = await self.tokens.find_one({"_id": token_hash})
            identity_id = None if link is None else link["identity_id"]
        if identity_id is None and self.every_token_linked:
            return None  # a made-up token costs one primary-key read, never a search
        if identity_id is None:
            # Identities made before the token links existed: find by the indexed field, then link.
            identity = await self.identities.find_one({"token_hash": token_hash})
            if identity is not None:
                await self.tokens.update_one(
                    {"_id": token_hash}, {"$setOnInsert": {"identity_id": identity["_id"]}}, upsert=True
                )
                return None if identity.get("erased") else identity
            return None
        identity = await self.identities.find_one({"_id": identity_id})
        if identity is None or identity.get("erased"):
            self._token_links.pop(token_hash, None)
            if identity is None and remembered is None:
                await self.tokens.delete_one({"_id": token_hash})  # left by an erasure (delete_identity)
            return None
        self._remember_token_link(token_hash, _TokenLink(identity_id, identity.get("country")))
        return identity

    async def link_every_token(self, *, force: bool = False) -> int:
        """Give each identity made before token links existed its link, once per database (the
        forum at start-up, or `haven migrate`); returns how many were linked. On FerretDB, which
        searches a non-`_id` field by reading the whole collection, a made-up token would
        otherwise cost a read of every identity."""
        if not force and await self.db["migrations"].find_one({"_id": TOKEN_LINKS_MARKER}) is not None:
            self.every_token_linked = True
            return 0
        linked = 0
        async for identity in self.identities.find({}, {"token_hash": 1}):
            try:
                result = await self.tokens.update_one(
                    {"_id": identity["token_hash"]}, {"$setOnInsert": {"identity_id": identity["_id"]}}, upsert=True
                )
            except DuplicateKeyError:
                continue  # another forum starting at the same moment linked it (FerretDB's upsert is two steps)
            linked += result.upserted_id is not None
        await self.db["migrations"].update_one({"_id": TOKEN_LINKS_MARKER}, {"$set": {"at": utc_now()}}, upsert=True)
        self.every_token_linked = True
        return linked

    def remembered_country(self, token_hash: str) -> str | None:
        """The country of the identity behind this token when it was last read here, without a
        database read (None: not read lately, or no country). Not a check of the token."""
        link = self._token_links.get(token_hash)
        return None if link is None else link.country

    def _remember_token_link(self, token_hash: str, link: _TokenLink) -> None:
        self._token_links[token_hash] = link
        self._token_links.move_to_end(token_hash)
        while len(self._token_links) > MAX_REMEMBERED_TOKEN_LINKS:
            self._token_links.popitem(last=False)

    async def identity(self, identity_id: str) -> dict[str, Any] | None:
        return await self.identities.find_one({"_id": identity_id})

    async def update_identity(self, identity_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        identity = await self.identities.find_one_and_update(
            {"_id": identity_id}, {"$set": changes}, return_document=ReturnDocument.AFTER
        )
        if identity is not None and identity.get("token_hash") in self._token_links:
            self._remember_token_link(identity["token_hash"], _TokenLink(identity_id, identity.get("country")))
        return identity

    async def erase_identity(self, identity_id: str, *, erase_posts: bool) -> None:
        """The identity goes; its posts stay as "former member", or with erase_posts lose their words.

        Either way the handle leaves the posts and every quote of them: a freed handle may be
        given to someone new, and must never point at them (or back at the erased member).
        Safe to repeat: the identity itself is deleted last, so a failed erasure can be retried.

        A post the member sent at the same moment may be stored after the first look for their
        posts: the posts are looked for again once the identity is gone, and a submission that
        finds its author gone after storing calls `erasure_caught_up` (the choice of erase_posts
        is kept, by identity id, for it).
        """
        await self.erasures.update_one(
            {"_id": identity_id}, {"$set": {"erase_posts": erase_posts, "at": utc_now()}}, upsert=True
        )
        await self._forget_posts_of(identity_id, erase_posts=erase_posts)
        await self.reactions.delete_many({"identity_id": identity_id})
        await self.reports.delete_many({"reporter_id": identity_id})
        await self.delete_identity(identity_id)
        try:
            await self._forget_posts_of(identity_id, erase_posts=erase_posts)
        except PyMongoError as exc:
            # The identity is gone, so the member cannot retry: the erasure's tombstone must still
            # go out. A post stored in between is then caught up only by its own submission.
            log.warning("an erasure's second look for posts failed (%s)", type(exc).__name__)

    async def erasure_caught_up(self, identity_id: str) -> None:
        """Apply the member's erasure to posts stored after it looked for them (see erase_identity)."""
        erasure = await self.erasures.find_one({"_id": identity_id})
        if erasure is not None:
            await self._forget_posts_of(identity_id, erase_posts=bool(erasure.get("erase_posts")))

    async def _forget_posts_of(self, identity_id: str, *, erase_posts: bool) -> None:
        post_ids = [p["_id"] for p in await self.posts.find({"author_id": identity_id}, {"_id": 1}).to_list(None)]
        await self.posts.update_many(
            {"author_id": identity_id}, {"$set": {"author_handle": None, "author_milestone": None}}
        )
        if erase_posts:
            await self._remove_words({"author_id": identity_id}, post_ids)
        elif post_ids:
            await self._set_in_quotes_of(post_ids, {"reply_quote.author_handle": None})

    async def replace_post_times(self, identity: dict[str, Any], times: list[datetime]) -> bool:
        """Compare-and-set of the member's recent post times, against the identity as this request
        read it: False when another post got there first.

        On MongoDB the version guard goes to the server with the write (atomic). On FerretDB the
        write goes by `_id` alone (see services/common/pk_guard.py), so two posts by one member
        read within the same few milliseconds could both be counted from the same times. That is
        one post over a rate limit at worst, and it saves a read on every post.
        """
        guard = {"post_times_version": identity.get("post_times_version")}
        update = {"$set": {"recent_post_times": times}, "$inc": {"post_times_version": 1}}
        [written] = await self._guarded.write_checked(self.identities, [(identity["_id"], guard, update)])
        return written

    async def forget_post_time(self, identity_id: str, at: datetime) -> None:
        await self.identities.update_one({"_id": identity_id}, {"$pull": {"recent_post_times": at}})

    async def start_edit(self, post: dict[str, Any], body: str, redacted: list[str]) -> dict[str, Any] | None:
        """Keep the current version for moderators; the new one waits for screening."""
        # Two edits racing from the same revision keep the same old version once (the loser of the
        # insert finds it there already); the revision guard below lets only one of them through.
        try:
            await self.revisions.insert_one(
                {
                    "_id": f"{post['_id']}:{post['revision']}",
                    "post_id": post["_id"],
                    "revision": post["revision"],
                    "body": post["body"],
                    "saved_at": utc_now(),
                }
            )
        except DuplicateKeyError:
            pass
        started = await self._guarded.find_one_and_update(
            self.posts,
            post["_id"],
            {"revision": post["revision"], "status": _may_start(Transition.AUTHOR_EDITS)},
            {
                "$set": {"pending_body": body, "pending_redacted": redacted, "edited_at": utc_now()},
                "$inc": {"revision": 1},
            },
        )
        if started is None:
            # Deleted by its author since this edit read it: the deletion may have run before the
            # old version above was kept, so it goes now. (Not when another edit won: it shares
            # that old version.)
            now = await self.post(post["_id"])
            if now is None or now["status"] == PostStatus.DELETED:
                await self.revisions.delete_one({"_id": f"{post['_id']}:{post['revision']}"})
        return started

    async def remember_unsent_edit(self, post_id: str, revision: int) -> None:
        """An edit stored but not (knowingly) sent: `resend_edits` sends it again until it goes."""
        await self.unsent_edits.update_one(
            {"_id": post_id}, {"$set": {"revision": revision, "at": utc_now()}}, upsert=True
        )

    async def unsent_edit_records(self) -> list[dict[str, Any]]:
        return await self.unsent_edits.find({}).to_list(None)

    async def forget_unsent_edit(self, post_id: str, revision: int) -> None:
        await self.unsent_edits.delete_one({"_id": post_id, "revision": revision})

    async def delete_post_by_author(self, post: dict[str, Any]) -> None:
        """The author deletes one post (as just read): its words leave it, its old versions, the
        quotes of it and, for a thread's first post, the thread's title. Everything is reached by
        primary key. The post is marked complete last, so a deletion broken off halfway is finished
        by deleting again, and a finished one is not done again."""
        post_id = post["_id"]
        await self.posts.update_one({"_id": post_id}, {"$set": _words_deleted()})
        old_versions = [f"{post_id}:{revision}" for revision in range(1, int(post.get("revision") or 1) + 1)]
        await self.revisions.delete_many({"_id": {"$in": old_versions}})
        await self._set_in_quotes_of([post_id], _QUOTE_OF_DELETED)
        if post.get("is_thread_start"):
            await self._remove_title(post["thread_id"], post_id)
        await self.posts.update_one({"_id": post_id}, {"$set": {"deletion_complete": True}})

    async def _remove_words(self, query: dict[str, Any], post_ids: list[str]) -> None:
        """Every copy of these posts' words: body, pending edit, old revisions, the verdict's quoted
        phrases, the moderator's note, quotes in other members' replies and the titles of threads
        they started. Ids, reactions and the thread's other posts stay. (An erasure: all of a
        member's posts, found by author.)"""
        await self.posts.update_many(query, {"$set": _words_deleted()})
        if not post_ids:
            return
        await self.revisions.delete_many({"post_id": {"$in": post_ids}})
        await self._set_in_quotes_of(post_ids, _QUOTE_OF_DELETED)
        for thread in await self.threads.find(
            {"first_post_id": {"$in": post_ids}}, {"_id": 1, "first_post_id": 1}
        ).to_list(None):
            await self._remove_title(thread["_id"], thread["first_post_id"])

    async def _set_in_quotes_of(self, post_ids: list[str], changes: dict[str, Any]) -> None:
        """Change the quotes of these posts in every reply quoting them."""
        replies = await self.quotes.replies_quoting(post_ids)
        if replies is None:  # quotes from before the lists, not listed yet: the search
            await self.posts.update_many({"reply_quote.post_id": {"$in": post_ids}}, {"$set": changes})
        elif replies:
            await self.posts.update_many({"_id": {"$in": replies}}, {"$set": changes})

    async def _remove_title(self, thread_id: str, first_post_id: str) -> None:
        # The thread stays while others' posts live in it (their words are theirs to keep), under
        # a neutral title; with nobody else in it, it leaves the board as well.
        update: dict[str, Any] = {"title": REMOVED_TITLE, "title_removed": True}
        if not await self._others_live_in(thread_id, first_post_id):
            update["status"] = leads_to(Transition.AUTHOR_DELETES)
        await self.threads.update_one({"_id": thread_id}, {"$set": update})

    async def _others_live_in(self, thread_id: str, first_post_id: str) -> bool:
        """Whether a post besides the first still lives in the thread. The thread's page list names
        its published posts, so one of them usually answers by primary key; a thread with none
        published (its replies all held or pending, or none) is asked of `posts` by thread."""
        length = await self.thread_posts.length(thread_id)
        if length:
            # The newest replies are the likeliest still live.
            entries, _ = await self.thread_posts.backward(thread_id, length)
            listed = [entry["p"] for entry in entries if entry.get("p") != first_post_id]
            if listed:
                found = await self.posts.find({"_id": {"$in": listed}}, {"status": 1}).to_list(None)
                if any(post["status"] in LIVE for post in found):
                    return True
        others = await self.posts.count_documents(
            {"thread_id": thread_id, "is_thread_start": False, "status": {"$in": list(LIVE)}}
        )
        return others > 0

    # reactions and reports

    async def add_reaction(self, post_id: str, identity_id: str, kind: str) -> bool:
        """True when the reaction is new (or its count was still to be made); repeating it changes nothing.

        The reaction is stored as not yet counted, then counted on the post, then marked counted:
        a retry after the count failed makes it (it would otherwise never be made). A repeat
        within RECOUNT_AFTER of the first is taken for a double tap while the first is still
        counting, and counts nothing. Should the mark fail after the count, a later retry counts
        it twice: a number one too high, not a lost one.
        """
        reaction_id = f"{post_id}:{identity_id}:{kind}"
        try:
            await self.reactions.insert_one(
                {
                    "_id": reaction_id,
                    "post_id": post_id,
                    "identity_id": identity_id,
                    "kind": kind,
                    "created_at": utc_now(),
                    "counted": False,
                }
            )
        except DuplicateKeyError:
            earlier = await self.reactions.find_one({"_id": reaction_id}, {"counted": 1, "created_at": 1})
            if earlier is None or earlier.get("counted", True):  # reactions from before the mark were counted
                return False
            if utc_now() - earlier["created_at"] < RECOUNT_AFTER:
                return False
        await self.posts.update_one({"_id": post_id}, {"$inc": {f"reactions.{kind}": 1}})
        await self.reactions.update_one({"_id": reaction_id}, {"$set": {"counted": True}})
        return True

    async def reports_since(self, reporter_id: str, since: datetime) -> int:
        return await self.reports.count_documents({"reporter_id": reporter_id, "created_at": {"$gte": since}})

    async def insert_report(self, doc: dict[str, Any]) -> None:
        await self.reports.insert_one(doc)

    async def delete_report(self, report_id: str) -> None:
        await self.reports.delete_one({"_id": report_id})

    # boards

    async def list_boards(self) -> list[dict[str, Any]]:
        return await self.boards.find({}).sort("position", ASCENDING).to_list(None)

    async def board(self, slug: str) -> dict[str, Any] | None:
        return await self.boards.find_one({"_id": slug})

    async def board_exists(self, slug: str) -> bool:
        if slug not in self._known_boards and await self.board(slug) is not None:
            self._known_boards.add(slug)
        return slug in self._known_boards

    # threads and posts

    async def insert_thread(self, doc: dict[str, Any]) -> None:
        await self.threads.insert_one(doc)

    async def delete_thread(self, thread_id: str) -> None:
        await self.threads.delete_one({"_id": thread_id})

    async def thread(self, thread_id: str) -> dict[str, Any] | None:
        return await self.threads.find_one({"_id": thread_id})

    async def insert_post(self, doc: dict[str, Any]) -> None:
        await self.posts.insert_one(doc)

    async def note_quote(self, quoted_post_id: str, reply_id: str) -> None:
        """Call before storing a reply that quotes a post (see quote_lists.py)."""
        await self.quotes.add(quoted_post_id, reply_id)

    async def delete_post(self, post_id: str) -> None:
        await self.posts.delete_one({"_id": post_id})

    async def clear_reply_quote(self, post_id: str, *, words: bool) -> None:
        """The quoted author's handle leaves the reply's quote; with `words`, the excerpt too."""
        cleared: dict[str, Any] = {"reply_quote.author_handle": None}
        if words:
            cleared |= {"reply_quote.excerpt": None, "reply_quote.removed": True}
        await self.posts.update_one({"_id": post_id}, {"$set": cleared})

    async def post(self, post_id: str) -> dict[str, Any] | None:
        return await self.posts.find_one({"_id": post_id})

    async def page_lists_complete(self) -> bool:
        """Whether every published thread and post is on its page list (built once per database)."""
        if not self._page_lists_complete:
            self._page_lists_complete = await self.db["migrations"].find_one({"_id": PAGE_LISTS_MARKER}) is not None
        return self._page_lists_complete

    async def threads_page(self, board_slug: str, cursor: str | None, limit: int) -> Page:
        """Published threads, most recently active first."""
        head = await self.board_threads.head(board_slug)
        if head is not None:
            return await self._threads_page_from_list(board_slug, head, cursor, limit)
        if await self.page_lists_complete():
            # No list, so no thread was ever published here. The query below would find none
            # either, after reading every thread on FerretDB, for every visitor of an empty board.
            return _nothing_listed(cursor)
        # Old data the lists were not built from yet: the query.
        query: dict[str, Any] = {"board_slug": board_slug, "status": PostStatus.PUBLISHED}
        if cursor:
            moment, last_id = decode_cursor(cursor)
            query["$or"] = [
                {"last_activity_at": {"$lt": moment}},
                {"last_activity_at": moment, "_id": {"$lt": last_id}},
            ]
        docs = (
            await self.threads.find(query)
            .sort([("last_activity_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit + 1)
            .to_list(None)
        )
        next_cursor = None
        if len(docs) > limit:
            docs = docs[:limit]
            next_cursor = encode_cursor(docs[-1]["last_activity_at"], docs[-1]["_id"])
        return Page(docs, next_cursor)

    async def _threads_page_from_list(self, board_slug: str, head: ListHead, cursor: str | None, limit: int) -> Page:
        # An entry counts if its thread is published and still has that entry's activity time; a
        # thread active again since has a newer entry (read first), so older ones are skipped.
        # The cursor is the position of the last thread shown: the next page starts below it.
        length = head.length
        before = decode_position(cursor) if cursor else length
        # From the top, the walk can stop once it has met every thread the list names, however
        # far down the oldest one sits. Where moved-up threads left only empty space (their old
        # entries removed), each read takes twice the buckets of the one before.
        every_thread = head.items if cursor is None else None
        buckets = 2
        if before > length:
            # Lists only grow, so no cursor handed out points past the end; reading down from a
            # forged one would walk empty buckets for as long as its number is large.
            raise InvalidCursor("cursor is not one this API gave out")
        found: list[tuple[int, dict[str, Any]]] = []
        seen: set[str] = set()
        while len(found) <= limit and before > 0 and (every_thread is None or len(seen) < every_thread):
            entries, before = await self.board_threads.backward(board_slug, before, buckets)
            fresh = []
            for entry in entries:
                if entry["t"] not in seen:
                    seen.add(entry["t"])
                    fresh.append(entry)
            buckets = buckets if fresh else min(buckets * 2, _MOST_BUCKETS_AT_ONCE)
            await _collect(
                self.threads,
                fresh,
                "t",
                found,
                limit,
                lambda entry, thread: (
                    thread["status"] == PostStatus.PUBLISHED
                    and thread.get("last_activity_at") == entry["a"]
                    and thread.get("board_pos", entry["i"]) == entry["i"]
                ),
            )
        return _page(found, limit)

    async def published_posts_page(self, thread_id: str, cursor: str | None, limit: int) -> Page:
        """Published posts in the order they became visible, so a page never shifts under a reader."""
        length = await self.thread_posts.length(thread_id)
        if length is not None:
            after = decode_position(cursor) if cursor else -1
            found: list[tuple[int, dict[str, Any]]] = []
            while len(found) <= limit and after < length - 1:
                entries, after = await self.thread_posts.forward(thread_id, after, length)
                # Only the entry at the post's own position: a repeated append is not shown twice.
                await _collect(
                    self.posts,
                    entries,
                    "p",
                    found,
                    limit,
                    lambda entry, post: post["status"] == PostStatus.PUBLISHED and post.get("thread_pos") == entry["i"],
                )
            return _page(found, limit)
        if await self.page_lists_complete():
            return _nothing_listed(cursor)  # no post of this thread was ever published (see threads_page)
        # Old data the lists were not built from yet: the query.
        query: dict[str, Any] = {"thread_id": thread_id, "status": PostStatus.PUBLISHED}
        if cursor:
            moment, last_id = decode_cursor(cursor)
            query["$or"] = [
                {"published_at": {"$gt": moment}},
                {"published_at": moment, "_id": {"$gt": last_id}},
            ]
        docs = (
            await self.posts.find(query)
            .sort([("published_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit + 1)
            .to_list(None)
        )
        next_cursor = None
        if len(docs) > limit:
            docs = docs[:limit]
            next_cursor = encode_cursor(docs[-1]["published_at"], docs[-1]["_id"])
        return Page(docs, next_cursor)

    # materialized screening verdicts

    async def apply_screening(self, event: PostScreened) -> dict[str, Any] | None:
        """Apply a verdict to the revision it screened, if the post still waits for it.

        A verdict for an older revision, or one arriving after the post was removed or deleted,
        changes nothing. Returns the updated post, or None when nothing changed.
        """
        transition = verdict_transition(event.verdict.action, edit=event.kind == "edit")
        now = utc_now()
        update = _screening_update(event, transition, now)
        if event.kind == "edit":
            return await self._apply_edit_screening(event, transition, update)
        post = await self._screen_new_post(event, transition, update)
        if post is None:
            return None
        post = await self._approved_early(event, post)
        status = post["status"]

        async def touch_thread() -> None:
            if event.is_thread_start:
                await self._first_post_settled(event.thread_id, status, now)
            elif status == PostStatus.PUBLISHED:
                await self._list_activity(
                    await self.threads.find_one_and_update(
                        {"_id": event.thread_id},
                        {"$max": {"last_activity_at": now}},
                        return_document=ReturnDocument.AFTER,
                    )
                )

        # The thread (and its board's list) and the thread's post list are separate documents:
        # written side by side, each in its own order, to save the round trips of waiting.
        listed: dict[str, Any]  # what _list_post returns (typeshed's gather gives Any for this pair)
        _, listed = await asyncio.gather(touch_thread(), self._list_post(post))
        return listed

    async def _screen_new_post(
        self, event: PostScreened, transition: Transition, update: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The post with its verdict applied (or applied before: a redelivery), else None."""
        post = await self._guarded.find_one_and_update(
            self.posts, event.post_id, {"revision": event.revision, "status": _may_start(transition)}, {"$set": update}
        )
        if post is None:
            # A redelivery goes on to the thread: the first delivery may have stopped there.
            current = await self.posts.find_one({"_id": event.post_id})
            if current is not None and _applied_before(current, event, leads_to(transition)):
                # Its notices are sent again too: their ids are deterministic, so one whose first
                # send failed goes out now, and one that went out is not duplicated.
                return current
            if current is not None and _approved_early_at(current, event.revision):
                # The verdict had been applied and the early approval with it, which then stopped
                # before the thread or its list were written: the approval finishes them.
                return await self.apply_decision(event.post_id, event.revision, "approve", "")
            return None
        return post

    async def _approved_early(self, event: PostScreened, post: dict[str, Any]) -> dict[str, Any]:
        early = post.get("early_decision") or {}
        held = post["status"] == PostStatus.HELD
        if held and early.get("revision") == event.revision and early.get("decision") == "approve":
            # A moderator approved this revision before its verdict got here (topics are not
            # ordered with each other): the approval stands.
            approved = await self.apply_decision(event.post_id, event.revision, "approve", early.get("note", ""))
            return approved or post
        return post

    async def apply_screenings(self, events: list[PostScreened]) -> dict[str, ScreeningApplied]:
        """Apply many first verdicts at once, with the round trips of one (see apply_screening).

        For a fetched batch of one partition. Posts are written side by side (each its own
        document); each thread's posts join its list in the batch's order with one append, and
        each thread is listed on its board once. Returns, by event id, what apply_screening
        would have returned, with the post's thread when it was read. Edits, and events for a
        post named twice, are left out: they are applied one by one.
        """
        named: dict[str, int] = {}
        for event in events:
            named[event.post_id] = named.get(event.post_id, 0) + 1
        batch = [e for e in events if e.kind == "new" and named[e.post_id] == 1]
        now = utc_now()
        screened, alone = await self._screen_new_posts(batch, now)
        batch = [e for i, e in enumerate(batch) if i not in alone]
        posts = [p for i, p in enumerate(screened) if i not in alone]
        for index, (event, post) in enumerate(zip(batch, posts, strict=True)):
            if post is not None:
                # One at a time: an approval may append to the board's list.
                posts[index] = await self._approved_early(event, post)
        applied = {e.event_id: ScreeningApplied(p) for e, p in zip(batch, posts, strict=True)}
        live = [(e, p) for e, p in zip(batch, posts, strict=True) if p is not None]

        async def touch_threads() -> None:
            touched: dict[str, dict[str, Any] | None] = {}
            starts = [(e, p) for e, p in live if e.is_thread_start]
            started = await asyncio.gather(
                *(
                    self._guarded.find_one_and_update(
                        self.threads,
                        e.thread_id,
                        {"status": PostStatus.PENDING},
                        {"$set": {"status": p["status"], "last_activity_at": now}},
                    )
                    for e, p in starts
                )
            )
            # A redelivery finds the status written; the first delivery may have stopped before the
            # list, so the thread is read and listed (a no-op when it is listed already).
            started = [t or await self.thread(e.thread_id) for (e, _), t in zip(starts, started, strict=True)]
            touched.update({e.thread_id: t for (e, _), t in zip(starts, started, strict=True)})
            replied = sorted(
                {e.thread_id for e, p in live if not e.is_thread_start and p["status"] == PostStatus.PUBLISHED}
            )
            bumped = await asyncio.gather(
                *(
                    self.threads.find_one_and_update(
                        {"_id": thread_id}, {"$max": {"last_activity_at": now}}, return_document=ReturnDocument.AFTER
                    )
                    for thread_id in replied
                )
            )
            touched.update(zip(replied, bumped, strict=True))
            await self._list_activities([t for t in touched.values() if t is not None])
            for event, _ in live:
                applied[event.event_id].thread = touched.get(event.thread_id)

        listed_posts, _ = await asyncio.gather(self._list_posts([p for _, p in live]), touch_threads())
        for (event, _), listed in zip(live, listed_posts, strict=True):
            applied[event.event_id].post = listed
        return applied

    async def _screen_new_posts(
        self, batch: list[PostScreened], now: datetime
    ) -> tuple[list[dict[str, Any] | None], set[int]]:
        """_screen_new_post for many posts, in three round trips whatever their number; also the
        indexes of the events to apply alone (their write did not happen).

        The posts are read together; each one its verdict publishes takes its place in its
        thread's list first (one append per thread, in the batch's order), so that status and
        place are one write; then every post is written in one bulk command. A place appended
        for a write that then did not happen is an entry readers skip (its post never kept it).
        """
        found = await self.posts.find({"_id": {"$in": [e.post_id for e in batch]}}).to_list(None)
        current = {post["_id"]: post for post in found}
        results: list[dict[str, Any] | None] = [None] * len(batch)
        writes: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
        alone: set[int] = set()
        for index, event in enumerate(batch):
            transition = verdict_transition(event.verdict.action, edit=False)
            guard = {"revision": event.revision, "status": _may_start(transition)}
            post = current.get(event.post_id)
            if post is not None and matches(post, guard):
                writes.append((index, guard, _screening_update(event, transition, now)))
            elif post is not None and _applied_before(post, event, leads_to(transition)):
                results[index] = post  # a redelivery goes on to the thread, as apply_screening does
            elif post is not None and _approved_early_at(post, event.revision):
                alone.add(index)  # an early approval to finish (see _screen_new_post)

        publishing: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for index, _, update in writes:
            post = current[batch[index].post_id]
            if update["status"] == PostStatus.PUBLISHED and post.get("thread_pos") is None:
                publishing.setdefault(post["thread_id"], []).append((post["_id"], update))

        async def place(thread_id: str, waiting: list[tuple[str, dict[str, Any]]]) -> None:
            positions = await self.thread_posts.append_many(thread_id, [{"p": post_id} for post_id, _ in waiting])
            for (_, update), position in zip(waiting, positions, strict=True):
                update["thread_pos"] = position

        await asyncio.gather(*(place(thread_id, waiting) for thread_id, waiting in publishing.items()))
        written = await self._guarded.write_checked(
            self.posts, [(batch[index].post_id, guard, {"$set": update}) for index, guard, update in writes]
        )
        for (index, _, update), ok in zip(writes, written, strict=True):
            if ok:
                results[index] = {**current[batch[index].post_id], **update}
            else:
                alone.add(index)
        return results, alone

    async def _list_posts(self, posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """_list_post for many posts: one append per thread, in the order given."""
        waiting: dict[str, list[int]] = {}
        for index, post in enumerate(posts):
            if post["status"] == PostStatus.PUBLISHED and post.get("thread_pos") is None:
                waiting.setdefault(post["thread_id"], []).append(index)
        listed = list(posts)

        async def append(thread_id: str, indexes: list[int]) -> None:
            positions = await self.thread_posts.append_many(thread_id, [{"p": posts[i]["_id"]} for i in indexes])
            await asyncio.gather(
                *(
                    self.posts.update_one({"_id": posts[i]["_id"]}, {"$set": {"thread_pos": position}})
                    for i, position in zip(indexes, positions, strict=True)
                )
            )
            for i, position in zip(indexes, positions, strict=True):
                listed[i] = {**posts[i], "thread_pos": position}

        await asyncio.gather(*(append(thread_id, indexes) for thread_id, indexes in waiting.items()))
        return listed

    async def _list_activities(self, threads: list[dict[str, Any]]) -> None:
        """_list_activity for many threads: one append per board (a board's list has one writer)."""
        by_board: dict[str, list[dict[str, Any]]] = {}
        for thread in threads:
            if (
                thread.get("status") == PostStatus.PUBLISHED
                and thread.get("last_activity_at")
                and thread.get("listed_activity") != thread["last_activity_at"]
            ):
                by_board.setdefault(thread["board_slug"], []).append(thread)

        async def append(board_slug: str, board_threads: list[dict[str, Any]]) -> None:
            positions = await self.board_threads.append_many(
                board_slug,
                [{"t": t["_id"], "a": t["last_activity_at"]} for t in board_threads],
                new_items=sum(t.get("board_pos") is None for t in board_threads),
            )
            await asyncio.gather(
                *(
                    self.threads.update_one(
                        {"_id": t["_id"]}, {"$set": {"listed_activity": t["last_activity_at"], "board_pos": position}}
                    )
                    for t, position in zip(board_threads, positions, strict=True)
                )
            )
            # One after another: on FerretDB an update is a read then a write, so two removals
            # from one bucket at once could put back what the other took out.
            for old in filter(None, map(_listed_entry, board_threads)):
                await self.board_threads.remove(board_slug, old)

        await asyncio.gather(*(append(board, group) for board, group in by_board.items()))

    async def _list_post(self, post: dict[str, Any]) -> dict[str, Any]:
        """A post published for the first time takes the next place in its thread's list.

        After a crash between the append and the write of `thread_pos` the redelivered event
        appends again; readers show the post only at the position it kept.
        """
        if post["status"] != PostStatus.PUBLISHED or post.get("thread_pos") is not None:
            return post
        position = await self.thread_posts.append(post["thread_id"], {"p": post["_id"]})
        await self.posts.update_one({"_id": post["_id"]}, {"$set": {"thread_pos": position}})
        return {**post, "thread_pos": position}

    async def _list_activity(self, thread: dict[str, Any] | None) -> None:
        """The thread's current activity time goes on its board's list (its older entries go stale).

        The thread remembers the position of its entry, and readers count only that one: a
        redelivered verdict (same activity time) is not listed again, and an entry appended twice
        after a crash between the append and this write shows once.
        """
        if thread is None or thread.get("status") != PostStatus.PUBLISHED or not thread.get("last_activity_at"):
            return
        if thread.get("listed_activity") == thread["last_activity_at"]:
            return
        position = await self.board_threads.append(
            thread["board_slug"],
            {"t": thread["_id"], "a": thread["last_activity_at"]},
            new_item=thread.get("board_pos") is None,
        )
        await self.threads.update_one(
            {"_id": thread["_id"]}, {"$set": {"listed_activity": thread["last_activity_at"], "board_pos": position}}
        )
        old = _listed_entry(thread)
        if old is not None:
            # Stale now that the thread has its new place: readers would step over it.
            await self.board_threads.remove(thread["board_slug"], old)

    async def _apply_edit_screening(
        self, event: PostScreened, transition: Transition, update: dict[str, Any]
    ) -> dict[str, Any] | None:
        """A screened edit replaces the shown body if it may be published; otherwise the post is held."""
        status = leads_to(transition)
        refused = refused_from(transition)
        current = await self.posts.find_one({"_id": event.post_id})
        if current is None or current.get("revision") != event.revision or current["status"] in refused:
            return None
        if current.get("pending_body") is None:
            # A redelivery goes on to the thread and the post's place in it, like the first
            # delivery, which may have stopped before them.
            post = current if _applied_before(current, event, status) else None
        else:
            post = await self._publish_edit(event, current, status, update, refused)
        if post is not None and event.is_thread_start:
            # The first post was edited before its first verdict: this verdict is the one that
            # decides whether the thread is listed.
            await self._first_post_settled(event.thread_id, status, utc_now())
        return None if post is None else await self._list_post(post)

    async def _publish_edit(
        self,
        event: PostScreened,
        current: dict[str, Any],
        status: str,
        update: dict[str, Any],
        refused: tuple[PostStatus, ...],
    ) -> dict[str, Any] | None:
        update = {
            **update,
            "body": current["pending_body"],
            "pending_body": None,
            "redacted": current.get("pending_redacted", []),
        }
        if status == PostStatus.PUBLISHED and current.get("published_at"):
            update.pop("published_at", None)  # an edited post keeps its place in the thread
        return await self._guarded.find_one_and_update(
            # The status guard: a verdict racing a moderator's removal never republishes the post.
            self.posts,
            event.post_id,
            {"revision": event.revision, "pending_body": {"$ne": None}, "status": {"$nin": list(refused)}},
            {"$set": update},
        )

    async def _first_post_settled(self, thread_id: str, status: str, now: datetime) -> None:
        """A pending thread takes its first post's verdict, and is listed if that published it.

        Also on a redelivery, which finds the status written: the first delivery may have stopped
        before the list (listing twice is a no-op, see _list_activity).
        """
        written = await self._guarded.find_one_and_update(
            self.threads,
            thread_id,
            {"status": PostStatus.PENDING},
            {"$set": {"status": status, "last_activity_at": now}},
        )
        await self._list_activity(written or await self.thread(thread_id))

    async def _decided_before(self, post_id: str, revision: int, decision: str) -> dict[str, Any] | None:
        """The post when this decision was applied to it already (a redelivery), else None."""
        post = await self.posts.find_one({"_id": post_id})
        if post is None or not post.get("decided_at"):
            return None
        if decision == "remove":
            return post if post["status"] == leads_to(Transition.MODERATOR_REMOVES) else None
        approved = post["status"] == leads_to(Transition.MODERATOR_APPROVES_HELD)
        return post if approved and post.get("revision") == revision else None

    async def apply_decision(self, post_id: str, revision: int, decision: str, note: str) -> dict[str, Any] | None:
        now = utc_now()
        if decision == "approve":
            transition = Transition.MODERATOR_APPROVES_HELD
            post = None
            # A verdict may land between the two writes below (partitions are applied side by
            # side): then the remembered approval missed it, and the held post is approved now.
            for _ in range(2):
                post = await self._guarded.find_one_and_update(
                    self.posts,
                    post_id,
                    {"revision": revision, "status": _may_start(transition)},
                    {"$set": {"status": leads_to(transition), "published_at": now, "decided_at": now}},
                )
                if post is not None:
                    break
                # Approved before its verdict arrived: remembered, applied when the verdict lands.
                if await self._guarded.update_one(
                    self.posts,
                    post_id,
                    {"revision": revision, "status": _may_start(Transition.MODERATOR_APPROVES_BEFORE_VERDICT)},
                    {"$set": {"early_decision": {"revision": revision, "decision": "approve", "note": note}}},
                ):
                    break
        elif decision == "remove":
            transition = Transition.MODERATOR_REMOVES
            post = await self._guarded.find_one_and_update(
                self.posts,
                post_id,
                {"status": _may_start(transition)},
                {"$set": {"status": leads_to(transition), "moderator_note": note, "decided_at": now}},
            )
        else:
            return None
        # A repeated event goes on to what follows: the first may have stopped between writes.
        post = post or await self._decided_before(post_id, revision, decision)
        if post is None:
            return None
        if decision == "remove":
            # A quote of the removed words in another member's reply would keep them public.
            await self._set_in_quotes_of([post_id], {"reply_quote.excerpt": None, "reply_quote.removed": True})
        if post.get("is_thread_start"):
            # The thread takes the status its first post was moved to, at the moment of the
            # decision (the same on a repeat, so a repeat does not bump the thread again).
            await self._list_activity(
                await self.threads.find_one_and_update(
                    {"_id": post["thread_id"]},
                    {"$set": {"status": leads_to(transition)}, "$max": {"last_activity_at": post["decided_at"]}},
                    return_document=ReturnDocument.AFTER,
                )
            )
        return await self._list_post(post)
