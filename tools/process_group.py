"""Service processes started together: used by the test suite and the benchmarks.

Each run gets its own topic prefix, database prefix and ports, so it never touches the data of
`make run` or of another run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from streams.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
ALL_SERVICES = ("forum", "moderation-api", "notify", "moderation-worker")
HTTP_SERVICES = ("forum", "moderation-api", "notify", "moderation-worker")


#: Ports this process has handed out: the kernel may offer a released port again, and two servers
#: of one run (a broker's controller and a worker's health port, say) must never share one.
_HANDED_OUT: set[int] = set()


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def free_port_pair() -> int:
    """A free port whose next port is free too (a KRaft broker listens on both)."""
    while True:
        port = free_port()
        if port + 1 not in _HANDED_OUT and _bindable(port + 1):
            _HANDED_OUT.add(port + 1)
            return port


def isolated_settings(base: Settings, *, label: str = "run") -> Settings:
    run_id = uuid.uuid4().hex[:10]
    return base.with_overrides(
        topic_prefix=f"{label}-{run_id}.",
        db_prefix=f"{label}_{run_id}_",
        forum_port=free_port(),
        moderation_port=free_port(),
        notify_port=free_port(),
        worker_port=free_port(),
    )


async def remove_isolated(settings: Settings) -> None:
    """Delete the topics and drop the databases of settings made by `isolated_settings`.

    A benchmark run leaves eleven topics (66 partitions) and three databases otherwise, and they
    pile up on a long-lived local stack (about 1,800 partitions after a day of runs).
    """
    import pymongo
    from aiokafka.admin import AIOKafkaAdminClient

    from services.common.mongo import create_mongo_client
    from streams.kafka_security import aiokafka_security

    if not settings.topic_prefix or settings.db_prefix == Settings.model_fields["db_prefix"].default:
        raise ValueError("only settings from isolated_settings are removed, never the shared stack's")

    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=15_000, **aiokafka_security(settings)
    )
    await admin.start()
    try:
        ours = [topic for topic in await admin.list_topics() if topic.startswith(settings.topic_prefix)]
        if ours:
            await admin.delete_topics(ours)
    finally:
        await admin.close()
    client = create_mongo_client(settings)
    try:
        for name in await client.list_database_names():
            if name.startswith(settings.db_prefix):
                # Dropping a seeded million posts (about 4 GB of SQLite) outlasts the 15 s socket timeout.
                with pymongo.timeout(600):
                    await client.drop_database(name)
    finally:
        await client.close()


def settings_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "HAVEN_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "HAVEN_MONGO_URI": settings.mongo_uri,
            "HAVEN_TOPIC_PREFIX": settings.topic_prefix,
            "HAVEN_DB_PREFIX": settings.db_prefix,
            "HAVEN_FORUM_PORT": str(settings.forum_port),
            "HAVEN_MODERATION_PORT": str(settings.moderation_port),
            "HAVEN_NOTIFY_PORT": str(settings.notify_port),
            "HAVEN_WORKER_PORT": str(settings.worker_port),
            "HAVEN_SCREENING_STALLED_AFTER_S": str(settings.screening_stalled_after_s),
            "HAVEN_CONSUMER_UNREADY_AFTER_S": str(settings.consumer_unready_after_s),
            "HAVEN_PARTITIONS": str(settings.partitions),
            "HAVEN_STATE_DIR": str(settings.state_dir),
            "HAVEN_CACHE_DIR": str(settings.cache_dir),
            "HAVEN_CLAIM_LEASE_S": str(settings.claim_lease_s),
            "HAVEN_URGENT_REALERT_AFTER_S": str(settings.urgent_realert_after_s),
            "HAVEN_CONSOLE_SESSION_HOURS": str(settings.console_session_hours),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
        }
    )
    return env


@dataclass
class ServiceProcesses:
    settings: Settings
    env: dict[str, str]
    log_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    #: Extra environment for one service only (e.g. a database of its own in the fault suite).
    env_by_service: dict[str, dict[str, str]] = field(default_factory=dict)

    def url(self, service: str) -> str:
        ports = self.settings.service_ports()
        port = ports["moderation-api" if service == "moderation" else service]
        return f"http://127.0.0.1:{port}"

    def log_text(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in sorted(self.log_dir.glob("*.log")))

    def start(self, name: str) -> None:
        with (self.log_dir / f"{name}.log").open("ab") as log_file:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "serve", name],
                cwd=REPO_ROOT,
                env=self.env | self.env_by_service.get(name, {}),
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-4000:]
                raise RuntimeError(f"service {name} exited with {process.returncode}:\n{tail}")

    async def wait_ready(self, timeout_s: float = 180) -> None:
        deadline = time.monotonic() + timeout_s
        async with aiohttp.ClientSession() as session:
            for service in HTTP_SERVICES:
                if service not in self.processes:
                    continue
                url = f"{self.url(service)}/readyz"
                while True:
                    self.check_alive()
                    try:
                        async with session.get(url) as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{service} was not ready within {timeout_s:.0f} s")
                    await asyncio.sleep(0.5)


async def start_service_processes(
    settings: Settings,
    log_dir: Path,
    names: tuple[str, ...] = ALL_SERVICES,
    extra_env: dict[str, str] | None = None,
    env_by_service: dict[str, dict[str, str]] | None = None,
) -> ServiceProcesses:
    log_dir.mkdir(parents=True, exist_ok=True)
    group = ServiceProcesses(
        settings=settings,
        env=settings_env(settings) | (extra_env or {}),
        log_dir=log_dir,
        env_by_service=env_by_service or {},
    )
    for name in names:
        group.start(name)
    try:
        await group.wait_ready()
    except BaseException:
        group.stop()
        raise
    return group
