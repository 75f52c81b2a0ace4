"""Starting points for a moderator's message to an author: warm, short, editable.

Each template is filled with the resources the author was already sent, so the message points
at the same lines, in the same order, that the author sees on their post.
"""

from __future__ import annotations

from typing import Any

MAX_LINES_IN_MESSAGE = 3

_CHECK_IN = (
    "Hi, I'm one of the volunteer moderators here. I read what you wrote and I'm glad you posted it. "
    "You don't have to go through tonight alone. If you can, please reach out to one of these right now:\n"
    "{resources}\n"
    "If you're in immediate danger, call your local emergency number. We're here, and we'll keep your post safe."
)
_HELD = (
    "Hi, a moderator here. Your post is with us for a moment before it goes up, only so that a person "
    "can read it first; you haven't done anything wrong. While you wait, these are there for you at any hour:\n"
    "{resources}"
)
_REMOVED = (
    "Hi, a moderator here. We couldn't keep your post up as it was, and I'm sorry if that stings. "
    "What you're feeling still matters, and you're welcome to post again. If things are heavy right now:\n"
    "{resources}"
)
TEMPLATES = (
    ("check_in", "Check in now", _CHECK_IN),
    ("held", "Post held for review", _HELD),
    ("removed", "Post removed, with care", _REMOVED),
)
NO_RESOURCES = "- anyone you trust, or your local emergency number if you're in danger"


def resource_lines(resources: list[dict[str, Any]]) -> str:
    lines = []
    for resource in resources[:MAX_LINES_IN_MESSAGE]:
        hours = f" ({resource['hours']})" if resource.get("hours") else ""
        lines.append(f"- {resource['name']}: {resource['contact']}{hours}")
    return "\n".join(lines) or NO_RESOURCES


def message_templates(resources: list[dict[str, Any]]) -> list[dict[str, str]]:
    filled = resource_lines(resources)
    return [{"id": key, "label": label, "text": text.format(resources=filled)} for key, label, text in TEMPLATES]
