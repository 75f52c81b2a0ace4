"""How threads and posts look to the outside: what a reader sees, and what only the author sees."""

from __future__ import annotations

from typing import Any

from streams.events import REACTION_KINDS

FORMER_MEMBER = "former member"


def thread_view(thread: dict[str, Any]) -> dict[str, Any]:
    return {
        "thread_id": thread["_id"],
        "board": thread["board_slug"],
        "title": thread["title"],
        "status": thread["status"],
        "created_at": thread["created_at"],
        "last_activity_at": thread.get("last_activity_at"),
    }


def post_view(post: dict[str, Any], viewer_id: str | None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "post_id": post["_id"],
        "thread_id": post["thread_id"],
        "status": post["status"],
        "body": post["body"] if post["status"] != "deleted" else None,
        "author_handle": post.get("author_handle") or FORMER_MEMBER,
        "created_at": post["created_at"],
        "published_at": post.get("published_at"),
        "reply_to": post.get("reply_to"),
        "reply_quote": post.get("reply_quote"),
        "reactions": post.get("reactions", dict.fromkeys(REACTION_KINDS, 0)),
    }
    if post.get("author_milestone"):
        view["author_milestone"] = post["author_milestone"]
    if viewer_id is not None and viewer_id == post.get("author_id"):
        view["is_mine"] = True
        view["resources"] = post.get("resources", [])
        view["redacted"] = post.get("redacted", [])
        if post.get("pending_body") is not None:
            view["pending_edit"] = post["pending_body"]
        if post.get("moderator_note"):
            view["moderator_note"] = post["moderator_note"]
    return view
