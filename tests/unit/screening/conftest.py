"""The real screener, loaded once for the screening unit tests (offline, from the package)."""

from __future__ import annotations

import pytest

from services.moderation.screening import Screener


@pytest.fixture(scope="session")
def screener() -> Screener:
    return Screener.load(threads=2)
