"""Event models, serialization and topic layout."""

from __future__ import annotations

import json

import pytest

from streams.events import PostSubmitted, Verdict
from streams.serialization import UndecodableEvent, decode, encode
from streams.settings import Settings
from streams.topics import Topics, topic_specs


def _post(**overrides: object) -> PostSubmitted:
    fields = {"post_id": "p1", "thread_id": "t1", "board_slug": "alcohol", "author_id": "a1", "body": "day 4"}
    fields.update(overrides)
    return PostSubmitted(**fields)  # type: ignore[arg-type]


def test_an_event_round_trips_with_its_envelope() -> None:
    post = _post()
    decoded = decode(PostSubmitted, encode(post))
    assert decoded == post
    envelope = json.loads(encode(post))
    assert envelope["schema_version"] == 1
    assert envelope["event_id"] and envelope["occurred_at"]


def test_unknown_fields_from_a_newer_producer_are_ignored() -> None:
    raw = json.loads(encode(_post()))
    raw["mood"] = "hopeful"
    assert decode(PostSubmitted, json.dumps(raw).encode()).post_id == "p1"


@pytest.mark.parametrize(
    "raw",
    [b"\xff\xfe not utf-8", b"{not json", b'{"post_id": "p1"}', None, b'"a string"'],
)
def test_anything_undecodable_raises_one_error_type(raw: bytes | None) -> None:
    with pytest.raises(UndecodableEvent):
        decode(PostSubmitted, raw)


def test_a_newer_schema_version_is_refused_rather_than_misread() -> None:
    raw = json.loads(encode(_post()))
    raw["schema_version"] = 99
    with pytest.raises(UndecodableEvent, match="newer"):
        decode(PostSubmitted, json.dumps(raw).encode())


def test_a_verdict_refuses_values_outside_the_contract() -> None:
    with pytest.raises(ValueError):
        Verdict(id="p", risk="severe", action="publish", model_version="x")  # type: ignore[arg-type]


def test_topics_carry_the_prefix_and_bodies_have_bounded_retention() -> None:
    settings = Settings(topic_prefix="test-1.", partitions=3, body_retention_days=7)
    specs = {spec.name: spec for spec in topic_specs(settings)}
    topics = Topics("test-1.")
    assert specs[topics.identities].config["cleanup.policy"] == "compact"
    assert specs[topics.identities].config["max.compaction.lag.ms"] == str(3600 * 1000), (
        "erased records go within an hour"
    )
    assert specs[topics.posts_submitted].config["retention.ms"] == str(7 * 24 * 3600 * 1000)
    assert specs[topics.posts_submitted].partitions == 3
    assert all(name.startswith("test-1.") for name in specs)
    dead_letters = [name for name in specs if ".dlq." in name]
    assert dead_letters and all(int(specs[n].config["retention.ms"]) < 7 * 24 * 3600 * 1000 for n in dead_letters)


def test_settings_come_from_haven_variables() -> None:
    settings = Settings.from_env({"HAVEN_TOPIC_PREFIX": "x.", "HAVEN_PARTITIONS": "2", "HAVEN_FORUM_PORT": "9000"})
    assert (settings.topic_prefix, settings.partitions, settings.forum_port) == ("x.", 2, 9000)
    with pytest.raises(ValueError, match="HAVEN_PARTITIONS"):
        Settings.from_env({"HAVEN_PARTITIONS": "many"})
