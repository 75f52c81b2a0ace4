"""One post is one trace, on the real stack: forum request -> posts.submitted -> worker -> forum.

The forum and the screening worker run with `OTEL_TRACES_EXPORTER=console`, which prints one
JSON span a line to each service's log; the test reads the spans back from there.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from streams.events import PostSubmitted
from streams.kafka import create_consumer
from streams.serialization import decode
from tests.harness import ForumClient, StackUnderTest, eventually
from tools.process_group import ServiceProcesses, isolated_settings, start_service_processes

pytestmark = pytest.mark.integration

TRACING_ENV = {
    "OTEL_TRACES_EXPORTER": "console",
    # Export spans a tenth of a second after they end rather than five seconds.
    "OTEL_BSP_SCHEDULE_DELAY": "100",
    "HAVEN_IDENTITIES_PER_HOUR": "100000",
}


@pytest.fixture(scope="module")
async def traced(stack: StackUnderTest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServiceProcesses]:
    settings = isolated_settings(stack.settings, label="trace").with_overrides(partitions=1)
    group = await start_service_processes(
        settings, tmp_path_factory.mktemp("traced-logs"), names=("forum", "moderation-worker"), extra_env=TRACING_ENV
    )
    try:
        yield group
    finally:
        group.stop()


def _spans(log_dir: Path, service: str) -> list[dict[str, Any]]:
    spans = []
    for line in (log_dir / f"{service}.log").read_text(errors="replace").splitlines():
        if line.startswith('{"name"'):
            spans.append(json.loads(line))
    return spans


def _in_trace(spans: list[dict[str, Any]], trace_id: str, name: str) -> dict[str, Any] | None:
    return next((s for s in spans if s["context"]["trace_id"] == f"0x{trace_id}" and s["name"] == name), None)


async def _traceparent_of(group: ServiceProcesses, post_id: str) -> str:
    """The traceparent header of the post's message, read off posts.submitted."""
    consumer = create_consumer(
        group.settings, [f"{group.settings.topic_prefix}posts.submitted"], group_id=None, client_id="trace-test"
    )
    await consumer.start()
    try:

        async def find() -> str | None:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    if decode(PostSubmitted, record.value).post_id == post_id:
                        headers = dict(record.headers)
                        assert "traceparent" in headers, f"no traceparent among {list(headers)}"
                        return headers["traceparent"].decode()
            return None

        return await eventually(find, timeout=30)
    finally:
        await consumer.stop()


async def test_a_posts_request_screening_and_publication_share_one_trace(
    traced: ServiceProcesses, http: aiohttp.ClientSession
) -> None:
    member = await ForumClient.join(http, traced.url("forum"), country="GB")
    status, created = await member.request(
        "POST", "/v1/boards/relapse-and-recovery/threads", json={"title": "Day 40", "body": "Forty days today."}
    )
    assert status == 202, created
    post_id = created["post_id"]

    version, trace_id, sent_span_id, _flags = (await _traceparent_of(traced, post_id)).split("-")
    assert version == "00" and trace_id != "0" * 32

    async def published() -> bool | None:
        status, post = await member.request("GET", f"/v1/posts/{post_id}")
        return True if status == 200 and post["status"] == "published" else None

    await eventually(published, timeout=60)

    async def whole_trace() -> dict[str, dict[str, Any]] | None:
        forum, worker = _spans(traced.log_dir, "forum"), _spans(traced.log_dir, "moderation-worker")
        found = {
            "request": _in_trace(forum, trace_id, "POST /v1/boards/{slug}/threads"),
            "submit": _in_trace(forum, trace_id, "send posts.submitted"),
            "screen": _in_trace(worker, trace_id, "screen post"),
            "verdict": _in_trace(worker, trace_id, "send posts.screened"),
            "materialize": _in_trace(forum, trace_id, "process posts.screened"),
        }
        return found if all(found.values()) else None

    spans = await eventually(whole_trace, timeout=30)
    assert spans["request"]["kind"] == "SpanKind.SERVER" and spans["request"]["parent_id"] is None
    assert spans["submit"]["context"]["span_id"] == f"0x{sent_span_id}", "the header is the producer span's"
    # Each hop's parent is the hop before it, across the two processes.
    for child, parent in (
        ("submit", "request"),
        ("screen", "submit"),
        ("verdict", "screen"),
        ("materialize", "verdict"),
    ):
        assert spans[child]["parent_id"] == spans[parent]["context"]["span_id"], f"{child} under {parent}"
    assert spans["screen"]["resource"]["attributes"]["service.name"] == "haven-moderation-worker"
    assert spans["request"]["resource"]["attributes"]["service.name"] == "haven-forum"
    assert spans["screen"]["attributes"]["haven.post.id"] == post_id
    # Nothing identifying in any span of the run: no body, title, token or member id.
    all_spans = json.dumps(_spans(traced.log_dir, "forum") + _spans(traced.log_dir, "moderation-worker"))
    for secret in ("Forty days today.", "Day 40", member.token, member.identity["id"]):
        assert secret and secret not in all_spans
