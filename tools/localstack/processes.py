"""Background processes tracked by pid files: start, find, stop — only what we started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def running_pid(pid_file: Path, marker: str) -> int | None:
    """The pid in `pid_file` if that process still runs and is ours (its command line has `marker`)."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return None
    return pid if marker in _cmdline(pid) else None


def start_background(command: list[str], *, log_file: Path, pid_file: Path, cwd: Path) -> int:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        # A session of its own: Ctrl-C in the terminal that ran `haven stack up` does not reach it.
        process = subprocess.Popen(
            command,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    pid_file.write_text(f"{process.pid}\n")
    return process.pid


def exited(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return True
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def wait_exited(pid: int, timeout_s: float) -> bool:
    """Whether `pid` exits (reaped if it is our child) within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if exited(pid):
            return True
        time.sleep(0.05)
    return False


def stop_process(pid: int, *, timeout_s: float = 20.0) -> None:
    """SIGTERM, then SIGKILL after `timeout_s`. A process left frozen (SIGSTOP, as the fault
    drills do) is woken so that it shuts down cleanly instead of waiting for the SIGKILL."""
    try:
        os.kill(pid, signal.SIGTERM)
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        return
    if wait_exited(pid, timeout_s):
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log yet)"
