"""Property-based fuzzing of every forum operation from its own OpenAPI document (schemathesis,
against the running forum, with a valid token): no 5xx, and no response outside the document."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.harness import ForumClient, RunningServices

pytestmark = pytest.mark.integration

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


async def test_no_forum_operation_answers_5xx_or_outside_its_schema(
    services: RunningServices, http: aiohttp.ClientSession
) -> None:
    status, document = await ForumClient(http, services.forum).request("GET", "/openapi.json")
    assert status == 200 and document["openapi"].startswith("3.1")
    operations = sum(len(methods) for methods in document["paths"].values())
    member = await ForumClient.join(http, services.forum, country="GB")
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{services.forum}/openapi.json",
        "--header",
        f"Authorization: Bearer {member.token}",
        "--checks",
        CHECKS,
        "--max-examples",
        "25",
        "--phases",
        "examples,coverage,fuzzing",
        # Erasing the identity would turn every later request into a 401.
        "--exclude-operation-id",
        "eraseMe",
        "--request-timeout",
        "20",
        "--no-color",
    ]
    result = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=600)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-6000:]
    assert " failed" not in report and "Authentication failed" not in report, report[-3000:]
    assert f"Tested: {operations - 1}" in report, report[-3000:]
    assert operations >= 15
