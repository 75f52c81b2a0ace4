"""Who may see, answer, quote or change a thread or a post: the forum's one "published, or mine" rule.

A published thread or post is everyone's to read; one that is pending or held (waiting for its
verdict, or for a moderator) is seen by its author only. Only published ones may be replied to,
quoted, reacted to or reported. An author may edit or delete their own post until it is removed
or deleted (deleting one's own deleted post again finishes a deletion the database broke off).
Whatever a viewer may not see looks exactly like one that does not exist.

Each function takes the record as the store returned it (None when there is none) and gives it
back, or raises the problem the forum answers with.
"""

from __future__ import annotations

from typing import Any

from services.common.problems import Problem
from services.forum.post_states import TERMINAL
from streams.events import PostStatus

Record = dict[str, Any]


def is_published(record: Record) -> bool:
    status: str = record["status"]
    return status == PostStatus.PUBLISHED


def may_see(record: Record, viewer_id: str | None) -> bool:
    """Published, or the viewer's own (whatever its status)."""
    return is_published(record) or record["author_id"] == viewer_id


def readable_thread(thread: Record | None, viewer_id: str | None) -> Record:
    if thread is None or not may_see(thread, viewer_id):
        raise Problem(404, "There is no such thread.")
    return thread


def readable_post(post: Record | None, viewer_id: str | None) -> Record:
    if post is None or not may_see(post, viewer_id):
        raise Problem(404, "There is no such post.")
    return post


def thread_open_for_replies(thread: Record | None) -> Record:
    # Not even its author may reply before the thread is published: the reply would be public.
    if thread is None or not is_published(thread):
        raise Problem(404, "There is no such thread (or it is not published yet).")
    return thread


def post_open_to_others(post: Record | None) -> Record:
    """A post others may react to or report: published only, the author's own included."""
    if post is None or not is_published(post):
        raise Problem(404, "There is no such post.")
    return post


def quotable_post(post: Record | None, thread_id: str) -> Record:
    if post is None or post["thread_id"] != thread_id or not is_published(post):
        raise Problem(400, "'reply_to' must be a published post of this thread.")
    return post


def own_changeable_post(post: Record | None, identity_id: str) -> Record:
    """The member's own post, while it may still be edited or deleted."""
    if post is None or post["author_id"] != identity_id or post["status"] in TERMINAL:
        # Someone else's post looks the same as a missing one.
        raise Problem(404, "There is no such post of yours.")
    return post


def own_deletable_post(post: Record | None, identity_id: str) -> Record:
    """The member's own post while it may be edited, or one they deleted: a deletion broken off
    after the status was written (words still in quotes and titles) is finished by deleting again."""
    if post is not None and post["author_id"] == identity_id and post["status"] == PostStatus.DELETED:
        return post
    return own_changeable_post(post, identity_id)
