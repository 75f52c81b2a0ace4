"""Fetches Kafka's jars (Maven Central) and builds FerretDB (Go module proxy), once per version."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tools.localstack.components import (
    DEPLOY_DIR,
    FERRETDB_VERSION,
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
                "mvn",
                "-B",
                "-q",
                f"{DEPENDENCY_PLUGIN}:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={staging}",
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
    env = {**os.environ, "CGO_ENABLED": "0"}
    # A folder of its own: two `haven stack up` at once (two test runs) each build whole.
    build_dir = _patched_build_module(Path(tempfile.mkdtemp(prefix="build-", dir=binary.parent)), env)
    try:
        partial = build_dir / "haven-ferretdb"
        _run(["go", "build", "-o", str(partial), "."], cwd=build_dir, what="building FerretDB", env=env)
        partial.replace(binary)
    finally:
        _remove_tree(build_dir)
    return True


def _remove_tree(path: Path) -> None:
    if path.exists():
        for item in [path, *path.rglob("*")]:
            if not item.is_symlink():
                item.chmod(item.stat().st_mode | 0o700 if item.is_dir() else item.stat().st_mode | 0o200)
        shutil.rmtree(path)


def _patched_build_module(build_dir: Path, env: dict[str, str]) -> Path:
    """The build module with FerretDB's source copied beside it, `patches.json` applied, and a
    `replace` pointing at the copy. A patch whose text is not found exactly once stops the build."""
    source = DEPLOY_DIR / "ferretdb"
    for name in ("go.mod", "go.sum", "main.go"):
        shutil.copy(source / name, build_dir / name)
    result = subprocess.run(
        ["go", "mod", "download", "-json", f"github.com/FerretDB/FerretDB@v{FERRETDB_VERSION}"],
        cwd=build_dir,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise StackError(f"downloading FerretDB's source failed: {result.stderr.strip()[-500:]}")
    module_copy = build_dir / "ferretdb-src"
    shutil.copytree(json.loads(result.stdout)["Dir"], module_copy)
    for path in [module_copy, *module_copy.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)  # the module cache is read-only
    for patch in json.loads((source / "patches.json").read_text()):
        target = module_copy / patch["file"]
        text = target.read_text()
        if text.count(patch["old"]) != 1:
            raise StackError(f"FerretDB patch does not apply to {patch['file']}: {patch['old']!r}")
        target.write_text(text.replace(patch["old"], patch["new"]))
    _run(
        ["go", "mod", "edit", "-replace", "github.com/FerretDB/FerretDB=./ferretdb-src"],
        cwd=build_dir,
        what="pointing the build at the patched FerretDB",
        env=env,
    )
    return build_dir


def prepare(paths: StackPaths) -> list[str]:
    """Everything the stack needs before it can start; returns what was done now."""
    paths.cache.mkdir(parents=True, exist_ok=True)
    done = []
    if prepare_kafka(paths):
        done.append(f"fetched Kafka jars into {paths.kafka_libs}")
    if prepare_ferretdb(paths):
        done.append(f"built FerretDB into {paths.ferretdb_binary}")
    return done
