"""`haven moderators add | disable` never report what the services did not hear: the services
learn of moderator tokens only from the announcement on `identities`."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError

from services.moderation.api.moderators import ModeratorError, Moderators
from streams.topics import Topics


class Accounts:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    async def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        return next((dict(d) for d in self.docs.values() if d["name"] == query["name"]), None)

    async def insert_one(self, doc: dict[str, Any]) -> None:
        self.docs[doc["_id"]] = dict(doc)

    async def delete_one(self, query: dict[str, Any]) -> None:
        self.docs.pop(query["_id"], None)

    async def find_one_and_update(self, query: dict[str, Any], update: dict[str, Any]) -> dict[str, Any] | None:
        doc = await self.find_one(query)
        if doc is not None:
            self.docs[doc["_id"]].update(update["$set"])
        return doc


class Broker:
    def __init__(self) -> None:
        self.away = False
        self.sent: list[bytes] = []

    async def send(self, topic: str, value: bytes, key: bytes, headers: object = None) -> asyncio.Future[None]:
        if self.away:
            raise KafkaTimeoutError()
        self.sent.append(value)
        acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        acked.set_result(None)
        return acked


def _moderators() -> tuple[Moderators, Accounts, Broker]:
    accounts, broker = Accounts(), Broker()
    return Moderators({"moderators": accounts}, broker, Topics("t.")), accounts, broker  # type: ignore[arg-type]


async def test_an_account_the_services_never_heard_of_is_not_left_holding_its_name() -> None:
    moderators, accounts, broker = _moderators()
    broker.away = True
    with pytest.raises(ModeratorError, match="nothing was created; run it again"):
        await moderators.add("ines", "moderator")
    assert accounts.docs == {}
    broker.away = False
    created = await moderators.add("ines", "moderator")
    assert created.name == "ines" and len(broker.sent) == 1


async def test_a_disable_kafka_did_not_take_says_the_token_still_works_and_running_it_again_announces_it() -> None:
    moderators, accounts, broker = _moderators()
    await moderators.add("ines", "moderator")
    broker.away = True
    with pytest.raises(ModeratorError, match="token still works; run the same command again"):
        await moderators.disable("ines")
    broker.away = False
    await moderators.disable("ines")
    assert b'"disabled":true' in broker.sent[-1].replace(b" ", b"")
