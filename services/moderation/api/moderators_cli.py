"""`haven moderators add NAME [--role moderator|admin] | list | disable NAME`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.moderation.api.moderators import Moderators
    from streams.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("add", "list", "disable"))
    parser.add_argument("name", nargs="?")
    parser.add_argument("--role", default="moderator", choices=("moderator", "admin"))


def run(args: argparse.Namespace) -> int:
    if args.action in ("add", "disable") and not args.name:
        print(f"haven moderators {args.action}: a NAME is needed", file=sys.stderr)
        return 2
    return asyncio.run(_run(args))


@contextlib.asynccontextmanager
async def open_moderators(settings: Settings, *, client_id: str) -> AsyncIterator[Moderators]:
    """The moderator accounts of `settings`' deployment, with the clients they need, for commands."""
    from services.common.mongo import create_mongo_client
    from services.moderation.api.moderators import Moderators
    from streams.kafka import create_producer
    from streams.topics import Topics

    client = create_mongo_client(settings)
    producer = create_producer(settings, client_id=client_id)
    await producer.start()
    try:
        moderators = Moderators(client[settings.database_name("moderation")], producer, Topics(settings.topic_prefix))
        await moderators.ensure_indexes()
        yield moderators
    finally:
        await producer.stop()
        await client.close()


async def _run(args: argparse.Namespace) -> int:
    from services.moderation.api.moderators import ModeratorError
    from streams.kafka import ensure_topics

    settings = args.settings
    await ensure_topics(settings)
    try:
        async with open_moderators(settings, client_id="moderators-cli") as moderators:
            if args.action == "add":
                created = await moderators.add(args.name, args.role)
                print(f"created {created.role} {created.name}; this token is shown once, store it now:")
                print(created.token)
            elif args.action == "disable":
                await moderators.disable(args.name)
                print(f"disabled {args.name}; their token stops working everywhere")
            else:
                for doc in await moderators.list():
                    print(f"{doc['name']:<24} {doc['role']:<10} {'disabled' if doc['disabled'] else 'active'}")
    except ModeratorError as exc:
        print(f"haven moderators {args.action}: {exc}", file=sys.stderr)
        return 1
    return 0
