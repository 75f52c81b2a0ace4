"""Faults injected into a running Haven, and what was counted after each.

A `FaultRig` is a whole Haven of its own: a Kafka broker, a FerretDB for the forum, notify and
the worker, a second FerretDB for the moderation API alone, and the four services. Each scenario
submits posts while it breaks one part, then waits and counts: posts accepted (202), refused
(an honest 503 while Kafka was away), reaching a terminal state (published or held), lost (accepted
and never terminal), duplicated (a post listed twice), and verdicts emitted more than once for the
same revision (harmless, since every consumer is idempotent, but counted). Used by the fault
tests and by `haven bench faults`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from streams.settings import Settings
from tools.localstack.components import StackPaths
from tools.localstack.processes import running_pid, wait_exited
from tools.localstack.stack import FERRETDB_MARKER, start_ferretdb, start_kafka, stop
from tools.process_group import (
    REPO_ROOT,
    ServiceProcesses,
    free_port,
    free_port_pair,
    isolated_settings,
    start_service_processes,
)

BENIGN = "Day {n} sober. Made it to the evening meeting and stayed for coffee after. ({tag})"
CRISIS = "I have all my pills counted out in front of me and I am taking them tonight. Goodbye everyone. ({tag})"
#: Held for a human but not urgent: a wish to be gone, with no plan and no time.
WORRYING = "Relapsed again after 40 days. Honestly everyone would be better off without me around. ({tag})"
#: How long the crisis reply comes after the worrying one in the moderation database scenario.
WORRYING_LEAD_S = 10.0
TERMINAL = ("published", "held")
#: The country every rig member gives when joining.
MEMBERS_COUNTRY = "GB"


@dataclass
class FaultResult:
    fault: str
    accepted: int = 0
    #: Refusals by the answer given: an HTTP status ("503") or "no answer" (a timeout, a reset).
    refused_by: dict[str, int] = field(default_factory=dict)
    #: Refusals whose problem+json carried crisis lines (every 429 and 5xx of a submission should).
    refused_with_crisis_lines: int = 0
    #: Of those, refusals whose lines were all of the member's own country (MEMBERS_COUNTRY).
    refused_with_own_country_lines: int = 0
    terminal: int = 0
    lost: int = 0
    duplicated: int = 0
    repeated_verdicts: int = 0
    recover_s: float | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def refused(self) -> int:
        return sum(self.refused_by.values())

    def row(self) -> str:
        recover = "-" if self.recover_s is None else f"{self.recover_s:.1f}"
        return (
            f"{self.fault:<38} {self.accepted:>8} {self.refused:>7} {self.terminal:>8} {self.lost:>5}"
            f" {self.duplicated:>10} {self.repeated_verdicts:>9} {recover:>11}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "refused": self.refused}


TABLE_HEADER = (
    f"{'fault':<38} {'accepted':>8} {'refused':>7} {'terminal':>8} {'lost':>5}"
    f" {'duplicated':>10} {'repeated':>9} {'recover (s)':>11}"
)


@dataclass
class FaultRig:
    settings: Settings
    kafka: Settings
    main_db: Settings
    moderation_db: Settings
    group: ServiceProcesses

    @classmethod
    async def start(cls, base: Settings, work_dir: Path, *, stalled_after_s: int = 10) -> FaultRig:
        kafka = base.with_overrides(kafka_bootstrap=f"127.0.0.1:{free_port_pair()}", state_dir=work_dir / "kafka")
        main_db = base.with_overrides(mongo_uri=f"mongodb://127.0.0.1:{free_port()}/", state_dir=work_dir / "db-main")
        moderation_db = base.with_overrides(
            mongo_uri=f"mongodb://127.0.0.1:{free_port()}/", state_dir=work_dir / "db-moderation"
        )
        await start_kafka(kafka, StackPaths.from_settings(kafka))
        await start_ferretdb(main_db, StackPaths.from_settings(main_db))
        await start_ferretdb(moderation_db, StackPaths.from_settings(moderation_db))
        settings = isolated_settings(
            base.with_overrides(kafka_bootstrap=kafka.kafka_bootstrap, mongo_uri=main_db.mongo_uri), label="faults"
        ).with_overrides(partitions=3, screening_stalled_after_s=stalled_after_s)
        group = await start_service_processes(
            settings,
            work_dir / "logs",
            extra_env={
                "HAVEN_IDENTITIES_PER_HOUR": "100000",
                "HAVEN_POSTS_PER_MINUTE": "100000",
                "HAVEN_POSTS_PER_HOUR": "100000",
            },
            env_by_service={"moderation-api": {"HAVEN_MONGO_URI": moderation_db.mongo_uri}},
        )
        return cls(settings, kafka, main_db, moderation_db, group)

    def stop(self) -> None:
        self.group.stop()
        for component in (self.kafka, self.main_db, self.moderation_db):
            stop(component)

    def add_moderator(self, name: str) -> str:
        """A moderator account made with the real CLI, against the moderation API's own database."""
        result = subprocess.run(
            [sys.executable, "-m", "services.cli", "moderators", "add", name],
            cwd=REPO_ROOT,
            env=self.group.env | {"HAVEN_MONGO_URI": self.moderation_db.mongo_uri},
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return result.stdout.strip().splitlines()[-1]

    # the faults

    def kill_worker(self) -> None:
        self.group.processes["moderation-worker"].send_signal(signal.SIGKILL)
        self.group.processes["moderation-worker"].wait()

    def start_worker(self) -> None:
        self.group.start("moderation-worker")

    def stop_broker(self) -> None:
        stop(self.kafka)

    async def start_broker(self) -> None:
        await start_kafka(self.kafka, StackPaths.from_settings(self.kafka))

    def _ferretdb_pid(self, db: Settings) -> int:
        pid = running_pid(StackPaths.from_settings(db).pid_file("ferretdb"), FERRETDB_MARKER)
        assert pid is not None, "the rig's FerretDB is not running"
        return pid

    def pause_all_databases(self) -> None:
        for db in (self.main_db, self.moderation_db):
            os.kill(self._ferretdb_pid(db), signal.SIGSTOP)

    def resume_all_databases(self) -> None:
        for db in (self.main_db, self.moderation_db):
            os.kill(self._ferretdb_pid(db), signal.SIGCONT)

    def kill_all_databases(self) -> None:
        """SIGKILL every FerretDB: connections are refused, not frozen, until they are started again."""
        for db in (self.main_db, self.moderation_db):
            pid = self._ferretdb_pid(db)
            os.kill(pid, signal.SIGKILL)
            if not wait_exited(pid, timeout_s=10.0):
                raise TimeoutError(f"process {pid} still runs 10 s after SIGKILL")

    async def start_all_databases(self) -> None:
        """Start every FerretDB again on its own data directory (what a restarted database host keeps)."""
        for db in (self.main_db, self.moderation_db):
            await start_ferretdb(db, StackPaths.from_settings(db))

    def pause_moderation_db(self) -> None:
        os.kill(self._ferretdb_pid(self.moderation_db), signal.SIGSTOP)

    def resume_moderation_db(self) -> None:
        os.kill(self._ferretdb_pid(self.moderation_db), signal.SIGCONT)


async def _crisis_lines_of(response: aiohttp.ClientResponse) -> list[dict[str, Any]]:
    try:
        problem = await response.json(content_type=None)
    except ValueError:
        return []
    lines = problem.get("crisis_lines") if isinstance(problem, dict) else None
    return [line for line in lines if isinstance(line, dict)] if isinstance(lines, list) else []


class Poster:
    """Members of the rig's forum, posting threads and reading their own posts back."""

    def __init__(self, http: aiohttp.ClientSession, forum_url: str) -> None:
        self._http = http
        self._forum = forum_url
        self.tokens: list[str] = []
        self.accepted: dict[str, str] = {}  # post id -> its author's token
        self.refused_by: Counter[str] = Counter()
        self.refused_with_crisis_lines = 0
        self.refused_with_own_country_lines = 0

    async def join(self, members: int) -> None:
        for _ in range(members):
            async with self._http.post(f"{self._forum}/v1/identities", json={"country": MEMBERS_COUNTRY}) as response:
                assert response.status == 201, await response.text()
                self.tokens.append((await response.json())["token"])

    async def post(self, n: int, text: str, timeout_s: float = 30) -> str | None:
        """Member n starts a thread; its post's id once accepted, else None (the refusal counted)."""
        body = {"title": f"Check-in {n}", "body": text}
        return await self._submit(n, "/v1/boards/newcomers/threads", body, timeout_s)

    async def reply(self, n: int, thread_id: str, text: str, timeout_s: float = 30) -> str | None:
        """Member n replies in a thread; as `post`."""
        return await self._submit(n, f"/v1/threads/{thread_id}/posts", {"body": text}, timeout_s)

    async def _submit(self, n: int, path: str, body: dict[str, str], timeout_s: float) -> str | None:
        token = self.tokens[n % len(self.tokens)]
        try:
            async with self._http.post(
                f"{self._forum}{path}",
                headers={"Authorization": f"Bearer {token}"},
                json=body,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
            ) as response:
                if response.status == 202:
                    post_id = (await response.json())["post_id"]
                    self.accepted[post_id] = token
                    return str(post_id)
                self.refused_by[str(response.status)] += 1
                lines = await _crisis_lines_of(response)
                if lines:
                    self.refused_with_crisis_lines += 1
                if lines and all(line.get("country") == MEMBERS_COUNTRY for line in lines):
                    self.refused_with_own_country_lines += 1
        except (TimeoutError, aiohttp.ClientError):
            self.refused_by["no answer"] += 1
        return None

    @property
    def refused(self) -> int:
        return sum(self.refused_by.values())

    async def status(self, post_id: str) -> str | None:
        return await self._read(post_id, "status")

    async def thread_of(self, post_id: str) -> str | None:
        return await self._read(post_id, "thread_id")

    async def _read(self, post_id: str, field_name: str) -> str | None:
        """One field of the post as its author reads it, or None when it cannot be read."""
        try:
            async with self._http.get(
                f"{self._forum}/v1/posts/{post_id}",
                headers={"Authorization": f"Bearer {self.accepted[post_id]}"},
                timeout=aiohttp.ClientTimeout(total=10),
            ) as response:
                if response.status != 200:
                    return None
                return str((await response.json())[field_name])
        except (TimeoutError, aiohttp.ClientError):
            return None

    async def wait_terminal(self, timeout_s: float) -> tuple[set[str], float]:
        """Poll until every accepted post is published or held; returns those that are, and when."""
        done: set[str] = set()
        deadline = time.monotonic() + timeout_s
        last = time.monotonic()
        while time.monotonic() < deadline and len(done) < len(self.accepted):
            for post_id in [p for p in self.accepted if p not in done]:
                if await self.status(post_id) in TERMINAL:
                    done.add(post_id)
                    last = time.monotonic()
            if len(done) < len(self.accepted):
                await asyncio.sleep(0.5)
        return done, last

    async def listed_twice(self) -> int:
        """Threads listed more than once on the board (each accepted post starts one thread)."""
        seen: dict[str, int] = {}
        cursor: str | None = None
        while True:
            params = {"cursor": cursor} if cursor else {}
            async with self._http.get(f"{self._forum}/v1/boards/newcomers/threads", params=params) as response:
                page = await response.json()
            for item in page["items"]:
                seen[item["thread_id"]] = seen.get(item["thread_id"], 0) + 1
            cursor = page.get("next_cursor")
            if not cursor:
                break
        return sum(count - 1 for count in seen.values() if count > 1)


async def repeated_verdicts(settings: Settings, post_ids: set[str]) -> int:
    """Verdict events on posts.screened beyond one per post revision, for these posts."""
    from streams.events import PostScreened
    from streams.serialization import decode
    from streams.topics import Topics

    counts: Counter[tuple[str, int]] = Counter()
    for value in await _topic_values(settings, Topics(settings.topic_prefix).posts_screened):
        event = decode(PostScreened, value)
        if event.post_id in post_ids:
            counts[(event.post_id, event.revision)] += 1
    return sum(count - 1 for count in counts.values())


async def _under_load(
    rig: FaultRig,
    http: aiohttp.ClientSession,
    name: str,
    fault: Callable[[], Awaitable[None]],
    *,
    posts: int,
    rate: float,
    at: int,
    timeout_s: float,
) -> FaultResult:
    """Five members submit `posts` everyday posts at `rate`; `fault` starts before post number `at`
    and runs beside the load. Counted once the fault is over and every accepted post is terminal."""
    poster = Poster(http, rig.group.url("forum"))
    await poster.join(5)
    ended = {"at": 0.0}

    async def timed_fault() -> None:
        await fault()
        ended["at"] = time.monotonic()

    fault_task: asyncio.Task[None] | None = None
    started = time.monotonic()
    for n in range(posts):
        if n == at:
            fault_task = asyncio.create_task(timed_fault())
            await asyncio.sleep(0)
        await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
        await poster.post(n, BENIGN.format(n=n, tag=uuid.uuid4().hex[:6]))
    if fault_task is not None:
        await fault_task
    result = FaultResult(name)
    await _count(rig, poster, result, ended["at"], timeout_s)
    return result


async def _count(rig: FaultRig, poster: Poster, result: FaultResult, fault_ended: float, timeout_s: float) -> None:
    done, last = await poster.wait_terminal(timeout_s)
    result.accepted = len(poster.accepted)
    result.refused_by = dict(poster.refused_by)
    result.refused_with_crisis_lines = poster.refused_with_crisis_lines
    result.refused_with_own_country_lines = poster.refused_with_own_country_lines
    result.terminal = len(done)
    result.lost = result.accepted - result.terminal
    result.recover_s = max(0.0, last - fault_ended) if done else None
    result.duplicated = await poster.listed_twice()
    result.repeated_verdicts = await repeated_verdicts(rig.settings, set(poster.accepted))


async def worker_killed_mid_batch(
    rig: FaultRig, http: aiohttp.ClientSession, *, posts: int = 60, rate: float = 10.0, timeout_s: float = 240
) -> FaultResult:
    """kill -9 the screening worker while posts arrive, then start a new one."""

    async def fault() -> None:
        rig.kill_worker()
        await asyncio.sleep(2)
        rig.start_worker()

    return await _under_load(
        rig, http, "worker kill -9 mid-batch", fault, posts=posts, rate=rate, at=posts // 3, timeout_s=timeout_s
    )


async def broker_stopped(
    rig: FaultRig,
    http: aiohttp.ClientSession,
    *,
    posts: int = 60,
    rate: float = 2.0,
    down_s: float = 30.0,
    timeout_s: float = 240,
) -> FaultResult:
    """Stop the Kafka broker for `down_s` while posts arrive, then start it again."""

    async def fault() -> None:
        await asyncio.to_thread(rig.stop_broker)
        await asyncio.sleep(down_s)
        await rig.start_broker()

    return await _under_load(
        rig, http, f"broker stopped {down_s:.0f} s", fault, posts=posts, rate=rate, at=posts // 4, timeout_s=timeout_s
    )


async def moderation_db_paused(
    rig: FaultRig, http: aiohttp.ClientSession, moderator_token: str, *, paused_s: float = 100.0, timeout_s: float = 180
) -> FaultResult:
    """SIGSTOP the moderation API's database; SIGCONT after `paused_s`. While it is frozen, two
    members reply in one published thread: first a worrying post (held, not urgent), then, 10 s
    later, a crisis post. Their verdicts share the thread's partition, the held one first, and its
    item cannot be stored until the database is back.

    Afterwards the crisis reply must be held for its author, be an urgent item in the queue, and the
    moderators must have been alerted of it (`queue.item`) without anyone replaying anything; the
    worrying one must be queued too. Noted too: how long after the crisis reply the moderators'
    inbox had its alert while the database was still paused (None: not before it came back).
    """
    poster = Poster(http, rig.group.url("forum"))
    await poster.join(2)
    opening = await poster.post(0, BENIGN.format(n=1, tag=uuid.uuid4().hex[:6]))
    await poster.wait_terminal(timeout_s)
    thread_id = None if opening is None else await poster.thread_of(opening)
    if thread_id is None:
        raise RuntimeError(f"the thread to reply in was not opened: {poster.refused_by}")
    rig.pause_moderation_db()
    pause_started = time.monotonic()
    paged_after_s: float | None = None
    try:
        worrying_id = await poster.reply(0, thread_id, WORRYING.format(tag=uuid.uuid4().hex[:6]))
        # Later than the feed's first try at storing the worrying reply's item, so the crisis
        # verdict is fetched behind an event already waiting for the database.
        await asyncio.sleep(WORRYING_LEAD_S)
        post_id = await poster.reply(1, thread_id, CRISIS.format(tag=uuid.uuid4().hex[:6]))
        posted = time.monotonic()
        pause_ends = pause_started + paused_s
        while post_id is not None and paged_after_s is None and time.monotonic() < pause_ends:
            if await _moderators_alerted(rig, http, moderator_token, post_id):
                paged_after_s = round(time.monotonic() - posted, 1)
            else:
                await asyncio.sleep(0.5)
        await asyncio.sleep(max(0.0, pause_ends - time.monotonic()))
    finally:
        rig.resume_moderation_db()
    resumed = time.monotonic()
    result = FaultResult(f"moderation DB paused {paused_s:.0f} s")
    await _count(rig, poster, result, resumed, timeout_s)
    if post_id is None:
        return result
    item_level, alerted = await _queued_and_alerted(rig, http, moderator_token, post_id, timeout_s)
    in_queue_after_s = round(time.monotonic() - resumed, 1)
    result.notes = {
        "post_status": await poster.status(post_id),
        "queue_level": item_level,
        "moderators_alerted": alerted,
        "moderators_paged_while_paused_after_s": paged_after_s,
        "in_queue_after_s": in_queue_after_s,
        "worrying_reply_status": None if worrying_id is None else await poster.status(worrying_id),
        "worrying_reply_queue_level": (
            None if worrying_id is None else await _queue_level(rig, http, moderator_token, worrying_id)
        ),
    }
    return result


async def rolling_restart(
    rig: FaultRig, http: aiohttp.ClientSession, *, posts: int = 60, rate: float = 4.0, timeout_s: float = 240
) -> FaultResult:
    """SIGTERM every service in turn while posts arrive, each started again once it has stopped:
    what a rolling deploy does. Graceful shutdown must hand back or finish what was in flight."""

    async def fault() -> None:
        for name in ("moderation-worker", "moderation-api", "notify", "forum"):
            process = rig.group.processes[name]
            process.send_signal(signal.SIGTERM)
            await asyncio.to_thread(process.wait, 60)
            rig.group.start(name)
            await rig.group.wait_ready()

    return await _under_load(
        rig, http, "SIGTERM each service in turn", fault, posts=posts, rate=rate, at=posts // 5, timeout_s=timeout_s
    )


async def verdicts_replayed(
    rig: FaultRig, http: aiohttp.ClientSession, moderator_token: str, *, timeout_s: float = 180
) -> FaultResult:
    """An operator replays the verdicts to the moderation API: it is stopped, its consumer group is
    rewound to the start of posts.screened (as `kafka-consumer-groups --reset-offsets --to-earliest`
    does, say to rebuild the queue after restoring its database) and it is started again. A crisis
    post is screened, queued and paged before. Counted: the moderators' `queue.item` pages on the
    notifications topic before the replay and after it, and the verdicts replayed. A page the
    moderators already had is a false alarm at 3 a.m., with every urgent post since the topic's
    retention began."""
    poster = Poster(http, rig.group.url("forum"))
    await poster.join(1)
    post_id = await poster.post(0, CRISIS.format(tag=uuid.uuid4().hex[:6]))
    if post_id is None:
        raise RuntimeError(f"the crisis post was not accepted: {poster.refused_by}")
    level, alerted = await _queued_and_alerted(rig, http, moderator_token, post_id, timeout_s)
    if not (level == "urgent" and alerted):
        raise RuntimeError(f"the crisis post was not queued and paged before the replay: {level}, {alerted}")
    pages_before = await _queue_item_pages(rig.settings)
    api = rig.group.processes["moderation-api"]
    api.send_signal(signal.SIGTERM)
    await asyncio.to_thread(api.wait, 60)
    replayed = await _rewind_queue_feed(rig.settings)
    rig.group.start("moderation-api")
    await rig.group.wait_ready()
    restarted = time.monotonic()
    await _queue_feed_caught_up(rig.settings, timeout_s)
    caught_up_after_s = round(time.monotonic() - restarted, 1)
    await asyncio.sleep(3)  # a page published as the last verdict was handled reaches the topic
    pages_after = await _queue_item_pages(rig.settings)
    result = FaultResult("verdicts replayed to the moderation API")
    await _count(rig, poster, result, restarted, timeout_s)
    result.notes = {
        "verdicts_replayed": replayed,
        "caught_up_after_s": caught_up_after_s,
        "items_paged_before": len(pages_before),
        "pages_before": sum(pages_before.values()),
        "pages_after": sum(pages_after.values()),
        "items_paged_again": sorted(item for item in pages_before if pages_after[item] > pages_before[item]),
        "crisis_item_pages": pages_after[f"queue.item:post:{post_id}:1"],
        "queue_level_after": await _queue_level(rig, http, moderator_token, post_id),
    }
    return result


async def _queue_item_pages(settings: Settings) -> Counter[str]:
    """How many `queue.item` pages the notifications topic holds, by notification id."""
    from streams.events import Notification
    from streams.serialization import decode
    from streams.topics import Topics

    pages: Counter[str] = Counter()
    for value in await _topic_values(settings, Topics(settings.topic_prefix).notifications):
        notification = decode(Notification, value)
        if notification.kind == "queue.item":
            pages[notification.notification_id] += 1
    return pages


async def _topic_values(settings: Settings, topic: str) -> list[bytes]:
    """Every record's value in the topic, read to its end."""
    async with _partitions_of(settings, topic, group_id=None) as (consumer, partitions):
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        values: list[bytes] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                values.extend(record.value for record in records if record.value is not None)
        return values


@contextlib.asynccontextmanager
async def _partitions_of(settings: Settings, topic: str, group_id: str | None) -> AsyncIterator[tuple[Any, list[Any]]]:
    """A started consumer in `group_id` that subscribes to nothing (it never joins the group:
    it assigns, reads or commits by hand), and the topic's partitions as Haven creates it."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from streams.kafka_security import aiokafka_security
    from streams.topics import topic_specs

    spec = next(spec for spec in topic_specs(settings) if spec.name == topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        **aiokafka_security(settings),
    )
    await consumer.start()
    try:
        yield consumer, [TopicPartition(topic, p) for p in range(spec.partitions)]
    finally:
        await consumer.stop()


def _queue_feed(settings: Settings) -> tuple[str, str]:
    """The moderation API's verdicts topic and the consumer group that reads it."""
    from services.moderation.api.app import CONSUMER_NAME
    from streams.topics import Topics

    return Topics(settings.topic_prefix).posts_screened, f"{settings.topic_prefix}{CONSUMER_NAME}"


async def _rewind_queue_feed(settings: Settings) -> int:
    """Commit the start of posts.screened for the (stopped) moderation API's consumer group;
    returns how many verdicts it will read again."""
    from aiokafka.structs import OffsetAndMetadata

    topic, group_id = _queue_feed(settings)
    async with _partitions_of(settings, topic, group_id) as (consumer, partitions):
        consumer.assign(partitions)
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.commit({tp: OffsetAndMetadata(starts[tp], "") for tp in partitions})
        return int(sum(ends[tp] - starts[tp] for tp in partitions))


async def _queue_feed_caught_up(settings: Settings, timeout_s: float) -> None:
    """Wait until the moderation API's consumer group has committed the end of posts.screened."""
    topic, group_id = _queue_feed(settings)
    async with _partitions_of(settings, topic, group_id) as (consumer, partitions):
        ends = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout_s
        while [tp for tp in partitions if (await consumer.committed(tp) or 0) < ends[tp]]:
            if time.monotonic() > deadline:
                raise TimeoutError("the moderation API did not read the replayed verdicts in time")
            await asyncio.sleep(1)


async def worker_stalled(
    rig: FaultRig, http: aiohttp.ClientSession, moderator_token: str, *, timeout_s: float = 120
) -> FaultResult:
    """Freeze the worker (SIGSTOP) with a post waiting: the moderators must hear `queue.stalled`
    from the moderation API's watchdog; after SIGCONT the post is screened as usual."""
    poster = Poster(http, rig.group.url("forum"))
    await poster.join(1)
    headers = {"Authorization": f"Bearer {moderator_token}"}

    async def stalled_alerts() -> set[str]:
        async with http.get(f"{rig.group.url('notify')}/v1/notifications", headers=headers) as response:
            if response.status != 200:
                return set()
            return {n["id"] for n in (await response.json())["items"] if n.get("kind") == "queue.stalled"}

    earlier = await stalled_alerts()  # alerts of earlier faults on this rig do not count
    worker = rig.group.processes["moderation-worker"]
    worker.send_signal(signal.SIGSTOP)
    stalled_at: float | None = None
    started = time.monotonic()
    try:
        await poster.post(0, BENIGN.format(n=1, tag=uuid.uuid4().hex[:6]))
        while time.monotonic() - started < timeout_s and stalled_at is None:
            if await stalled_alerts() - earlier:
                stalled_at = time.monotonic()
            await asyncio.sleep(1)
    finally:
        worker.send_signal(signal.SIGCONT)
    resumed = time.monotonic()
    result = FaultResult("worker frozen (SIGSTOP)")
    await _count(rig, poster, result, resumed, timeout_s)
    result.notes = {"moderators_alerted_after_s": None if stalled_at is None else round(stalled_at - started, 1)}
    return result


async def databases_paused(
    rig: FaultRig, http: aiohttp.ClientSession, moderator_token: str, *, paused_s: float = 90.0, timeout_s: float = 180
) -> FaultResult:
    """SIGSTOP every database right after a crisis post was accepted; SIGCONT after `paused_s`.

    Every consumer retries through the outage; afterwards the post is held, urgent in the queue,
    and the moderators were alerted."""
    poster = Poster(http, rig.group.url("forum"))
    await poster.join(1)
    post_id = await poster.post(0, CRISIS.format(tag=uuid.uuid4().hex[:6]))
    rig.pause_all_databases()
    try:
        readiness = await _outage_with_readiness_asked_midway(rig, http, paused_s)
    finally:
        rig.resume_all_databases()
    resumed = time.monotonic()
    result = FaultResult(f"every database paused {paused_s:.0f} s")
    await _count(rig, poster, result, resumed, timeout_s)
    level, alerted = (
        await _queued_and_alerted(rig, http, moderator_token, post_id, timeout_s) if post_id else (None, False)
    )
    result.notes = {
        "post_status": await poster.status(post_id) if post_id else None,
        "queue_level": level,
        "moderators_alerted": alerted,
        "readiness_during_pause": readiness,
    }
    return result


async def databases_killed(
    rig: FaultRig,
    http: aiohttp.ClientSession,
    moderator_token: str,
    *,
    posts: int = 120,
    rate: float = 2.0,
    down_s: float = 60.0,
    timeout_s: float = 240,
) -> FaultResult:
    """SIGKILL every database while members post, with a crisis post accepted just before; start
    them again on their data after `down_s`.

    While they are gone a submission must be refused honestly (503 or no answer) or accepted and
    kept; afterwards every accepted post ends published or held, and the crisis post is held,
    urgent in the queue, with the moderators alerted."""
    crisis_poster = Poster(http, rig.group.url("forum"))
    await crisis_poster.join(1)
    crisis: dict[str, str | None] = {"post_id": None}
    readiness: dict[str, str] = {}

    async def fault() -> None:
        crisis["post_id"] = await crisis_poster.post(0, CRISIS.format(tag=uuid.uuid4().hex[:6]))
        await asyncio.to_thread(rig.kill_all_databases)
        try:
            readiness.update(await _outage_with_readiness_asked_midway(rig, http, down_s))
        finally:
            await rig.start_all_databases()

    result = await _under_load(
        rig,
        http,
        f"every database killed {down_s:.0f} s ({rate:g} posts/s)",
        fault,
        posts=posts,
        rate=rate,
        at=posts // 4,
        timeout_s=timeout_s,
    )
    post_id = crisis["post_id"]
    if post_id is None:
        result.notes = {"crisis_post_status": "refused", "readiness_during_outage": readiness}
        return result
    crisis_done, _ = await crisis_poster.wait_terminal(timeout_s)
    level, alerted = await _queued_and_alerted(rig, http, moderator_token, post_id, timeout_s)
    result.notes = {
        "crisis_post_status": await crisis_poster.status(post_id) if crisis_done else "not terminal",
        "queue_level": level,
        "moderators_alerted": alerted,
        "readiness_during_outage": readiness,
    }
    return result


async def resources_while_databases_gone(
    rig: FaultRig, http: aiohttp.ClientSession, *, down_s: float = 60.0, timeout_s: float = 240
) -> FaultResult:
    """Crisis posts wait in Kafka (the worker killed), every database is killed, a new worker
    starts: the authors must get their resources while the databases are still gone. One author
    keeps their stream open throughout; the other's stream drops after the kill and reconnects
    with the Last-Event-ID of the resources they had before. The databases come back after
    `down_s`; then the posts must end held, the inbox must hold each post's resources once, and
    a reconnect from the same Last-Event-ID must replay them with an id.

    Notes: `resources_after_s`, from the databases' kill to the resources on the open stream
    (None: not within `down_s`); `resources_id_while_down`, the SSE id they came with (None:
    unstored); `reconnect_status`, the answer to the reconnect during the outage;
    `reconnected_resources_after_s` and `reconnected_resources_id_while_down`, the same for the
    reconnected stream; `reconnected_replay_id`, the id its resources came with when the same
    Last-Event-ID reconnected once more, after the databases were back (None: not within
    `timeout_s`); `resources_in_inbox`, how many
    notifications the inbox holds for each outage post."""
    poster = Poster(http, rig.group.url("forum"))
    await poster.join(2)
    steady, reconnecting = ({"Authorization": f"Bearer {token}"} for token in poster.tokens)
    notes: dict[str, Any] = {
        "resources_after_s": None,
        "resources_id_while_down": None,
        "reconnect_status": None,
        "reconnected_resources_after_s": None,
        "reconnected_resources_id_while_down": None,
        "reconnected_replay_id": None,
    }
    open_stream = await _open_stream(http, rig, steady)
    dropped = await _open_stream(http, rig, reconnecting)
    reconnected = afterwards = None
    try:
        earlier = await poster.post(1, CRISIS.format(tag=uuid.uuid4().hex[:6]))
        last_event_id = (await asyncio.wait_for(_resources_for(dropped, earlier), timeout_s)).get("id", "")
        rig.kill_worker()
        post_ids = [await poster.post(n, CRISIS.format(tag=uuid.uuid4().hex[:6])) for n in (0, 1)]
        await asyncio.to_thread(rig.kill_all_databases)
        killed_at = time.monotonic()
        dropped.close()
        try:
            reconnected = await _open_stream(http, rig, {**reconnecting, "Last-Event-ID": last_event_id}, expect=None)
            notes["reconnect_status"] = reconnected.status
            rig.start_worker()
            waits = [_time_resources(open_stream, post_ids[0], killed_at, notes, "")]
            if reconnected.status == 200:
                waits.append(_time_resources(reconnected, post_ids[1], killed_at, notes, "reconnected_"))
            await asyncio.wait_for(asyncio.gather(*waits), down_s)
        except TimeoutError:
            pass
        finally:
            await asyncio.sleep(max(0.0, killed_at + down_s - time.monotonic()))
            await rig.start_all_databases()
        if reconnected is not None:
            reconnected.close()
        afterwards = await _open_stream(http, rig, {**reconnecting, "Last-Event-ID": last_event_id})
        with contextlib.suppress(TimeoutError, ConnectionError):
            replayed = await asyncio.wait_for(_resources_for(afterwards, post_ids[1], with_id=True), timeout_s)
            notes["reconnected_replay_id"] = replayed.get("id")
    finally:
        for stream in (open_stream, dropped, reconnected, afterwards):
            if stream is not None:
                stream.close()
    result = FaultResult(f"resources, every database gone {down_s:.0f} s")
    await _count(rig, poster, result, killed_at + down_s, timeout_s)
    notes["post_status"] = [await poster.status(p) if p else None for p in post_ids]
    notes["resources_in_inbox"] = [
        await _resources_in_inbox(http, rig.group.url("notify"), headers, post_id, timeout_s)
        for headers, post_id in zip((steady, reconnecting), post_ids, strict=True)
    ]
    result.notes = notes
    return result


async def _open_stream(
    http: aiohttp.ClientSession, rig: FaultRig, headers: dict[str, str], *, expect: int | None = 200
) -> aiohttp.ClientResponse:
    """A member's event stream; without a Last-Event-ID, past its ": connected" line (with one,
    the replay comes before that line, and is left for the caller to read)."""
    stream = await http.get(
        f"{rig.group.url('notify')}/v1/stream",
        headers=headers,
        timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
    )
    if expect is not None:
        assert stream.status == expect, await stream.text()
    if stream.status == 200 and "Last-Event-ID" not in headers:
        assert await stream.content.readline() == b": connected\n"
    return stream


async def _time_resources(
    stream: aiohttp.ClientResponse, post_id: str | None, since: float, notes: dict[str, Any], prefix: str
) -> None:
    event = await _resources_for(stream, post_id)
    notes[f"{prefix}resources_after_s"] = round(time.monotonic() - since, 1)
    notes[f"{prefix}resources_id_while_down"] = event.get("id")


async def _resources_for(
    stream: aiohttp.ClientResponse, post_id: str | None, *, with_id: bool = False
) -> dict[str, str]:
    """The next resources event on the stream for `post_id` (with an SSE id, if asked)."""
    while True:
        event = await _next_event(stream, "resources")
        if json.loads(event.get("data", "{}")).get("post_id") == post_id and (event.get("id") or not with_id):
            return event


async def _next_event(stream: aiohttp.ClientResponse, kind: str) -> dict[str, str]:
    """The fields of the next Server-Sent Event of `kind` on an open stream."""
    event: dict[str, str] = {}
    async for raw in stream.content:
        line = raw.decode().rstrip("\n")
        if line:
            name, _, value = line.partition(": ")
            event[name] = value
        elif event.get("event") == kind:
            return event
        else:
            event = {}
    raise ConnectionError("the stream ended")


async def _resources_in_inbox(
    http: aiohttp.ClientSession, notify_url: str, headers: dict[str, str], post_id: str | None, timeout_s: float
) -> int:
    """How many resources notifications for the post the inbox holds, once it holds any."""
    deadline = time.monotonic() + timeout_s
    found = 0
    while time.monotonic() < deadline and post_id is not None:
        async with http.get(f"{notify_url}/v1/notifications", headers=headers) as response:
            if response.status == 200:
                items = (await response.json())["items"]
                found = sum(1 for n in items if n["kind"] == "resources" and n["post_id"] == post_id)
                if found:
                    return found
        await asyncio.sleep(1)
    return found


async def _outage_with_readiness_asked_midway(
    rig: FaultRig, http: aiohttp.ClientSession, outage_s: float
) -> dict[str, str]:
    """Wait out an outage of `outage_s`, asking halfway what the forum, the moderation API and
    notify answer on /readyz: its status ("ready", "degraded", "unavailable"), with ": database"
    when it names its database as failing, or "no answer"."""
    await asyncio.sleep(outage_s / 2)
    readiness = {}
    for name in ("forum", "moderation-api", "notify"):
        try:
            url = f"{rig.group.url(name)}/readyz"
            async with http.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response:
                body = await response.json()
            readiness[name] = body["status"] + (": database" if "database" in body.get("failing", {}) else "")
        except (TimeoutError, aiohttp.ClientError, ValueError, KeyError):
            readiness[name] = "no answer"
    await asyncio.sleep(outage_s / 2)
    return readiness


async def _queued_and_alerted(
    rig: FaultRig, http: aiohttp.ClientSession, moderator_token: str, post_id: str, timeout_s: float
) -> tuple[str | None, bool]:
    level, alerted = None, False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not (level and alerted):
        level = await _queue_level(rig, http, moderator_token, post_id)
        alerted = await _moderators_alerted(rig, http, moderator_token, post_id)
        if not (level and alerted):
            await asyncio.sleep(1)
    return level, alerted


async def _queue_level(rig: FaultRig, http: aiohttp.ClientSession, moderator_token: str, post_id: str) -> str | None:
    """The level of the post's item in the moderators' queue, or None when it is not listed."""
    headers = {"Authorization": f"Bearer {moderator_token}"}
    url = f"{rig.group.url('moderation-api')}/v1/mod/queue"
    async with http.get(url, headers=headers, params={"limit": "200"}) as response:
        if response.status != 200:
            return None
        items = (await response.json())["items"]
    return next((str(i["level"]) for i in items if i["post_id"] == post_id), None)


async def _moderators_alerted(rig: FaultRig, http: aiohttp.ClientSession, moderator_token: str, post_id: str) -> bool:
    """Whether the moderators' inbox (notify's database, not the moderation one) holds a
    `queue.item` for the post."""
    headers = {"Authorization": f"Bearer {moderator_token}"}
    async with http.get(f"{rig.group.url('notify')}/v1/notifications", headers=headers) as response:
        if response.status != 200:
            return False
        return any(
            n.get("kind") == "queue.item" and n.get("post_id") == post_id for n in (await response.json())["items"]
        )
