"""Moderator console sessions: a token is exchanged once for an HttpOnly, SameSite=Strict cookie.

Only hashes are stored: the session id's (to find the session) and the moderator token's (to
check the account on every request, so a disabled moderator is signed out at once).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from services.common.identities import Identity, IdentityCache
from services.common.tokens import hash_token, new_token
from streams.events import utc_now

COOKIE_NAME = "haven_console"


class ConsoleSessions:
    def __init__(
        self, collection: AsyncCollection[dict[str, Any]], identities: IdentityCache, lifetime: timedelta
    ) -> None:
        self._sessions = collection
        self._identities = identities
        self.lifetime = lifetime

    async def open(self, moderator: Identity, token: str) -> str:
        now = utc_now()
        await self._sessions.delete_many({"expires_at": {"$lt": now}})
        session_id = new_token()
        await self._sessions.insert_one(
            {
                "_id": hash_token(session_id),
                "identity_id": moderator.id,
                "token_hash": hash_token(token),
                "created_at": now,
                "expires_at": now + self.lifetime,
            }
        )
        return session_id

    async def identity(self, session_id: str) -> Identity | None:
        doc = await self._sessions.find_one({"_id": hash_token(session_id), "expires_at": {"$gt": utc_now()}})
        if doc is None:
            return None
        return await self._identities.by_token_hash(doc["token_hash"], wait_s=0)

    async def close(self, session_id: str) -> None:
        await self._sessions.delete_one({"_id": hash_token(session_id)})
