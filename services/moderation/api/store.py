"""The review queue and its audit log (database `haven_moderation`).

Items come from held verdicts (posts.screened) and peer reports (posts.reported), upserted by a
deterministic id so a redelivered event changes nothing. A claim is a lease: while it is live,
only its holder (or an admin) may decide the item.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from services.common.identities import Identity
from services.common.pk_guard import GuardedUpdates
from services.moderation.api.audit_trails import AuditTrails
from services.moderation.api.open_queue import OpenQueue, queue_key
from services.moderation.api.post_items import PostItems
from services.moderation.api.queue_listing import QueuePosition
from services.moderation.api.quoted_words import verdict_without_words
from services.moderation.api.urgent_pages import queue_item_id
from streams.events import PostReported, PostScreened, new_id, utc_now

LEVELS = {"urgent": 3, "hold": 2, "report": 1, "other": 0}
LEVEL_NAMES = {rank: name for name, rank in LEVELS.items()}
OPEN_STATUSES = ("open", "escalated")
CLAIM_LEASE = timedelta(minutes=10)
#: Tries at a guarded write when the item changed between its read and the write.
_WRITE_ATTEMPTS = 3
#: Urgent items re-alerted at most per round; the rest wait for the next.
_REALERTS_PER_ROUND = 100
#: More audit entries than one item ever gathers (a claim, a view and a message each add one).
_EVERY_ENTRY = 100_000
_ERASED_AUTHOR = {"author_id": None, "erased_author": True}

log = logging.getLogger(__name__)


class ReviewError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _closed(item: dict[str, Any]) -> ReviewError:
    if item["status"] == "superseded":
        return ReviewError(
            409, "The author has edited this post since; its new version is screened and queued if held."
        )
    return ReviewError(409, "This item has been decided already.")


class ModerationStore:
    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        claim_lease: timedelta = CLAIM_LEASE,
        guarded: GuardedUpdates | None = None,
    ) -> None:
        self._items = db["review_items"]
        self._guarded = guarded or GuardedUpdates()
        self._audit = db["audit"]
        # Ids of deleted posts and erased authors (no words): an item arriving after its
        # deletion or erasure loses its words too.
        self._erasures = db["erasures"]
        # The open items apart from the whole history, so listing the queue does not read every
        # decided item (see open_queue.py).
        self._open = OpenQueue(db)
        # Each item's audit entries by primary key, so the console's trail never reads the log.
        self.trails = AuditTrails(db)
        # Each post's item ids by primary key, so reports and deletions never read every item.
        self.post_items = PostItems(db)
        # Items whose decision is stored but not yet known to have been sent (decision_resends.py).
        self._unsent_decisions = db["unsent_decisions"]
        self._lease = claim_lease

    async def ensure_indexes(self) -> None:
        await self._items.create_index([("status", ASCENDING), ("level_rank", DESCENDING), ("created_at", ASCENDING)])
        await self._items.create_index([("post_id", ASCENDING)])
        await self._audit.create_index([("post_id", ASCENDING), ("at", ASCENDING)])
        await self._audit.create_index([("item_id", ASCENDING), ("at", ASCENDING)])
        await self._items.create_index([("author_id", ASCENDING)])
        await self._open.ensure_indexes()
        await self._audit.create_index([("at", DESCENDING)])

    async def build_audit_trails(self) -> int:
        """List the entries written before the trails existed (once per database)."""
        return await self.trails.build(self._audit)

    async def build_audit_trails_once(self) -> None:
        await self.build_audit_trails()
        await self.post_items.build(self._items)

    @staticmethod
    def queues(event: PostScreened) -> bool:
        """Whether the verdict puts the post in the queue (a published post is never stored here)."""
        return event.verdict.action in ("hold", "hold_urgent")

    async def add_screened(self, event: PostScreened) -> str | None:
        """Queue a held post; returns the new item's level, or None when nothing new was queued."""
        await self._supersede_earlier_revisions(event)
        if not self.queues(event):
            return None
        level = "urgent" if event.verdict.action == "hold_urgent" else "hold"
        item_id = queue_item_id(event)
        await self.post_items.add(event.post_id, item_id)
        result = await self._items.update_one(
            {"_id": item_id},
            {
                "$setOnInsert": {
                    "post_id": event.post_id,
                    "thread_id": event.thread_id,
                    "author_id": event.author_id,
                    "revision": event.revision,
                    "board_slug": event.board_slug,
                    "title": event.title,
                    "body": event.body,
                    "verdict": event.verdict.model_dump(),
                    "resources": [r.model_dump() for r in event.resources],
                    "reports": [],
                    "level_rank": LEVELS[level],
                    "status": "open",
                    "created_at": event.occurred_at,
                    "alerted": False,
                }
            },
            upsert=True,
        )
        # Also on a redelivery (a crash may have come between the two writes); a listing drops
        # the entry again if the item was decided meanwhile.
        await self._open.opened(item_id, LEVELS[level], event.occurred_at)
        if result.upserted_id is not None:
            return level
        # A redelivery: the first delivery may have stored the item and then failed to alert the
        # moderators. Until `mark_alerted`, every delivery alerts again (the alert's id is stable).
        stored = await self._items.find_one({"_id": item_id}, {"alerted": 1})
        # `is False`: items from before the field existed have none, and were alerted long ago.
        return level if stored is not None and stored.get("alerted") is False else None

    async def _supersede_earlier_revisions(self, event: PostScreened) -> None:
        """An edit screened again closes the open items of the post's earlier revisions: a decision
        on one would otherwise apply to the words the member wrote since (a removal took down a
        clean edit already published) or be ignored by the forum while its author was told the post
        was approved. Urgent items stay open: a person who wrote of ending their life tonight and
        then edited the words away still needs a moderator. Report items stand: they are about the
        post, not a revision. A decided item is marked, so an unsent decision on the earlier words
        is not sent by decision_resends.py over the edit."""
        if event.revision < 2:
            return
        earlier = [f"post:{event.post_id}:{revision}" for revision in range(1, event.revision)]
        # By primary key alone: any other field in the filter reads every item on FerretDB.
        found = await self._items.find({"_id": {"$in": earlier}}, {"status": 1, "level_rank": 1}).to_list(None)
        for item in found:
            if item["status"] not in OPEN_STATUSES:
                await self._items.update_one({"_id": item["_id"]}, {"$set": {"superseded_by": event.revision}})
            elif item.get("level_rank", 0) < LEVELS["urgent"]:
                superseded = await self._guarded.find_one_and_update(
                    self._items,
                    item["_id"],
                    {"status": {"$in": list(OPEN_STATUSES)}},
                    {"$set": {"status": "superseded", "superseded_by": event.revision, "claim": None}},
                )
                if superseded is not None:
                    await self._open.closed(item["_id"])

    async def alerted_items(self, item_ids: list[str]) -> set[str]:
        """Which of these items are stored and their moderators already alerted."""
        # By primary key alone: a filter on `alerted` as well reads every item on FerretDB.
        found = await self._items.find({"_id": {"$in": item_ids}}, {"alerted": 1}).to_list(None)
        return {str(item["_id"]) for item in found if item.get("alerted")}

    async def mark_alerted(self, item_id: str) -> None:
        await self._items.update_one({"_id": item_id}, {"$set": {"alerted": True}})

    async def add_report(self, event: PostReported) -> str | None:
        """File a peer report; returns the level of the item it opened, or None when it joined one.

        Reports on a post gather in its one open report item. Once that item is decided, a later
        report opens a new item instead of reopening the old one: the new item has its own wait,
        claim, SLA figures and decision (decision notifications are deduplicated by item id, so a
        second decision on a reopened item would never reach the author), while the decided item
        stays the record of the first decision. The audit log notes a report that arrives after a
        decision. Idempotent: a redelivered report changes nothing.
        """
        rank = LEVELS["hold" if event.reason == "worried_about_author" else "report"]
        report = {"report_id": event.report_id, "reason": event.reason, "note": event.note, "at": event.occurred_at}
        first_id = f"report:{event.post_id}"
        for _ in range(_WRITE_ATTEMPTS):
            items = await self.post_items.of(self._items, event.post_id)
            if _filed(items, event.report_id):
                return None  # a redelivery
            # Report items made before `source` existed are known by their id alone.
            joinable = [
                item
                for item in items
                if item["status"] in OPEN_STATUSES and (item.get("source") == "report" or item["_id"] == first_id)
            ]
            if not joinable:
                break
            joined = await self._guarded.find_one_and_update(
                self._items,
                joinable[0]["_id"],
                # Still open, and the same report not pushed meanwhile by a second delivery.
                {"status": {"$in": list(OPEN_STATUSES)}, "reports.report_id": {"$ne": event.report_id}},
                {"$push": {"reports": report}, "$max": {"level_rank": rank}},
            )
            if joined is not None:
                await self._open.opened(joined["_id"], joined["level_rank"], joined["created_at"])
                return None
            # Decided or joined by this report since the read: read the post's items again.
        else:
            # The open item kept changing under every try: a new item, unless this report is in.
            items = await self.post_items.of(self._items, event.post_id)
            if _filed(items, event.report_id):
                return None
        # Named after the report that opened it, so a redelivery lands on the same item.
        item_id = (
            first_id
            if await self._items.find_one({"_id": first_id}, {"_id": 1}) is None
            else (f"{first_id}:{event.report_id}")
        )
        decided = max(
            (item for item in items if item["status"] == "decided"),
            key=lambda item: item["created_at"],
            default=None,
        )
        if decided is not None:
            # Written before the item, under a fixed id: a crash in between cannot lose or repeat it.
            # (An insert, not an upsert: FerretDB leaves null fields out of $setOnInsert.)
            await self.trails.add(item_id, f"reopened:{item_id}")
            try:
                await self._audit.insert_one(
                    {
                        "_id": f"reopened:{item_id}",
                        "item_id": item_id,
                        "post_id": event.post_id,
                        "moderator_id": None,
                        "moderator_name": "",
                        "action": "reopened",
                        "note": f"{event.reason} report after the decision on {decided['_id']}",
                        "at": utc_now(),
                    }
                )
            except DuplicateKeyError:
                pass  # a redelivered report: the entry is there already
        await self.post_items.add(event.post_id, item_id)
        result = await self._items.update_one(
            {"_id": item_id},
            {
                "$setOnInsert": {
                    "post_id": event.post_id,
                    "thread_id": event.thread_id,
                    "author_id": event.author_id,
                    "revision": 1,
                    "title": event.title,
                    "body": event.body,
                    "verdict": None,
                    "resources": [],
                    "reports": [report],
                    "source": "report",
                    "level_rank": rank,
                    "status": "open",
                    "created_at": event.occurred_at,
                }
            },
            upsert=True,
        )
        await self._open.opened(item_id, rank, event.occurred_at)
        return LEVEL_NAMES[rank] if result.upserted_id is not None else None

    async def forget_author(self, author_id: str) -> None:
        """An erased member: their words leave the queue and the audit notes; ids, levels,
        decisions and who did what stay. Idempotent."""
        await self._erasures.update_one({"_id": f"author:{author_id}"}, {"$set": {"at": utc_now()}}, upsert=True)
        # By author: an erasure is rare, so this one query may read every item on FerretDB.
        await self._remove_words(await self._items.find({"author_id": author_id}).to_list(None), _ERASED_AUTHOR)

    async def forget_post(self, post_id: str) -> None:
        """The author deleted the post: its words leave the queue and the audit notes. Idempotent."""
        await self._erasures.update_one({"_id": f"post:{post_id}"}, {"$set": {"at": utc_now()}}, upsert=True)
        await self._remove_words(await self.post_items.of(self._items, post_id))

    async def remove_words_if_gone(self, post_id: str, author_id: str) -> None:
        """Call after queueing anything about a post: the deletion or erasure may have come first
        (it travels on another topic), and then the new item loses its words at once."""
        if await self._erasures.find_one({"_id": f"author:{author_id}"}) is not None:
            await self._remove_words(await self.post_items.of(self._items, post_id), _ERASED_AUTHOR)
        elif await self._erasures.find_one({"_id": f"post:{post_id}"}) is not None:
            await self._remove_words(await self.post_items.of(self._items, post_id))

    async def _remove_words(self, items: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> None:
        if items:
            # Audit notes first: once items lose their author id, a redelivery no longer finds them.
            # A moderator's free-text note may quote the post, so notes go; actions and times stay.
            await self._clear_audit_notes(items)
        for item in items:
            await self._items.update_one({"_id": item["_id"]}, {"$set": {**without_words(item), **(extra or {})}})

    async def _clear_audit_notes(self, items: list[dict[str, Any]]) -> None:
        """Every audit entry about these items' posts loses its note: found through the items'
        trails (by primary key) once they are built, else by post."""
        if not await self.trails.ready():
            post_ids = sorted({item["post_id"] for item in items})
            await self._audit.update_many({"post_id": {"$in": post_ids}}, {"$set": {"note": ""}})
            return
        for item in items:
            entry_ids = await self.trails.entry_ids(item["_id"], _EVERY_ENTRY)
            if entry_ids:
                await self._audit.update_many({"_id": {"$in": entry_ids}}, {"$set": {"note": ""}})

    async def open_items(self, limit: int, after: QueuePosition | None = None) -> list[dict[str, Any]]:
        """Up to `limit` open items in queue order, starting after `after` when given."""
        await self._open.build(self._items, OPEN_STATUSES)
        position = None if after is None else queue_key(after.level_rank, after.created_at, after.item_id)
        return await self._open.page(self._items, limit, position, lambda item: item["status"] in OPEN_STATUSES)

    async def item(self, item_id: str) -> dict[str, Any]:
        doc = await self._items.find_one({"_id": item_id})
        if doc is None:
            raise ReviewError(404, "There is no such queue item.")
        return doc

    async def claim(self, item_id: str, moderator: Identity) -> tuple[dict[str, Any], bool]:
        """Take (or renew) the lease on an item; also says whether this was the item's first claim."""
        for _ in range(_WRITE_ATTEMPTS):
            current = await self._admins_only_once_escalated(item_id, moderator)
            if current["status"] not in OPEN_STATUSES:
                raise _closed(current)
            now = utc_now()
            if _held_by_another(current, moderator, now):
                raise ReviewError(409, "Another moderator is handling this item.")
            # Written only if status and claim are still as read (see _unchanged_since).
            doc = await self._guarded.find_one_and_update(
                self._items,
                item_id,
                _unchanged_since(current),
                {
                    "$set": {
                        "claim": {
                            "moderator_id": moderator.id,
                            "moderator_name": moderator.name,
                            "until": now + self._lease,
                        }
                    }
                },
            )
            if doc is not None:
                break
        else:
            raise ReviewError(409, "Another moderator is handling this item.")
        first = doc.get("first_claimed_at") is None and await self._guarded.update_one(
            self._items, item_id, {"first_claimed_at": None}, {"$set": {"first_claimed_at": now}}
        )
        await self.audit(doc, moderator, "claim")
        return doc, first

    async def decide(self, item_id: str, moderator: Identity, decision: str, note: str) -> tuple[dict[str, Any], bool]:
        """Record a decision; also says whether it is a repeat of this moderator's own decision.

        The decision is stored before its event is sent, so a moderator whose answer was lost
        (Kafka away, or the database between the writes below) sends the same decision again: that
        repeat is accepted, completes what the first attempt left undone without auditing it twice,
        and the caller sends the event again (its consumers are idempotent).
        """
        current = await self.item(item_id)
        prior = current.get("decision") or {}
        if (
            prior.get("moderator_id") == moderator.id
            and prior.get("decision") == decision
            and current["status"] == ("escalated" if decision == "escalate" else "decided")
        ):
            await self._record_decided(current, moderator, repeated=True)
            return current, True
        current = await self._admins_only_once_escalated(item_id, moderator)
        if current["status"] not in OPEN_STATUSES:
            raise _closed(current)
        _refuse_if_claimed_by_another(current, moderator, "decide it")
        # Before the decision, so no stored decision is ever without it: one the moderator's
        # request did not send is sent later by decision_resends.py.
        await self._unsent_decisions.update_one({"_id": item_id}, {"$set": {"since": utc_now()}}, upsert=True)
        changes: dict[str, Any] = {
            "status": "escalated" if decision == "escalate" else "decided",
            "decision": {"decision": decision, "note": note, "moderator_id": moderator.id, "at": utc_now()},
        }
        if decision == "escalate":
            changes["claim"] = None  # the item now waits for an admin to take it
        for _ in range(_WRITE_ATTEMPTS):
            # Only if status and claim are as just checked: another moderator's claim taken since wins.
            doc = await self._guarded.find_one_and_update(
                self._items, item_id, _unchanged_since(current, claim=moderator.role != "admin"), {"$set": changes}
            )
            if doc is not None:
                break
            current = await self._admins_only_once_escalated(item_id, moderator)
            if current["status"] not in OPEN_STATUSES:
                raise _closed(current)
            _refuse_if_claimed_by_another(current, moderator, "decide it")
        else:
            raise ReviewError(409, "This item changed while the decision was being stored; try again.")
        await self._record_decided(doc, moderator, repeated=False)
        return doc, False

    async def _record_decided(self, doc: dict[str, Any], moderator: Identity, *, repeated: bool) -> None:
        """Take a decided item off the open queue and audit its decision; idempotent."""
        if doc["status"] not in OPEN_STATUSES:
            await self._open.closed(doc["_id"])
        decided = doc["decision"]
        # One id per stored decision (an escalation and the admin's decision after it are two).
        entry_id = f"decision:{doc['_id']}:{decided['at'].isoformat()}"
        if repeated and await self._audit.find_one({"_id": entry_id}, {"_id": 1}) is not None:
            return  # audited the first time: appending it to the trail again would only repeat it
        try:
            await self.audit(doc, moderator, decided["decision"], decided["note"], entry_id=entry_id)
        except DuplicateKeyError:
            pass  # a repeat running at the same moment wrote it first

    async def decision_sent(self, item: dict[str, Any]) -> None:
        """The item's stored decision has been sent. A marker written after that decision (another
        decision on the item since, say an admin's after an escalation) stays for its own."""
        await self._unsent_decisions.delete_one({"_id": item["_id"], "since": {"$lte": item["decision"]["at"]}})

    async def no_decision_to_send(self, item_id: str) -> None:
        await self._unsent_decisions.delete_one({"_id": item_id})

    async def unsent_decisions(self, older_than: timedelta, limit: int = 100) -> list[str]:
        """Items whose decision was stored over `older_than` ago and is not known to have been sent."""
        cutoff = utc_now() - older_than
        found = await self._unsent_decisions.find({}).limit(10 * limit).to_list(None)
        return [doc["_id"] for doc in found if doc["since"] < cutoff][:limit]

    async def _admins_only_once_escalated(self, item_id: str, moderator: Identity) -> dict[str, Any]:
        current = await self.item(item_id)
        if current["status"] == "escalated" and moderator.role != "admin":
            raise ReviewError(403, "This item was escalated to the admins; only an admin may take or decide it.")
        return current

    async def to_message(self, item_id: str, moderator: Identity) -> dict[str, Any]:
        """The item, when this moderator may write to its author: nobody else is handling it."""
        current = await self._admins_only_once_escalated(item_id, moderator)
        _refuse_if_claimed_by_another(current, moderator, "message its author")
        return current

    async def view(self, item_id: str, moderator: Identity) -> dict[str, Any]:
        """A moderator reads a held post in full: that reading is itself audited."""
        doc = await self.item(item_id)
        await self.audit(doc, moderator, "view")
        return doc

    async def take_unclaimed_urgent(self, waited: timedelta) -> list[dict[str, Any]]:
        """Urgent items nobody has held a claim on for `waited`, each marked as re-alerted now.

        The mark is set with a guarded write, so when several API instances look at once, each item
        is re-alerted by one of them (on FerretDB, whose writes are a read then a write, rarely two).
        Candidates come from the open queue (the backlog), not from every item ever queued.
        """
        await self._open.build(self._items, OPEN_STATUSES)
        now = utc_now()
        cutoff = now - waited
        urgent_ids = await self._open.waiting_since(LEVELS["urgent"], cutoff)
        taken: list[dict[str, Any]] = []
        for start in range(0, len(urgent_ids), 100):
            if len(taken) >= _REALERTS_PER_ROUND:
                break
            found = await self._items.find({"_id": {"$in": urgent_ids[start : start + 100]}}).to_list(None)
            for item in sorted(found, key=lambda d: (d["created_at"], d["_id"])):
                if item["status"] not in OPEN_STATUSES:
                    await self._open.closed(item["_id"])  # decided since: its entry was left behind
                    continue
                if len(taken) >= _REALERTS_PER_ROUND or not _due_for_realert(item, now, cutoff):
                    continue
                guard = {**_unchanged_since(item), "realerted_at": item.get("realerted_at")}
                try:
                    doc = await self._guarded.find_one_and_update(
                        self._items, item["_id"], guard, {"$set": {"realerted_at": now}}
                    )
                except PyMongoError as exc:
                    # Those taken already carry their mark: dropped here, they would wait a whole
                    # `waited` more. The rest are taken on a later round.
                    log.warning("taking urgent items to re-alert stopped early: %s", type(exc).__name__)
                    return taken
                if doc is not None:
                    taken.append(doc)
        return taken

    async def release_realert(self, item_id: str) -> None:
        await self._items.update_one({"_id": item_id}, {"$set": {"realerted_at": None}})

    async def audit(
        self, item: dict[str, Any], moderator: Identity, action: str, note: str = "", *, entry_id: str | None = None
    ) -> str:
        """Write one audit entry (under `entry_id` when given: DuplicateKeyError if it exists); returns its id."""
        entry_id = entry_id or new_id()
        await self.trails.add(item["_id"], entry_id)
        await self._audit.insert_one(
            {
                "_id": entry_id,
                "item_id": item["_id"],
                "post_id": item["post_id"],
                "moderator_id": moderator.id,
                "moderator_name": moderator.name,
                "action": action,
                "note": note,
                "at": utc_now(),
                # Which screener held it: a promoted model's decisions stay told apart in the log.
                "model_version": (item.get("verdict") or {}).get("model_version"),
            }
        )
        return entry_id

    async def audit_log(
        self, *, post_id: str | None = None, item_id: str | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        """The newest `limit` entries that match, oldest first."""
        if item_id and not post_id and await self.trails.ready():
            ids = await self.trails.entry_ids(item_id, limit)
            found = await self._audit.find({"_id": {"$in": ids}}).to_list(None) if ids else []
            return sorted(found, key=lambda entry: (entry["at"], entry["_id"]))[-limit:]
        query: dict[str, Any] = {}
        if post_id:
            query["post_id"] = post_id
        if item_id:
            query["item_id"] = item_id
        newest = await self._audit.find(query).sort("at", DESCENDING).limit(limit).to_list(None)
        return newest[::-1]


def _unchanged_since(item: dict[str, Any], *, claim: bool = True) -> dict[str, Any]:
    """A guard that holds while the item's status (and claim, unless `claim` is False) are those
    of this read.

    Claims and decisions are checked here against the item as read, then written by primary key
    under this guard: on FerretDB any filter beyond `_id` reads every item ever queued (see
    services/common/pk_guard.py). A claim renewed, taken or released since fails the guard, and
    the caller reads the item again.
    """
    guard = {"status": item["status"]}
    if claim:
        guard["claim"] = item.get("claim")
    return guard


def _due_for_realert(item: dict[str, Any], now: datetime, cutoff: datetime) -> bool:
    """Open, urgent, waiting since `cutoff`, unclaimed (or its claim lapsed) and not re-alerted since."""
    claim = item.get("claim")
    realerted_at = item.get("realerted_at")
    return (
        item["status"] in OPEN_STATUSES
        and item["level_rank"] == LEVELS["urgent"]
        and item["created_at"] <= cutoff
        and (not claim or claim["until"] < now)
        and (realerted_at is None or realerted_at <= cutoff)
    )


def _filed(items: list[dict[str, Any]], report_id: str) -> bool:
    """Whether one of these items holds the report already."""
    return any(filed.get("report_id") == report_id for item in items for filed in item.get("reports") or [])


def _held_by_another(item: dict[str, Any], moderator: Identity, now: datetime) -> bool:
    """Whether another moderator holds a live claim on the item."""
    claim = item.get("claim")
    return claim is not None and claim["moderator_id"] != moderator.id and claim["until"] > now


def _refuse_if_claimed_by_another(item: dict[str, Any], moderator: Identity, what: str) -> None:
    if moderator.role != "admin" and _held_by_another(item, moderator, utc_now()):
        raise ReviewError(409, f"Another moderator holds the claim on this item; only they or an admin may {what}.")


def without_words(item: dict[str, Any]) -> dict[str, Any]:
    """The changes that take every word of a post (and of notes about it) out of a queue item."""
    changes: dict[str, Any] = {
        "body": None,
        "title": None,
        "words_removed": True,
        # A reporter's note may quote the post.
        "reports": [{**report, "note": ""} for report in item.get("reports", [])],
    }
    if item.get("verdict"):
        changes["verdict"] = verdict_without_words(item["verdict"])
    if item.get("decision"):
        changes["decision"] = {**item["decision"], "note": ""}
    return changes
