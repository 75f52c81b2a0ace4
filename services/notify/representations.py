"""How a stored notification looks to its recipient: in the inbox and as an SSE event."""

from __future__ import annotations

from typing import Any


def public_view(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": item["event_key"],
        "notification_id": item["_id"],
        "kind": item["kind"],
        "post_id": item.get("post_id"),
        "data": item.get("data", {}),
        "occurred_at": item["occurred_at"].isoformat()
        if hasattr(item.get("occurred_at"), "isoformat")
        else item.get("occurred_at"),
        "read": item.get("read", False),
    }
