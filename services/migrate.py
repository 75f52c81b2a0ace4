"""`haven migrate`: bring existing data up to what this version reads. Idempotent.

The page read models: the forum's thread and board lists (`services/forum/page_lists.py`),
built from the posts and threads already stored, each recipient's inbox list
(`services/notify/inbox_lists.py`) and each post's notes and messages in the inbox
(`services/notify/words_by_post.py`); a token link for each identity made before links existed;
and which replies quote each post (`services/forum/quote_lists.py`). Run it before starting forums
of this version on old data; the forum also runs it at start-up when it has not run on its
database yet.
"""

from __future__ import annotations

import argparse
import asyncio

from streams.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help="rebuild even if it ran before")


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args.settings, args.force))


async def _run(settings: Settings, force: bool) -> int:
    from services.common.mongo import create_mongo_client
    from services.forum.page_lists import build_page_lists
    from services.forum.store import ForumStore
    from services.notify.inbox_lists import InboxLists
    from services.notify.store import Inbox

    client = create_mongo_client(settings)
    try:
        forum = ForumStore(client[settings.database_name("forum")])
        counts = await build_page_lists(forum, force=force)
        linked = await forum.link_every_token(force=force)
        print(f"{settings.database_name('forum')}: {linked} identities given their token link")
        quoted = await forum.quotes.build(forum.posts, force=force)
        print(f"{settings.database_name('forum')}: quotes of {quoted} posts listed")
        notify_db = client[settings.database_name("notify")]
        recipients = await InboxLists(notify_db).build(notify_db["inbox"], force=force)
        print(f"{settings.database_name('notify')}: inbox lists of {recipients} recipients built")
        posts = await Inbox(notify_db).words_by_post.build(notify_db["inbox"], force=force)
        print(f"{settings.database_name('notify')}: notes and messages of {posts} posts listed by post")
    finally:
        await client.close()
    if not any(counts.values()) and not force:
        print(f"{settings.database_name('forum')}: page lists are built already (--force rebuilds them)")
    else:
        print(
            f"{settings.database_name('forum')}: page lists of {counts['threads']} threads and {counts['boards']} boards;"
            f" {counts['posts']} posts given their place"
        )
    return 0
