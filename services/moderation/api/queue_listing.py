"""The review queue as a paged list: its order, its cursor, and what a listed item may show.

Every moderator's console reads the listing every few seconds, so it carries no member's words:
a post's title and body, the words the rules quoted from it and a reporter's note are read only
through the audited item view (`GET /v1/mod/items/{item_id}`).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING

from services.moderation.api.quoted_words import reasons_without_words

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
#: Most urgent first, oldest first within a level; the id breaks ties so every position is unique.
QUEUE_ORDER = [("level_rank", DESCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)]

# An allowlist, so a field added to the item view later is not listed until someone decides it may be.
_LISTED_FIELDS = (
    "item_id",
    "post_id",
    "thread_id",
    "level",
    "status",
    "resources",
    "claimed_by",
    "claimed_by_name",
    "claimed_until",
    "erased_author",
    "created_at",
)
_LISTED_VERDICT_FIELDS = ("risk", "categories", "action", "scores", "model_version")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


class BadPageRequest(ValueError):
    """The limit or cursor cannot be used: the client must fix the limit, or start again without a cursor."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class QueuePosition:
    """Where an item sorts in the queue (see QUEUE_ORDER)."""

    level_rank: int
    created_at: datetime
    item_id: str

    @classmethod
    def of(cls, item: dict[str, Any]) -> QueuePosition:
        return cls(item["level_rank"], item["created_at"], item["_id"])

    def later_items(self) -> dict[str, Any]:
        """A filter for the items that sort after this position.

        Positions are compared rather than counted, so an item that arrives ahead of a cursor is
        neither repeated nor makes a later page skip one.
        """
        rank, at = self.level_rank, self.created_at
        return {
            "$or": [
                {"level_rank": {"$lt": rank}},
                {"level_rank": rank, "created_at": {"$gt": at}},
                {"level_rank": rank, "created_at": at, "_id": {"$gt": self.item_id}},
            ]
        }


def encode_cursor(position: QueuePosition) -> str:
    # Milliseconds: the database keeps datetimes at that precision, so the value compares exactly.
    millis = (position.created_at - _EPOCH) // _MILLISECOND
    raw = json.dumps([position.level_rank, millis, position.item_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> QueuePosition:
    """The position a cursor from `encode_cursor` stands for; raises BadPageRequest for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        rank, millis, item_id = json.loads(raw)
    except (ValueError, TypeError, binascii.Error, RecursionError) as exc:  # RecursionError: nested '['
        raise BadPageRequest("'cursor' is not one this service handed out; start again without it.") from exc
    if not _is_int64(rank) or not _is_int64(millis) or not isinstance(item_id, str) or not _encodable(item_id):
        raise BadPageRequest("'cursor' is not one this service handed out; start again without it.")
    try:
        created_at = _EPOCH + millis * _MILLISECOND
    except OverflowError as exc:
        raise BadPageRequest("'cursor' is not one this service handed out; start again without it.") from exc
    return QueuePosition(rank, created_at, item_id)


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadPageRequest(f"'limit' must be a whole number from 1 to {MAX_LIMIT}.")
    return int(raw)


def listing_entry(view: dict[str, Any]) -> dict[str, Any]:
    """An item as the queue lists it, made from its full `item_view`: everything but member words."""
    entry = {name: view[name] for name in _LISTED_FIELDS}
    verdict = view.get("verdict")
    entry["verdict"] = {k: verdict[k] for k in _LISTED_VERDICT_FIELDS if k in verdict} if verdict else None
    entry["reasons"] = reasons_without_words(view["reasons"], (verdict or {}).get("matches"))
    entry["reports"] = [{"report_id": r["report_id"], "reason": r["reason"]} for r in view["reports"]]
    return entry


def _is_int64(value: object) -> bool:
    # Larger numbers cannot go into a database query (the driver would fail with a 500).
    return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63


def _encodable(item_id: str) -> bool:
    """Non-empty and without a lone surrogate, which no query can carry."""
    try:
        item_id.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return bool(item_id)
