"""Start, check and stop the local Kafka broker and FerretDB, idempotently."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from services.common.mongo import create_mongo_client, mongo_problem
from streams.kafka import kafka_ready
from streams.settings import Settings
from tools.localstack.components import (
    KAFKA_JVM_FLAGS,
    StackError,
    StackPaths,
    kafka_address,
    mongo_address,
    new_cluster_id,
    render_log4j2_properties,
    render_server_properties,
)
from tools.localstack.prepare import _run, prepare, require_tools
from tools.localstack.processes import (
    exited,
    log_tail,
    port_in_use,
    running_pid,
    start_background,
    stop_process,
)

log = logging.getLogger(__name__)

KAFKA_START_TIMEOUT_S = 90
FERRETDB_START_TIMEOUT_S = 30
KAFKA_MARKER = "kafka.Kafka"
FERRETDB_MARKER = "haven-ferretdb"


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    address: str
    pid: int | None
    health: str  # up | down | unhealthy

    def line(self) -> str:
        pid = str(self.pid) if self.pid else "-"
        return f"{self.name:<9} {self.health:<9} pid {pid:<8} {self.address}"


async def _kafka_answers(settings: Settings) -> bool:
    host, port = kafka_address(settings)
    # Probe the port first: the Kafka client logs an error for every refused connection.
    return port_in_use(host, port) and await kafka_ready(settings)


async def _ferretdb_answers(settings: Settings) -> bool:
    client = create_mongo_client(settings)
    try:
        return await mongo_problem(client) is None
    finally:
        await client.close()


async def _wait_until(
    check: Callable[[], Awaitable[bool]], *, pid: int, timeout_s: float, what: str, log_path: object
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        if exited(pid):
            raise StackError(f"{what} exited during start-up. Last lines of {log_path}:\n{log_tail(log_path)}")  # type: ignore[arg-type]  # log_path is set whenever a process was started, which is the only way here
        await asyncio.sleep(0.5)
    raise StackError(f"{what} did not answer within {timeout_s} s. Last lines of {log_path}:\n{log_tail(log_path)}")  # type: ignore[arg-type]  # log_path is set whenever a process was started, which is the only way here


def _format_kafka_storage(settings: Settings, paths: StackPaths) -> None:
    paths.kafka_dir.mkdir(parents=True, exist_ok=True)
    (paths.kafka_dir / "server.properties").write_text(render_server_properties(settings, paths))
    (paths.kafka_dir / "log4j2.properties").write_text(render_log4j2_properties())
    if (paths.kafka_data / "meta.properties").exists():
        return
    _run(
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
            str(paths.kafka_dir / "server.properties"),
            "--ignore-formatted",
        ],
        cwd=paths.kafka_dir,
        what="formatting Kafka's storage",
    )


async def start_kafka(settings: Settings, paths: StackPaths) -> str:
    host, port = kafka_address(settings)
    pid = running_pid(paths.pid_file("kafka"), KAFKA_MARKER)
    if pid is not None:
        if await kafka_ready(settings):
            return f"kafka     already running (pid {pid}) on {host}:{port}"
        raise StackError(f"Kafka (pid {pid}) runs but does not answer on {host}:{port}; try `haven stack down`")
    for taken in (port, port + 1):
        if port_in_use(host, taken):
            raise StackError(f"port {host}:{taken} is taken by another program; stop it or set HAVEN_KAFKA_BOOTSTRAP")
    _format_kafka_storage(settings, paths)
    pid = start_background(
        [
            "java",
            *KAFKA_JVM_FLAGS,
            f"-Dlog4j2.configurationFile={paths.kafka_dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={paths.kafka_logs}",
            "-cp",
            f"{paths.kafka_libs}/*",
            KAFKA_MARKER,
            str(paths.kafka_dir / "server.properties"),
        ],
        log_file=paths.kafka_logs / "stdout.log",
        pid_file=paths.pid_file("kafka"),
        cwd=paths.kafka_dir,
    )
    started = time.monotonic()
    await _wait_until(
        lambda: _kafka_answers(settings),
        pid=pid,
        timeout_s=KAFKA_START_TIMEOUT_S,
        what="Kafka",
        log_path=paths.kafka_log_file,
    )
    return f"kafka     started (pid {pid}) on {host}:{port} in {time.monotonic() - started:.1f} s"


async def start_ferretdb(settings: Settings, paths: StackPaths) -> str:
    host, port = mongo_address(settings)
    pid = running_pid(paths.pid_file("ferretdb"), FERRETDB_MARKER)
    if pid is not None:
        if await _ferretdb_answers(settings):
            return f"ferretdb  already running (pid {pid}) on {host}:{port}"
        raise StackError(f"FerretDB (pid {pid}) runs but does not answer on {host}:{port}; try `haven stack down`")
    if port_in_use(host, port):
        raise StackError(f"port {host}:{port} is taken by another program; stop it or set HAVEN_MONGO_URI")
    paths.ferretdb_data.mkdir(parents=True, exist_ok=True)
    pid = start_background(
        [
            str(paths.ferretdb_binary),
            "--listen-addr",
            f"{host}:{port}",
            "--data-dir",
            str(paths.ferretdb_data),
            "--log-level",
            "warn",
        ],
        log_file=paths.ferretdb_log_file,
        pid_file=paths.pid_file("ferretdb"),
        cwd=paths.ferretdb_dir,
    )
    started = time.monotonic()
    await _wait_until(
        lambda: _ferretdb_answers(settings),
        pid=pid,
        timeout_s=FERRETDB_START_TIMEOUT_S,
        what="FerretDB",
        log_path=paths.ferretdb_log_file,
    )
    return f"ferretdb  started (pid {pid}) on {host}:{port} in {time.monotonic() - started:.1f} s"


async def ensure_up(settings: Settings) -> list[str]:
    """Prepare and start whatever is not running; a no-op when both already answer."""
    paths = StackPaths.from_settings(settings)
    require_tools("java", "mvn", "go")
    done = await asyncio.to_thread(prepare, paths)
    messages = list(done)
    messages.append(await start_ferretdb(settings, paths))
    messages.append(await start_kafka(settings, paths))
    return messages


async def status(settings: Settings) -> list[ComponentStatus]:
    paths = StackPaths.from_settings(settings)
    kafka_host, kafka_port = kafka_address(settings)
    mongo_host, mongo_port = mongo_address(settings)
    kafka_pid = running_pid(paths.pid_file("kafka"), KAFKA_MARKER)
    ferretdb_pid = running_pid(paths.pid_file("ferretdb"), FERRETDB_MARKER)
    kafka_ok, ferretdb_ok = await asyncio.gather(_kafka_answers(settings), _ferretdb_answers(settings))

    def health(pid: int | None, ok: bool) -> str:
        if ok:
            return "up"
        return "unhealthy" if pid else "down"

    return [
        ComponentStatus("kafka", f"{kafka_host}:{kafka_port}", kafka_pid, health(kafka_pid, kafka_ok)),
        ComponentStatus("ferretdb", f"{mongo_host}:{mongo_port}", ferretdb_pid, health(ferretdb_pid, ferretdb_ok)),
    ]


def stop(settings: Settings) -> list[str]:
    """Stop what `ensure_up` started (by pid file), Kafka first so it can flush."""
    paths = StackPaths.from_settings(settings)
    messages = []
    for component, marker in (("kafka", KAFKA_MARKER), ("ferretdb", FERRETDB_MARKER)):
        pid_file = paths.pid_file(component)
        pid = running_pid(pid_file, marker)
        if pid is None:
            messages.append(f"{component:<9} not running")
        else:
            stop_process(pid)
            messages.append(f"{component:<9} stopped (pid {pid})")
        pid_file.unlink(missing_ok=True)
    return messages
