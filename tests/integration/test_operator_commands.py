"""`haven status` and `haven config`, as an operator runs them against a running Haven."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from tests.harness import RunningServices, haven

pytestmark = pytest.mark.integration


async def test_status_reports_every_service_ready_and_the_screening_backlog(services: RunningServices) -> None:
    result = await asyncio.to_thread(haven, services, "status", "--json")
    report = json.loads(result.stdout)
    assert report["stack"] == {"kafka": "up", "ferretdb": "up"}
    assert report["services"] == {name: "ready" for name in ("forum", "moderation-api", "notify", "moderation-worker")}
    assert report["screening"]["unscreened_posts"] >= 0
    assert (result.returncode, report["healthy"]) == (0, True)


async def test_status_says_what_is_not_running(services: RunningServices) -> None:
    env = services.env | {"HAVEN_NOTIFY_PORT": "1"}
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.cli", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3
    assert "notify             not running" in result.stdout


async def test_config_masks_secrets_and_names_a_bad_variable(services: RunningServices) -> None:
    services_env = services.env | {
        "HAVEN_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "HAVEN_KAFKA_SASL_USERNAME": "forum",
        "HAVEN_KAFKA_SASL_PASSWORD": "correct-horse-battery",
    }
    shown = subprocess.run(
        [sys.executable, "-m", "services.cli", "config"], env=services_env, capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0
    assert "correct-horse-battery" not in shown.stdout and "kafka_sasl_password" in shown.stdout
    assert services.settings.topic_prefix in shown.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "services.cli", "config"],
        env=services.env | {"HAVEN_PARTITIONS": "six"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "HAVEN_PARTITIONS" in bad.stderr
