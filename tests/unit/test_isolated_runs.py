"""Benchmarks run on topics and databases of their own, and remove only those afterwards."""

from __future__ import annotations

import pytest

from streams.settings import Settings
from tools.process_group import isolated_settings, remove_isolated


def test_an_isolated_run_has_prefixes_of_its_own() -> None:
    base = Settings()
    first, second = isolated_settings(base, label="bench"), isolated_settings(base, label="bench")
    assert first.topic_prefix.startswith("bench-") and first.db_prefix.startswith("bench_")
    assert first.topic_prefix != second.topic_prefix and first.db_prefix != second.db_prefix
    assert first.db_prefix != base.db_prefix


async def test_removing_refuses_the_shared_stacks_topics_and_databases() -> None:
    # Checked before anything is contacted: with the default prefixes it would delete every topic.
    with pytest.raises(ValueError):
        await remove_isolated(Settings())
    with pytest.raises(ValueError):
        await remove_isolated(Settings().with_overrides(topic_prefix="bench-x."))
