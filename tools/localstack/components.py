"""Where the local stack keeps its files, and what each component needs to run.

Tools and their outputs (Kafka jars, the FerretDB binary) live in a cache folder outside git,
keyed by version, so a fresh clone on the same machine reuses them. Data, logs and pid files
live in the git-ignored state folder of the checkout.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from streams.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "deploy" / "local"

KAFKA_VERSION = "4.1.1"
FERRETDB_VERSION = "1.24.2"

#: JVM flags for a 2-core machine: Kafka relies on the page cache, not on a big heap.
KAFKA_JVM_FLAGS = (
    "-Xms256m",
    "-Xmx1g",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
)


class StackError(RuntimeError):
    """The stack cannot be prepared or started; the message says what to do."""


def host_port(address: str, default_port: int) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host:
        return address, default_port
    try:
        return host, int(port)
    except ValueError as exc:
        raise StackError(f"bad address {address!r}: the port must be a number") from exc


def kafka_address(settings: Settings) -> tuple[str, int]:
    first = settings.kafka_bootstrap.split(",")[0].strip()
    return host_port(first, 9092)


def mongo_address(settings: Settings) -> tuple[str, int]:
    parsed = urlparse(settings.mongo_uri)
    host = parsed.hostname or "127.0.0.1"
    return host, parsed.port or 27017


def new_cluster_id() -> str:
    """A Kafka cluster id: base64url of 16 random bytes, unpadded, not starting with '-'."""
    while True:
        candidate = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        if not candidate.startswith("-"):
            return candidate


def missing_tool_message(tool: str) -> str | None:
    if shutil.which(tool):
        return None
    hints = {
        "java": "Java 17 or newer is needed for Kafka: apt-get install openjdk-17-jre-headless",
        "mvn": "Maven is needed to fetch Kafka's jars from Maven Central: apt-get install maven",
        "go": "Go 1.24 or newer is needed to build FerretDB: install it from go.dev/dl or your packages",
    }
    return hints.get(tool, f"{tool} is needed")


@dataclass(frozen=True)
class StackPaths:
    cache: Path
    state: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> StackPaths:
        state = settings.state_dir if settings.state_dir.is_absolute() else REPO_ROOT / settings.state_dir
        return cls(cache=settings.cache_dir.expanduser(), state=state)

    @property
    def kafka_libs(self) -> Path:
        return self.cache / f"kafka-{KAFKA_VERSION}" / "libs"

    @property
    def kafka_libs_marker(self) -> Path:
        return self.cache / f"kafka-{KAFKA_VERSION}" / ".complete"

    @property
    def ferretdb_binary(self) -> Path:
        return self.cache / f"ferretdb-v{FERRETDB_VERSION}-{ferretdb_source_digest()}" / "haven-ferretdb"

    @property
    def kafka_dir(self) -> Path:
        return self.state / "kafka"

    @property
    def kafka_data(self) -> Path:
        return self.kafka_dir / "data"

    @property
    def kafka_logs(self) -> Path:
        return self.kafka_dir / "logs"

    @property
    def kafka_log_file(self) -> Path:
        return self.kafka_logs / "server.log"

    @property
    def ferretdb_dir(self) -> Path:
        return self.state / "ferretdb"

    @property
    def ferretdb_data(self) -> Path:
        return self.ferretdb_dir / "data"

    @property
    def ferretdb_log_file(self) -> Path:
        return self.ferretdb_dir / "ferretdb.log"

    def pid_file(self, component: str) -> Path:
        return self.state / "pids" / f"{component}.pid"


def ferretdb_source_digest() -> str:
    """Changes when the FerretDB build module changes, so an edit rebuilds the binary."""
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum", "main.go", "patches.json"):
        digest.update((DEPLOY_DIR / "ferretdb" / name).read_bytes())
    return digest.hexdigest()[:12]


def render_server_properties(settings: Settings, paths: StackPaths) -> str:
    host, port = kafka_address(settings)
    controller = f"{host}:{port + 1}"
    lines = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{controller}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{controller}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(paths.kafka_data),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # Consumers join at once instead of waiting 3 s for more members (one node, tests).
        "group.initial.rebalance.delay.ms": "0",
        # Topics are created explicitly, with their retention, by `haven serve`.
        "auto.create.topics.enable": "false",
        "num.network.threads": "2",
        "num.io.threads": "2",
        "log.retention.check.interval.ms": "60000",
    }
    return "".join(f"{key}={value}\n" for key, value in lines.items())


def render_log4j2_properties() -> str:
    return (
        "status = warn\n"
        "appender.file.type = File\n"
        "appender.file.name = file\n"
        "appender.file.fileName = ${sys:kafka.logs.dir}/server.log\n"
        "appender.file.layout.type = PatternLayout\n"
        "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
        "rootLogger.level = INFO\n"
        "rootLogger.appenderRef.file.ref = file\n"
        # The request logger would otherwise write every request at DEBUG/TRACE when raised.
        "logger.request.name = kafka.request.logger\n"
        "logger.request.level = WARN\n"
    )
