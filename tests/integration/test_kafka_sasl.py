"""Haven's clients against a Kafka that only Haven can use: SCRAM-SHA-512 logins and ACLs.

A throwaway Kafka 4.1 broker of this module's own (the shared stack stays open on loopback)
with a SASL_PLAINTEXT listener, SCRAM credentials added at format time, the KRaft
StandardAuthorizer and deny-by-default. Each service principal gets exactly the ACLs of
streams/access.py, the table the Strimzi KafkaUsers are checked against.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError
from aiokafka.protocol.admin import CreateAclsRequest

from streams.access import SERVICE_ACCESS, Acl
from streams.events import IdentityChanged, PostSubmitted, new_id
from streams.kafka import TopicBootstrapError, create_consumer, create_producer, ensure_topics, kafka_ready, send_event
from streams.kafka_security import aiokafka_security
from streams.lag import LagProbe
from streams.serialization import decode
from streams.settings import Secret, Settings
from streams.topics import Topics
from tools.localstack.components import (
    KAFKA_JVM_FLAGS,
    StackPaths,
    new_cluster_id,
    render_log4j2_properties,
    render_server_properties,
)
from tools.localstack.prepare import _run, prepare_kafka
from tools.localstack.processes import exited, log_tail, start_background, stop_process
from tools.process_group import free_port_pair

pytestmark = pytest.mark.integration

START_TIMEOUT_S = 45
ADMIN = "haven-admin"
PREFIX = "haven."
_TOPIC, _GROUP = 2, 3  # ResourceType codes of the ACL protocol
_LITERAL, _PREFIXED = 3, 4  # PatternType codes
_ALLOW = 3


@dataclass(frozen=True)
class SecuredBroker:
    bootstrap: str
    passwords: dict[str, str]
    log_file: Path

    def settings(self, user: str, password: str | None = None) -> Settings:
        return Settings(
            kafka_bootstrap=self.bootstrap,
            topic_prefix=PREFIX,
            partitions=1,
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username=user,
            kafka_sasl_password=Secret(password or self.passwords[user]),
        )


def _server_properties(port: int, paths: StackPaths, admin_password: str) -> str:
    base = Settings(kafka_bootstrap=f"127.0.0.1:{port}")
    lines = dict(line.split("=", 1) for line in render_server_properties(base, paths).splitlines())
    controller = f"127.0.0.1:{port + 1}"
    lines |= {
        "listeners": f"SASL_PLAINTEXT://127.0.0.1:{port},CONTROLLER://{controller}",
        "advertised.listeners": f"SASL_PLAINTEXT://127.0.0.1:{port}",
        "inter.broker.listener.name": "SASL_PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{ADMIN}" password="{admin_password}";'
        ),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        # The KRaft controller listener (loopback, this broker talking to itself) authenticates
        # nobody, so its principal is ANONYMOUS; clients only ever see the SASL listener.
        "super.users": f"User:{ADMIN};User:ANONYMOUS",
        "allow.everyone.if.no.acl.found": "false",
    }
    return "".join(f"{key}={value}\n" for key, value in lines.items())


@pytest.fixture(scope="module")
async def broker() -> AsyncIterator[SecuredBroker]:
    # Only the jars are shared (the cache); data, logs and the pid file live in a temp dir.
    base = Settings.from_env()
    work = Path(tempfile.mkdtemp(prefix="haven-sasl-kafka-"))
    paths = StackPaths(cache=base.cache_dir.expanduser(), state=work)
    await asyncio.to_thread(prepare_kafka, paths)
    port = free_port_pair()  # the controller listens on the next port
    passwords = {name: secrets.token_hex(16) for name in (ADMIN, *(a.principal for a in SERVICE_ACCESS.values()))}
    paths.kafka_dir.mkdir(parents=True)
    properties = paths.kafka_dir / "server.properties"
    properties.write_text(_server_properties(port, paths, passwords[ADMIN]))
    (paths.kafka_dir / "log4j2.properties").write_text(render_log4j2_properties())
    scram = [
        arg for name, pw in passwords.items() for arg in ("--add-scram", f"SCRAM-SHA-512=[name={name},password={pw}]")
    ]
    await asyncio.to_thread(
        _run,
        [
            "java",
            "-Xmx256m",
            "-cp",
            f"{paths.kafka_libs}/*",
            "kafka.tools.StorageTool",
            "format",
            "-t",
            new_cluster_id(),
            "-c",
            str(properties),
            *scram,
        ],
        paths.kafka_dir,
        "formatting the SASL broker's storage",
    )
    pid = start_background(
        [
            "java",
            *KAFKA_JVM_FLAGS,
            f"-Dlog4j2.configurationFile={paths.kafka_dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={paths.kafka_logs}",
            "-cp",
            f"{paths.kafka_libs}/*",
            "kafka.Kafka",
            str(properties),
        ],
        log_file=paths.kafka_logs / "stdout.log",
        pid_file=paths.pid_file("kafka"),
        cwd=paths.kafka_dir,
    )
    secured = SecuredBroker(f"127.0.0.1:{port}", passwords, paths.kafka_log_file)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not await kafka_ready(secured.settings(ADMIN)):
            if exited(pid) or time.monotonic() > deadline:
                pytest.fail(f"the SASL broker did not start:\n{log_tail(paths.kafka_log_file)}")
            await asyncio.sleep(0.5)
        await ensure_topics(secured.settings(ADMIN))
        for access in SERVICE_ACCESS.values():
            await _create_acls(secured.settings(ADMIN), access.principal, access.acls(PREFIX))
        yield secured
    finally:
        stop_process(pid)
        shutil.rmtree(work, ignore_errors=True)


async def _create_acls(admin_settings: Settings, principal: str, acls: set[Acl]) -> None:
    # aiokafka's admin client has no create_acls(); its protocol module has the request.
    admin = AIOKafkaAdminClient(bootstrap_servers=admin_settings.kafka_bootstrap, **aiokafka_security(admin_settings))
    await admin.start()
    try:
        for acl in acls:
            request = CreateAclsRequest(
                resource_type=_TOPIC if acl.kind == "topic" else _GROUP,
                resource_name=acl.name,
                resource_pattern_type_filter=_PREFIXED if acl.prefixed else _LITERAL,
                principal=f"User:{principal}",
                host="*",
                operation=acl.operation.code,
                permission_type=_ALLOW,
            )
            response = await admin._send_request(request)
            assert [code for code, _ in response.creation_responses] == [0], response
    finally:
        await admin.close()


async def _retry_until_authorized(coro_factory, timeout_s: float = 10.0):  # type: ignore[no-untyped-def]
    """ACLs reach the authorizer through the metadata log, a moment after CreateAcls answers."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await coro_factory()
        except (TopicAuthorizationFailedError, KafkaError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)


