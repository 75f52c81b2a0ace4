"""Moderator accounts: stored hashed in the moderation database, announced on `identities`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.common.tokens import hash_token, new_token
from streams.events import IdentityChanged, new_id, utc_now
from streams.producer import RenewingProducer
from streams.publishing import EventPublisher, EventsUnavailable
from streams.topics import Topics

ROLES = ("moderator", "admin")


class ModeratorError(ValueError):
    pass


@dataclass(frozen=True)
class NewModerator:
    id: str
    name: str
    role: str
    token: str


class Moderators:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], producer: RenewingProducer, topics: Topics) -> None:
        self._accounts = db["moderators"]
        self._events = EventPublisher(producer, topics)

    async def ensure_indexes(self) -> None:
        await self._accounts.create_index("name", unique=True)

    async def add(self, name: str, role: str) -> NewModerator:
        if role not in ROLES:
            raise ModeratorError(f"role must be one of {', '.join(ROLES)}")
        if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").isalnum():
            raise ModeratorError("a name is 1 to 64 letters, digits, '-' or '_'")
        if await self._accounts.find_one({"name": name}):
            raise ModeratorError(f"a moderator named {name!r} exists already")
        token = new_token()
        doc: dict[str, Any] = {
            "_id": new_id(),
            "name": name,
            "role": role,
            "token_hash": hash_token(token),
            "disabled": False,
            "created_at": utc_now(),
        }
        await self._accounts.insert_one(doc)
        try:
            await self._announce(doc)
        except EventsUnavailable:
            # The services learn of tokens only from the announcement: an account they never heard
            # of would hold its name while its token, never shown, worked nowhere.
            await self._accounts.delete_one({"_id": doc["_id"]})
            raise ModeratorError("Kafka did not take the announcement, so nothing was created; run it again") from None
        return NewModerator(doc["_id"], name, role, token)

    async def disable(self, name: str) -> None:
        doc = await self._accounts.find_one_and_update({"name": name}, {"$set": {"disabled": True}})
        if doc is None:
            raise ModeratorError(f"no moderator named {name!r}")
        doc["disabled"] = True
        try:
            await self._announce(doc)
        except EventsUnavailable:
            raise ModeratorError(
                f"{name} is marked disabled, but Kafka did not take the announcement, so their token "
                "still works; run the same command again"
            ) from None

    async def list(self) -> list[dict[str, Any]]:
        return await self._accounts.find({}, {"token_hash": 0}).sort("name", 1).to_list(None)

    async def _announce(self, doc: dict[str, Any]) -> None:
        event = IdentityChanged(
            id=doc["_id"],
            token_hash=doc["token_hash"],
            kind="moderator",
            role=doc["role"],
            disabled=doc["disabled"],
            handle=doc["name"],
        )
        await self._events.publish(event)
