"""Fetches Kafka's jars (Maven Central) and builds FerretDB (Go module proxy), once per version."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from services.localstack.components import (
    DEPLOY_DIR,
    StackError,
    StackPaths,
    missing_tool_message,
)

#: Maven 3.8 resolves the short plugin prefix to an old maven-dependency-plugin; pin a current one.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"


def require_tools(*tools: str) -> None:
    problems = [message for tool in tools if (message := missing_tool_message(tool))]
    if problems:
        raise StackError("; ".join(problems))


def _run(command: list[str], cwd: Path, what: str, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-30:])
        raise StackError(f"{what} failed (exit {result.returncode}):\n{tail}")


def prepare_kafka(paths: StackPaths) -> bool:
    """Copy the broker's runtime jars into the cache. Returns False when they were already there."""
    if paths.kafka_libs_marker.exists():
        return False
    require_tools("java", "mvn")
    staging = Path(tempfile.mkdtemp(prefix="kafka-libs-", dir=paths.cache if paths.cache.exists() else None))
    try:
        _run(
            [
                "mvn", "-B", "-q", f"{DEPENDENCY_PLUGIN}:copy-dependencies",
                "-DincludeScope=runtime", f"-DoutputDirectory={staging}",
            ],
            cwd=DEPLOY_DIR / "kafka",
            what="fetching Kafka's jars with Maven",
        )
        if paths.kafka_libs.exists():
            shutil.rmtree(paths.kafka_libs)
        paths.kafka_libs.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), paths.kafka_libs)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    paths.kafka_libs_marker.touch()
    return True


def prepare_ferretdb(paths: StackPaths) -> bool:
    """Build the FerretDB binary into the cache. Returns False when it was already there."""
    binary = paths.ferretdb_binary
    if binary.exists():
        return False
    require_tools("go")
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_suffix(".partial")
    env = {**os.environ, "CGO_ENABLED": "0"}
    _run(["go", "build", "-o", str(partial), "."], cwd=DEPLOY_DIR / "ferretdb", what="building FerretDB", env=env)
    partial.replace(binary)
    return True


def prepare(paths: StackPaths) -> list[str]:
    """Everything the stack needs before it can start; returns what was done now."""
    paths.cache.mkdir(parents=True, exist_ok=True)
    done = []
    if prepare_kafka(paths):
        done.append(f"fetched Kafka jars into {paths.kafka_libs}")
    if prepare_ferretdb(paths):
        done.append(f"built FerretDB into {paths.ferretdb_binary}")
    return done
