"""The local stack's pure parts: addresses, configuration, cluster ids, pid files, tool checks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streams.settings import Settings
from tools.localstack.components import (
    StackError,
    StackPaths,
    kafka_address,
    missing_tool_message,
    mongo_address,
    new_cluster_id,
    render_server_properties,
)
from tools.localstack.processes import port_in_use, running_pid, stop_process


def test_addresses_come_from_the_settings() -> None:
    settings = Settings(kafka_bootstrap="127.0.0.1:19092", mongo_uri="mongodb://127.0.0.1:27117/")
    assert kafka_address(settings) == ("127.0.0.1", 19092)
    assert mongo_address(settings) == ("127.0.0.1", 27117)
    with pytest.raises(StackError, match="port"):
        kafka_address(Settings(kafka_bootstrap="127.0.0.1:kafka"))


def test_the_broker_listens_on_loopback_with_its_controller_on_the_next_port(tmp_path: Path) -> None:
    settings = Settings(kafka_bootstrap="127.0.0.1:19092", state_dir=tmp_path)
    properties = render_server_properties(settings, StackPaths.from_settings(settings))
    assert "listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093\n" in properties
    assert "controller.quorum.voters=1@127.0.0.1:19093\n" in properties
    assert f"log.dirs={tmp_path / 'kafka' / 'data'}\n" in properties
    assert "auto.create.topics.enable=false\n" in properties


def test_cluster_ids_are_unpadded_base64url_of_16_bytes() -> None:
    ids = {new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    for cluster_id in ids:
        assert len(cluster_id) == 22 and not cluster_id.startswith("-") and "=" not in cluster_id


def test_a_relative_state_folder_lives_in_the_checkout() -> None:
    paths = StackPaths.from_settings(Settings(state_dir=Path(".haven")))
    assert paths.state.is_absolute() and paths.state.name == ".haven"
    assert (paths.state.parent / "pyproject.toml").exists()


def test_a_missing_tool_is_named_with_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    message = missing_tool_message("mvn")
    assert message is not None and "Maven" in message and "apt-get install maven" in message
    monkeypatch.undo()
    assert missing_tool_message("python3") is None


def test_a_pid_file_counts_only_when_its_process_is_still_ours(tmp_path: Path) -> None:
    pid_file = tmp_path / "x.pid"
    assert running_pid(pid_file, "sleep") is None
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        pid_file.write_text(f"{sleeper.pid}\n")
        # Right after fork the child still shows Python's command line until it execs `sleep`.
        deadline = time.monotonic() + 5
        while running_pid(pid_file, "sleep") is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert running_pid(pid_file, "sleep") == sleeper.pid
        # Same pid, different program: never ours, never killed.
        assert running_pid(pid_file, "kafka.Kafka") is None
    finally:
        sleeper.kill()
        sleeper.wait()
    assert running_pid(pid_file, "sleep") is None
    pid_file.write_text("not a pid")
    assert running_pid(pid_file, "sleep") is None


def test_port_probe_tells_a_listening_port_from_a_free_one() -> None:
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert port_in_use("127.0.0.1", port)
    assert not port_in_use("127.0.0.1", port)


def test_stack_status_reports_down_components_with_a_nonzero_exit(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HAVEN_KAFKA_BOOTSTRAP": "127.0.0.1:1",
        "HAVEN_MONGO_URI": "mongodb://127.0.0.1:2/",
        "HAVEN_STATE_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "stack", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3
    assert "kafka" in result.stdout and "down" in result.stdout


def test_a_frozen_process_is_woken_to_shut_down_cleanly(tmp_path: Path) -> None:
    """A fault drill interrupted mid-way leaves a database SIGSTOPped; `stack down` must still let it
    run its SIGTERM handler (FerretDB and Kafka flush there) rather than only SIGKILL it."""
    said_goodbye = tmp_path / "goodbye"
    script = (
        "import signal, sys, time\n"
        f"signal.signal(signal.SIGTERM, lambda *_: (open({str(said_goodbye)!r}, 'w').close(), sys.exit(0)))\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert process.stdout is not None and process.stdout.readline() == b"ready\n"
    os.kill(process.pid, signal.SIGSTOP)

    stop_process(process.pid, timeout_s=30)

    assert said_goodbye.exists(), "the process was killed without running its SIGTERM handler"