async def _submitted_by_the_forum(forum: Settings, body: str) -> PostSubmitted:
    """A post on posts.submitted, sent as haven-forum."""
    post = PostSubmitted(post_id=new_id(), thread_id=new_id(), board_slug="alcohol", author_id=new_id(), body=body)
    producer = create_producer(forum, client_id="forum")
    await producer.start()
    try:
        topic = Topics(PREFIX).posts_submitted
        await _retry_until_authorized(lambda: send_event(producer, topic, post.thread_id, post))
    finally:
        await producer.stop()
    return post


async def test_haven_clients_log_in_with_scram_and_pass_an_event_through_with_their_acls(broker: SecuredBroker) -> None:
    forum, worker = broker.settings("haven-forum"), broker.settings("haven-moderation-worker")
    topics = Topics(PREFIX)
    assert await kafka_ready(worker)
    # Start-up path of every service: it sees all topics (Describe) and so creates none.
    assert await ensure_topics(worker) == []

    post = await _submitted_by_the_forum(forum, "Day 3.")

    consumer = create_consumer(
        worker, [topics.posts_submitted], group_id=f"{PREFIX}moderation-worker", client_id="worker"
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=20)
        await consumer.commit()
    finally:
        await consumer.stop()
    assert decode(PostSubmitted, record.value).post_id == post.post_id


async def test_a_wrong_password_an_unknown_user_and_no_login_are_all_refused(broker: SecuredBroker) -> None:
    refused = [
        broker.settings("haven-forum", password="not-the-password"),
        broker.settings("mallory", password=broker.passwords["haven-forum"]),
    ]
    for settings in refused:
        assert not await kafka_ready(settings)
        producer = create_producer(settings, client_id="intruder")
        with pytest.raises(KafkaError):
            await producer.start()
        await producer.stop()
    # A client without SASL (what every Haven client was before) gets no answer at all.
    assert not await kafka_ready(Settings(kafka_bootstrap=broker.bootstrap))
    log = broker.log_file.read_text(errors="replace")
    assert "Failed authentication" in log and "invalid credentials with SASL mechanism SCRAM-SHA-512" in log


async def test_a_principal_without_a_write_acl_cannot_mint_an_identity(broker: SecuredBroker) -> None:
    """The screening worker's login must not be able to create a moderator (or read identities)."""
    worker, topics = broker.settings("haven-moderation-worker"), Topics(PREFIX)
    minted = IdentityChanged(id=new_id(), kind="moderator", token_hash="f" * 64, role="admin")
    producer = create_producer(worker, client_id="moderation-worker")
    await producer.start()
    try:
        # It may write what it legitimately writes...
        await _retry_until_authorized(lambda: producer.send_and_wait(topics.posts_screened, b"{}", key=b"k"))
        # ...but not identities.
        with pytest.raises(TopicAuthorizationFailedError):
            await send_event(producer, topics.identities, minted.id, minted)
    finally:
        await producer.stop()

    reader = AIOKafkaConsumer(
        topics.identities, bootstrap_servers=broker.bootstrap, group_id=None, **aiokafka_security(worker)
    )
    with pytest.raises(TopicAuthorizationFailedError):
        await reader.start()
        await asyncio.wait_for(reader.getone(), timeout=10)
    await reader.stop()

    admin_reader = create_consumer(
        broker.settings(ADMIN), [topics.identities], group_id=f"{PREFIX}audit", client_id="audit"
    )
    await admin_reader.start()
    try:
        assert await admin_reader.getmany(timeout_ms=2000) == {}, "nothing reached identities"
    finally:
        await admin_reader.stop()


async def test_a_service_principal_may_not_create_topics(broker: SecuredBroker) -> None:
    """Topics (and their retention) are an administrator's: a service finding one missing stops, saying why."""
    worker = broker.settings("haven-moderation-worker").with_overrides(topic_prefix="elsewhere.")
    with pytest.raises(TopicBootstrapError, match="'haven-moderation-worker' may not create it"):
        await ensure_topics(worker)


async def test_the_moderation_api_measures_the_workers_lag_with_its_own_acls(broker: SecuredBroker) -> None:
    """The screening watchdog (services/moderation/api/app.py) runs as haven-moderation-api."""
    api = broker.settings("haven-moderation-api")
    topics = Topics(PREFIX)
    await _submitted_by_the_forum(broker.settings("haven-forum"), "Day 9.")
    probe = LagProbe(api, group_id=f"{PREFIX}moderation-worker", topic=topics.posts_submitted)
    await probe.start()
    try:
        lag = await _retry_until_authorized(probe.measure)
    finally:
        await probe.stop()
    assert lag.events >= 1 and lag.oldest_waiting_s is not None
