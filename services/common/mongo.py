"""MongoDB access through PyMongo's async API (AsyncMongoClient), the successor of Motor."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient

from streams.settings import Settings


def create_mongo_client(settings: Settings) -> AsyncMongoClient[dict[str, Any]]:
    return AsyncMongoClient(
        settings.mongo_uri,
        serverSelectionTimeoutMS=5_000,
        connectTimeoutMS=5_000,
        # A database that stops answering (paused, partitioned) must fail the operation so the
        # caller retries it, rather than hold an event or a request for ever.
        socketTimeoutMS=15_000,
        tz_aware=True,
        # FerretDB (SQLite) runs as a standalone server without retryable writes.
        retryWrites=False,
    )


async def mongo_problem(client: AsyncMongoClient[dict[str, Any]]) -> str | None:
    """None when the database answers a ping."""
    try:
        await client.admin.command("ping")
    except Exception as exc:
        return f"database unreachable ({type(exc).__name__})"
    return None
