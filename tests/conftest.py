"""Fixtures shared by the whole suite.

`stack` and `services` are for integration and end-to-end tests: a session fixture starts Kafka
and FerretDB when they are not running (and fails loudly when they cannot start), then runs the
services as subprocesses with a topic prefix, database prefix and ports of this run's own, so
runs never interfere with each other or with `make run`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import aiohttp
import pytest

# The model loads from the installed package only; nothing may reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from tests.harness import RunningServices, StackUnderTest, start_services, start_stack
from tools.process_group import remove_isolated


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(scope="session")
async def stack() -> StackUnderTest:
    return await start_stack()


@pytest.fixture(scope="session")
async def services(stack: StackUnderTest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningServices]:
    running = await start_services(stack, tmp_path_factory.mktemp("service-logs"))
    try:
        yield running
    finally:
        running.stop()
        # A long-lived local stack would otherwise keep every run's topics and databases.
        await remove_isolated(running.settings)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test proves nothing: the run fails when anything was skipped."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter is not None else 0
    if skipped and exitstatus == 0:
        reporter.write_line(f"{skipped} test(s) skipped: every test must run (see tests/conftest.py)", red=True)
        session.exitstatus = 1
