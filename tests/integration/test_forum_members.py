"""Members: profile and milestones, reactions, peer reports, erasure — through the real stack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.events import IdentityChanged
from streams.kafka import ensure_topics
from streams.kafka_security import aiokafka_security
from streams.serialization import decode
from streams.settings import Settings
from streams.topics import Topics
from tests.harness import ForumClient, RunningServices, add_moderator, eventually, queue_item, read_topic, unique_name

pytestmark = pytest.mark.integration


async def _published_thread(member: ForumClient, body: str = "Ninety days today. Coffee tastes better.") -> dict:
    status, created = await member.request(
        "POST", "/v1/boards/milestones/threads", json={"title": "90 days", "body": body}
    )
    assert status == 202, created

    async def published() -> dict | None:
        status, post = await member.request("GET", f"/v1/posts/{created['post_id']}")
        return post if post.get("status") == "published" else None

    await eventually(published)
    return created


async def test_a_member_sets_their_sober_date_and_sees_days_and_milestone(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    member = await ForumClient.join(http, services.forum)
    since = (datetime.now(UTC).date() - timedelta(days=95)).isoformat()
    status, me = await member.request("PATCH", "/v1/me", json={"sober_since": since, "country": "ie"})
    assert status == 200, me
    assert (me["days_sober"], me["milestone"], me["country"]) == (95, "90 days", "IE")
    thread = await _published_thread(member)
    status, post = await member.request("GET", f"/v1/posts/{thread['post_id']}")
    assert post["author_milestone"] == "90 days"

    for bad in ({"sober_since": "2020-13-01"}, {"sober_since": "3000-01-01"}, {"country": "Ireland"}, {"handle": "me"}):
        status, problem = await member.request("PATCH", "/v1/me", json=bad)
        assert status == 400 and problem["detail"], bad


async def test_a_members_handle_never_travels_beside_their_token_hash(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    member = await ForumClient.join(http, services.forum, country="ie")
    status, _ = await member.request("PATCH", "/v1/me", json={"language": "es"})
    assert status == 200
    key = member.identity["id"].encode()
    records = await read_topic(
        services,
        Topics(services.settings.topic_prefix).identities,
        lambda records: sum(r.key == key for r in records) >= 2,
    )
    events = [decode(IdentityChanged, r.value) for r in records if r.key == key]
    assert len(events) == 2 and events[-1].language == "es", "joining and the change each sent one"
    assert all(e.handle is None for e in events)
    assert member.identity["handle"] not in b"".join(r.value for r in records if r.key == key).decode()


async def test_reactions_count_once_per_member_and_kind(services: RunningServices, http: aiohttp.ClientSession) -> None:
    author = await ForumClient.join(http, services.forum)
    fan = await ForumClient.join(http, services.forum)
    thread = await _published_thread(author)
    path = f"/v1/posts/{thread['post_id']}/reactions"
    status, first = await fan.request("POST", path, json={"kind": "hug"})
    assert status == 201
    status, again = await fan.request("POST", path, json={"kind": "hug"})
    assert status == 200 and again["reactions"] == first["reactions"] == {"hug": 1, "strength": 0, "me_too": 0}
    status, _ = await author.request("POST", path, json={"kind": "strength"})
    status, post = await fan.request("GET", f"/v1/posts/{thread['post_id']}")
    assert post["reactions"] == {"hug": 1, "strength": 1, "me_too": 0}
    status, problem = await fan.request("POST", path, json={"kind": "like"})
    assert status == 400 and "hug" in problem["detail"]


async def test_the_author_is_told_of_a_reaction_without_learning_who_reacted(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    author = await ForumClient.join(http, services.forum)
    fan = await ForumClient.join(http, services.forum)
    posts = [(await _published_thread(author))["post_id"] for _ in range(2)]
    for post_id in posts:
        for _ in range(2):
            status, _ = await fan.request("POST", f"/v1/posts/{post_id}/reactions", json={"kind": "hug"})
            assert status in (200, 201)
    inbox = ForumClient(http, services.notify, token=author.token)

    async def both_reactions() -> list | None:
        status, body = await inbox.request("GET", "/v1/notifications")
        found = [n for n in body.get("items", []) if n["kind"] == "reaction"] if status == 200 else []
        return found if len(found) >= 2 else None

    reactions = await eventually(both_reactions)
    assert sorted(n["post_id"] for n in reactions) == sorted(posts), "one notification per reacted post"
    ids = [n["notification_id"] for n in reactions]
    assert all(fan.identity["id"] not in notification_id for notification_id in ids)
    assert len({notification_id.rsplit(":", 1)[-1] for notification_id in ids}) == 2, (
        "nothing in the ids ties the two reactions to one member"
    )


async def test_a_worried_report_reaches_the_moderation_queue_at_hold_level_and_not_the_author(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    author = await ForumClient.join(http, services.forum)
    friend = await ForumClient.join(http, services.forum)
    thread = await _published_thread(author, body="Quiet week. Not really talking to anyone lately.")
    status, receipt = await friend.request(
        "POST", f"/v1/posts/{thread['post_id']}/reports", json={"reason": "worried_about_author", "note": "off lately"}
    )
    assert status == 202, receipt

    moderator = await add_moderator(http, services, unique_name(services, "dee"))

    item = await eventually(lambda: queue_item(moderator, thread["post_id"]), timeout=45)
    assert item["level"] == "hold" and item["reports"][0]["reason"] == "worried_about_author"

    notify = ForumClient(http, services.notify, token=author.token)
    status, inbox = await notify.request("GET", "/v1/notifications")
    assert status == 200 and not [n for n in inbox["items"] if "report" in n["kind"]]


async def test_erasure_stops_the_token_everywhere_and_leaves_posts_as_former_member(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    member = await ForumClient.join(http, services.forum)
    reader = await ForumClient.join(http, services.forum)
    thread = await _published_thread(member)
    notify = ForumClient(http, services.notify, token=member.token)

    async def notify_knows_the_token() -> int | None:
        status, _ = await notify.request("GET", "/v1/notifications")
        return status if status == 200 else None

    await eventually(notify_knows_the_token)
    status, _ = await member.request("DELETE", "/v1/me")
    assert status == 204
    status, _ = await member.request("GET", "/v1/me")
    assert status == 401
    status, post = await reader.request("GET", f"/v1/posts/{thread['post_id']}")
    assert status == 200 and post["author_handle"] == "former member" and post["body"]

    async def notify_refuses() -> int | None:
        status, _ = await notify.request("GET", "/v1/notifications")
        return status if status == 401 else None

    assert await eventually(notify_refuses, timeout=20) == 401


async def test_erasure_removes_the_authors_words_from_the_moderation_queue(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    author = await ForumClient.join(http, services.forum, country="GB")
    status, created = await author.request(
        "POST",
        "/v1/boards/alcohol/threads",
        json={"title": "Tonight", "body": "My pills are counted and I'm going to kill myself tonight."},
    )
    assert status == 202
    moderator = await add_moderator(http, services, unique_name(services, "eve"))

    async def queued(with_body: bool) -> dict | None:
        # The listing never carries post text: the words are looked for in the (audited) item view.
        listed = await queue_item(moderator, created["post_id"])
        if listed is None:
            return None
        status, item = await moderator.request("GET", f"/v1/mod/items/{listed['item_id']}")
        return item if status == 200 and (item["body"] is not None) == with_body else None

    await eventually(lambda: queued(True), timeout=45)
    status, _ = await author.request("DELETE", "/v1/me")
    assert status == 204
    item = await eventually(lambda: queued(False), timeout=30)
    assert item["title"] is None


async def test_a_member_from_before_token_links_signs_in_once_the_linking_has_run(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    """The forum links every identity once per database (start-up, `haven migrate`); after that a
    token is checked by its link alone, so a made-up token never costs a search of the members."""
    from services.common.mongo import create_mongo_client
    from services.common.tokens import hash_token
    from services.forum.store import ForumStore

    member = await ForumClient.join(http, services.forum)
    client = create_mongo_client(services.settings)
    store = ForumStore(client[services.settings.database_name("forum")])
    try:
        removed = await store.tokens.delete_one({"_id": hash_token(member.token or "")})
        assert removed.deleted_count == 1, "new identities are linked by token hash"
        status, _ = await member.request("GET", "/v1/me")
        assert status == 401, "no link, no search"
        assert await store.link_every_token(force=True) >= 1
        status, me = await member.request("GET", "/v1/me")
        assert status == 200 and me["id"] == member.identity["id"]
    finally:
        await client.close()


async def _identities_config(settings: Settings) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **aiokafka_security(settings))
    await admin.start()
    try:
        topic = Topics(settings.topic_prefix).identities
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    [(error_code, _, _, _, entries)] = response.resources
    assert error_code == 0
    return {entry[0]: entry[1] for entry in entries}


async def test_the_broker_compacts_an_erased_members_identity_records_within_an_hour(services: RunningServices) -> None:
    """Compaction never touches the segment being written: the topic must roll it and compact it
    on a clock, or an erased member's records stay readable until 1 GiB or 7 days have passed."""
    config = await _identities_config(services.settings)
    assert config["cleanup.policy"] == "compact"
    assert int(config["segment.ms"]) <= 3600 * 1000
    assert int(config["max.compaction.lag.ms"]) <= 3600 * 1000


async def test_an_identities_topic_made_by_an_older_version_is_given_the_hourly_compaction(
    services: RunningServices,
) -> None:
    settings = services.settings.with_overrides(topic_prefix=f"{unique_name(services, 'old')}.")
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **aiokafka_security(settings))
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(
                    Topics(settings.topic_prefix).identities,
                    num_partitions=1,
                    replication_factor=1,
                    topic_configs={"cleanup.policy": "compact", "min.compaction.lag.ms": "0"},
                )
            ]
        )
    finally:
        await admin.close()
    assert int((await _identities_config(settings))["max.compaction.lag.ms"]) > 3600 * 1000, (
        "as an older version made it"
    )
    created = await ensure_topics(settings)
    assert Topics(settings.topic_prefix).identities not in created
    config = await _identities_config(settings)
    assert int(config["segment.ms"]) <= 3600 * 1000 and int(config["max.compaction.lag.ms"]) <= 3600 * 1000
    assert config["cleanup.policy"] == "compact"
