"""How queue items and audit entries look to moderators (the full item; the queue listing trims it
further in queue_listing.py)."""

from __future__ import annotations

from typing import Any

from services.moderation.api.quoted_words import highlights
from services.moderation.api.store import LEVEL_NAMES


def item_view(item: dict[str, Any]) -> dict[str, Any]:
    claim = item.get("claim")
    verdict = item.get("verdict") or {}
    return {
        "item_id": item["_id"],
        "post_id": item["post_id"],
        "thread_id": item["thread_id"],
        "level": LEVEL_NAMES[item["level_rank"]],
        "status": item["status"],
        "title": item.get("title"),
        "body": item.get("body"),
        "verdict": item.get("verdict"),
        "reasons": verdict.get("reasons", []),
        "highlights": highlights(verdict.get("reasons", []), verdict.get("matches")),
        "resources": item.get("resources", []),
        "reports": [{k: v for k, v in r.items() if k != "at"} for r in item.get("reports", [])],
        "claimed_by": claim["moderator_id"] if claim else None,
        "claimed_by_name": claim.get("moderator_name", "") if claim else None,
        "claimed_until": claim["until"].isoformat() if claim else None,
        "erased_author": bool(item.get("erased_author")),
        "created_at": item["created_at"].isoformat(),
    }


def audit_view(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "item_id": entry["item_id"],
        "post_id": entry["post_id"],
        "moderator_id": entry["moderator_id"],
        "moderator_name": entry.get("moderator_name", ""),
        "action": entry["action"],
        "note": entry.get("note", ""),
        "at": entry["at"].isoformat(),
        "model_version": entry.get("model_version"),
    }
