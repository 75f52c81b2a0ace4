"""`haven serve all` (what `make run` runs) says when each service is really ready, then that
Haven is ready, keeps library chatter out of the terminal, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.harness import StackUnderTest
from tools.process_group import REPO_ROOT, isolated_settings, settings_env

pytestmark = pytest.mark.integration


def test_serve_all_announces_readiness_and_stops_cleanly(stack: StackUnderTest, tmp_path: Path) -> None:
    settings = isolated_settings(stack.settings, label="serveall").with_overrides(state_dir=tmp_path / "state")
    env = settings_env(settings) | {"HAVEN_WORKER_PORT": str(settings.worker_port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "all"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 300
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            if line.startswith("Haven is ready"):
                break
        assert any(line.startswith("Haven is ready") for line in lines), "\n".join(lines)
        for service in ("forum", "moderation-api", "notify", "moderation-worker"):
            assert any(line.strip().startswith(service) and "ready" in line for line in lines), service
        worker_line = next(line for line in lines if line.strip().startswith("moderation-worker"))
        assert "model loaded" in worker_line
        assert not any("INFO" in line or "Error" in line for line in lines), "\n".join(lines)
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
    assert code == 0
    logs = {path.name: path.read_text(errors="replace") for path in (tmp_path / "state" / "logs").glob("*.log")}
    assert set(logs) == {"forum.log", "moderation-api.log", "notify.log", "moderation-worker.log"}
    for name, text in logs.items():
        assert "GroupCoordinatorNotAvailableError" not in text, name
        assert "Traceback" not in text, f"{name}:\n{text[-3000:]}"
