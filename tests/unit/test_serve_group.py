"""`haven serve all` starts the shadow screener too, only when a candidate is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from services import runner
from services.runner import GROUPS, group_commands
from streams.settings import Settings


def test_without_a_candidate_the_groups_run_their_services_only() -> None:
    for group, members in GROUPS.items():
        assert group_commands(group, Settings()) == {member: ["serve", member] for member in members}


def test_with_a_candidate_all_also_runs_the_shadow_and_moderation_does_not(tmp_path: Path) -> None:
    settings = Settings.from_env({"HAVEN_SHADOW_SCREENER": str(tmp_path)})
    commands = group_commands("all", settings)
    assert commands == {
        **{member: ["serve", member] for member in GROUPS["all"]},
        "screener-shadow": ["screener", "shadow"],
    }
    assert group_commands("moderation", settings) == group_commands("moderation", Settings())


class _FakeChild:
    """A child process that exits with `code` after it has been polled `polls` times."""

    def __init__(self, code: int | None, polls: int) -> None:
        self.code, self.polls, self.polled, self.signalled = code, polls, 0, False

    def poll(self) -> int | None:
        self.polled += 1
        return self.code if self.polled > self.polls or self.signalled else None

    def send_signal(self, signum: int) -> None:
        self.signalled = True

    def wait(self, timeout: float | None = None) -> int:
        return self.code or 0

    def kill(self) -> None:
        self.signalled = True


def test_a_failing_shadow_leaves_the_live_services_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    children = {"forum": _FakeChild(code=0, polls=6), "screener-shadow": _FakeChild(code=1, polls=0)}
    monkeypatch.setattr(runner.subprocess, "Popen", lambda command, **_: children[_member(command)])
    monkeypatch.setattr(runner, "probe_readiness", lambda url, timeout_s: (True, {}))
    monkeypatch.setattr(runner.time, "sleep", lambda seconds: None)
    settings = Settings(state_dir=tmp_path)
    runner._run_group({"forum": ["serve", "forum"], "screener-shadow": ["screener", "shadow"]}, settings)
    assert children["forum"].polled > 3, "the forum kept running after the shadow exited"


def test_a_failing_live_service_stops_the_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    children = {"forum": _FakeChild(code=3, polls=0), "notify": _FakeChild(code=None, polls=10**6)}
    monkeypatch.setattr(runner.subprocess, "Popen", lambda command, **_: children[_member(command)])
    monkeypatch.setattr(runner, "probe_readiness", lambda url, timeout_s: (True, {}))
    monkeypatch.setattr(runner.time, "sleep", lambda seconds: None)
    code = runner._run_group({"forum": ["serve", "forum"], "notify": ["serve", "notify"]}, Settings(state_dir=tmp_path))
    assert code == 3
    assert children["notify"].signalled, "the others are stopped"


def _member(command: list[str]) -> str:
    return "screener-shadow" if command[-1] == "shadow" else command[-1]
