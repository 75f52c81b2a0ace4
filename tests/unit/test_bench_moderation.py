"""`haven bench moderation`: the seeded history's shape and the printed figures (no database)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tools.benchmarks.moderation import (
    audit_entry,
    database_name,
    growth,
    history_batches,
    history_item,
    median_ms,
    result_json,
    table_lines,
)

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def test_a_history_item_is_a_decided_held_post_and_its_audit_entry_names_it() -> None:
    item = history_item(7, NOW)
    entry = audit_entry(7, NOW)
    assert item["_id"] == "post:p7:1" and item["post_id"] == "p7" and item["revision"] == 1
    assert item["status"] == "decided" and item["level_rank"] == 2 and item["alerted"] is True
    assert item["verdict"] is None and item["resources"] == [] and item["reports"] == []
    assert entry["item_id"] == item["_id"] and entry["post_id"] == item["post_id"]
    assert entry["action"] == "approve" and entry["note"] == "" and entry["model_version"] is None
    assert entry["at"] == item["created_at"] == NOW


def test_the_history_comes_in_batches_with_one_audit_entry_per_item_all_in_the_past() -> None:
    batches = list(history_batches(12_001, NOW, batch=5_000))
    assert [len(items) for items, _ in batches] == [5_000, 5_000, 2_001]
    assert all(len(items) == len(entries) for items, entries in batches)
    ids = [item["_id"] for items, _ in batches for item in items]
    assert len(set(ids)) == 12_001
    assert len({entry["_id"] for _, entries in batches for entry in entries}) == 12_001
    created = [item["created_at"] for items, _ in batches for item in items]
    assert created == sorted(created) and created[-1] == NOW - timedelta(minutes=1)


def test_the_database_is_the_benchs_own_per_size() -> None:
    assert database_name("haven_", 20_000) == "haven_bench_moderation_20000"


def test_the_median_is_in_milliseconds() -> None:
    assert median_ms([0.003, 0.001, 0.002]) == 2.0


def test_growth_is_the_largest_size_over_the_smallest() -> None:
    assert growth({1000: 2.0, 5000: 3.0, 20000: 10.0}, [1000, 5000, 20000]) == 5.0
    assert growth({1000: 0.0, 20000: 1.0}, [1000, 20000]) is None


def test_the_table_has_a_row_per_action_and_a_column_per_size_then_the_growth() -> None:
    medians = {"claim": {1000: 1.5, 20000: 3.0}, "open_items(50)": {1000: 0.0, 20000: 2.0}}
    lines = table_lines(medians, [1000, 20000])
    assert len(lines) == 3
    assert "1000" in lines[0] and "20000" in lines[0] and "x 20000/1000" in lines[0]
    assert lines[1].split() == ["claim", "1.50", "3.00", "2.0x"]
    assert lines[2].split() == ["open_items(50)", "0.00", "2.00", "-"]


def test_the_json_line_gives_each_actions_median_by_size() -> None:
    line = result_json({"claim": {1000: 1.23456, 20000: 2.0}}, [1000, 20000])
    assert "\n" not in line
    assert json.loads(line) == {
        "bench": "moderation",
        "sizes": [1000, 20000],
        "median_ms": {"claim": {"1000": 1.235, "20000": 2.0}},
    }
