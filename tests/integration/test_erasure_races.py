"""A profile change racing the member's own erasure, on the real Kafka and FerretDB: the erasure
wins on the compacted identities topic, whichever request finished last."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from services.forum.app import create_app
from services.forum.keys import publisher_key
from services.moderation.resources import ResourceDirectory
from streams.events import IdentityChanged
from streams.serialization import decode
from streams.topics import Topics
from tests.harness import ForumClient, RunningServices, topic_records_now

pytestmark = pytest.mark.integration


@pytest.fixture
async def second_forum(services: RunningServices) -> AsyncIterator[TestServer]:
    """Another forum replica, in this process, on the services' topics and database."""
    directory = ResourceDirectory.load()
    app: web.Application = create_app(services.settings, standing_lines=directory.standing_lines)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


async def test_a_country_change_that_loses_the_race_to_erasure_leaves_the_identity_erased(
    services: RunningServices, http: aiohttp.ClientSession, second_forum: TestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = await ForumClient.join(http, services.forum, country="ie")
    publisher = second_forum.app[publisher_key]
    announce = publisher.identity_changed

    async def erased_just_before_announcing(event: IdentityChanged) -> None:
        # The change is stored; before its event goes out, the member erases themselves on the
        # other replica, which sends its erased record and its tombstone first.
        if not event.erased:
            status, _ = await member.request("DELETE", "/v1/me")
            assert status == 204
        await announce(event)

    monkeypatch.setattr(publisher, "identity_changed", erased_just_before_announcing)
    changer = ForumClient(http, str(second_forum.make_url("")).rstrip("/"), member.token)
    patched, body = await changer.request("PATCH", "/v1/me", json={"country": "es"})

    key = member.identity["id"].encode()
    keyed = [
        r for r in await topic_records_now(services, Topics(services.settings.topic_prefix).identities) if r.key == key
    ]
    assert [decode(IdentityChanged, r.value).country if r.value else None for r in keyed][-2:] == ["ES", None], (
        "the change's live record is followed by a tombstone, so compaction and every consumer erase it"
    )
    assert patched == 404, body
    status, _ = await member.request("GET", "/v1/me")
    assert status == 401
