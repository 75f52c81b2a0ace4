"""Tracing: one post is one trace, across HTTP, Kafka and the screening worker; off by default.

Each test uses its own tracer provider with an in-memory exporter, passed in: the global one is
never set here, so the rest of the suite runs with tracing off, as by default.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiokafka.structs import ConsumerRecord, TopicPartition
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode, Tracer

from services.common.consuming import EventConsumerLoop
from services.common.tracing import TracingConfigError, exporter_names, tracing_middleware
from services.moderation.resources import ResourceDirectory
from services.moderation.screening import ScreeningInput
from services.moderation.screening.policy import Policy
from services.moderation.worker.inference_deadline import GuardedInference
from services.moderation.worker.screening_flow import ScreeningFlow
from services.moderation.worker.screening_records import ScreeningRecords
from services.moderation.worker.screening_spans import PostSpans
from streams.events import Event, Notification, PostScreened, PostSubmitted, Verdict
from streams.publishing import EventPublisher
from streams.serialization import decode, encode
from streams.topics import Topics
from streams.trace_context import base_topic, context_from_headers, kafka_headers
from tests.unit.memory_screenings import MemoryScreenings
from tools.process_group import REPO_ROOT

AUTHOR = "member-secret-7"
BODY = "day 12 and the cravings are loud tonight"


class Spans:
    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer: Tracer = provider.get_tracer("test")

    def named(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.exporter.get_finished_spans() if span.name == name]

    def one(self, name: str) -> ReadableSpan:
        [span] = self.named(name)
        return span


@pytest.fixture
def spans() -> Iterator[Spans]:
    yield Spans()


class RecordingProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, list[tuple[str, bytes]]]] = []

    async def send_and_wait(
        self, topic: str, value: bytes | None, key: bytes, headers: list[tuple[str, bytes]] | None = None
    ) -> None:
        self.sent.append((topic, value, list(headers or [])))

    async def send(
        self, topic: str, value: bytes | None, key: bytes, headers: list[tuple[str, bytes]] | None = None
    ) -> asyncio.Future[None]:
        """aiokafka's send: enqueued here, acked at once (unless send_and_wait refuses or hangs)."""
        await self.send_and_wait(topic, value, key, headers)
        acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        acked.set_result(None)
        return acked


def traceparent(headers: list[tuple[str, bytes]]) -> tuple[str, str]:
    """(trace id, parent span id) of a message's traceparent header."""
    [value] = [v for k, v in headers if k == "traceparent"]
    version, trace_id, span_id, flags = value.decode().split("-")
    assert version == "00" and int(flags, 16) & 1, "sampled"
    return trace_id, span_id


def ids(span: ReadableSpan) -> tuple[str, str]:
    assert span.context is not None
    return f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"


def parent_ids(span: ReadableSpan) -> tuple[str, str]:
    assert span.parent is not None
    return f"{span.parent.trace_id:032x}", f"{span.parent.span_id:016x}"


def header_for(trace_id: str, span_id: str) -> list[tuple[str, bytes]]:
    return [("traceparent", f"00-{trace_id}-{span_id}-01".encode())]


def _submitted(post_id: str = "p1", thread_id: str = "t1") -> PostSubmitted:
    return PostSubmitted(post_id=post_id, thread_id=thread_id, board_slug="alcohol", author_id=AUTHOR, body=BODY)


def assert_nothing_identifying(span: ReadableSpan) -> None:
    text = span.to_json()
    assert AUTHOR not in text and BODY not in text


async def test_a_published_post_carries_the_traceparent_of_its_producer_span(spans: Spans) -> None:
    producer = RecordingProducer()
    publisher = EventPublisher(producer, Topics("t."), tracer=spans.tracer)  # type: ignore[arg-type]
    with spans.tracer.start_as_current_span("POST /v1/boards/{slug}/threads") as request:
        await publisher.publish(_submitted())
    [(topic, _, headers)] = producer.sent
    assert topic == "t.posts.submitted"
    send = spans.one("send posts.submitted")
    assert send.kind is SpanKind.PRODUCER
    assert parent_ids(send) == ids(spans.one("POST /v1/boards/{slug}/threads"))
    assert traceparent(headers) == ids(send), "the consumer's parent is the producer span"
    assert send.attributes is not None
    assert send.attributes["haven.post.id"] == "p1"
    assert send.attributes["messaging.destination.name"] == "t.posts.submitted"
    assert_nothing_identifying(send)
    assert request.get_span_context().trace_id == send.context.trace_id  # type: ignore[union-attr]


async def test_with_tracing_off_nothing_is_added_to_a_message() -> None:
    producer = RecordingProducer()
    # No tracer passed and no provider configured: the API's no-op tracer.
    await EventPublisher(producer, Topics("t.")).publish(_submitted())  # type: ignore[arg-type]
    assert producer.sent[0][2] == []


async def test_a_failed_send_marks_its_span_with_the_error_type_only(spans: Spans) -> None:
    class Refusing(RecordingProducer):
        async def send_and_wait(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError(f"broker said no to {BODY}")

    publisher = EventPublisher(Refusing(), Topics("t."), tracer=spans.tracer)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        await publisher.publish(_submitted())
    send = spans.one("send posts.submitted")
    assert send.status.status_code is StatusCode.ERROR and send.status.description == "RuntimeError"
    assert send.events == (), "no exception event: its message may quote a post"
    assert_nothing_identifying(send)


def test_trace_headers_survive_a_round_trip_and_bad_ones_start_a_new_trace(spans: Spans) -> None:
    with spans.tracer.start_as_current_span("origin") as origin:
        headers = kafka_headers()
    restored = context_from_headers(headers)
    with spans.tracer.start_as_current_span("next", context=restored):
        pass
    assert parent_ids(spans.one("next")) == ids(spans.one("origin"))
    assert origin.get_span_context().is_valid
    for bad in (None, [], [("traceparent", b"garbage")], [("traceparent", b"\xff\xfe")], {"other": b"x"}):
        with spans.tracer.start_as_current_span(f"fresh-{bad!r}", context=context_from_headers(bad)):
            pass
        assert spans.one(f"fresh-{bad!r}").parent is None


def test_span_names_use_topics_without_the_deployment_prefix() -> None:
    assert base_topic("test-3f2a.posts.screened") == "posts.screened"
    assert base_topic("haven.dlq.forum") == "dlq.forum"
    assert base_topic("posts.submitted") == "posts.submitted"


class SeekingConsumer:
    """One partition: hands out what follows its position, and goes back where it is told."""

    def __init__(self, records: list[ConsumerRecord]) -> None:
        self._records = records
        self._position = 0
        self.committed: dict[TopicPartition, int] = {}

    async def getmany(self, timeout_ms: int = 0, max_records: int = 100) -> dict[TopicPartition, list[ConsumerRecord]]:
        await asyncio.sleep(0.001)
        records = self._records[self._position :]
        self._position = len(self._records)
        return {TopicPartition(records[0].topic, 0): records} if records else {}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.committed.update(offsets)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._position = offset

    def pause(self, *tps: TopicPartition) -> None: ...
    def resume(self, *tps: TopicPartition) -> None: ...
    def paused(self) -> set[TopicPartition]:
        return set()

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition("t.posts.screened", 0)}


def _record(offset: int, value: bytes, headers: list[tuple[str, bytes]]) -> ConsumerRecord:
    return ConsumerRecord(
        topic="t.posts.screened",
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"t1",
        value=value,
        checksum=None,
        serialized_key_size=2,
        serialized_value_size=len(value),
        headers=tuple(headers),
    )


def _screened(post_id: str) -> bytes:
    verdict = Verdict(id=post_id, risk="none", categories=[], action="publish", model_version="test")
    return encode(
        PostScreened(
            post_id=post_id,
            thread_id="t1",
            board_slug="alcohol",
            author_id=AUTHOR,
            revision=1,
            kind="new",
            verdict=verdict,
            resources=[],
            body=BODY,
            title=None,
            is_thread_start=False,
            country="GB",
        )
    )


async def test_a_consumer_handles_each_event_in_the_trace_it_was_sent_in(spans: Spans) -> None:
    post_trace, post_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    consumer = SeekingConsumer(
        [
            _record(0, _screened("p1"), header_for(post_trace, post_span)),
            _record(1, _screened("p2"), []),
        ]
    )
    producer = RecordingProducer()
    publisher = EventPublisher(producer, Topics("t."), tracer=spans.tracer)  # type: ignore[arg-type]
    attempts = {"p1": 0}

    async def handle(topic: str, event: Event) -> None:
        assert isinstance(event, PostScreened)
        if event.post_id == "p1" and not attempts["p1"]:
            attempts["p1"] += 1
            raise TimeoutError(f"database away while storing {BODY}")
        # What a materializer publishes in reaction (a reply notification, say).
        await publisher.publish(Notification(recipient_id=AUTHOR, kind="reply", post_id=event.post_id))

    loop: EventConsumerLoop[Event] = EventConsumerLoop(
        name="forum",
        consumer=consumer,
        producer=producer,  # type: ignore[arg-type]
        dead_letter_topic="t.dlq.forum",
        decoders={"t.posts.screened": PostScreened},
        handle=handle,
        backoff_start_s=0.0,
        backoff_cap_s=0.0,
        tracer=spans.tracer,
    )
    task = asyncio.create_task(loop.run())
    try:
        async with asyncio.timeout(5):
            while len(spans.named("process posts.screened")) < 3:
                await asyncio.sleep(0.005)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    # p1 fails once and is retried: each attempt is a span of the post's trace.
    failed_p1, handled_p1, handled_p2 = spans.named("process posts.screened")
    assert failed_p1.kind is SpanKind.CONSUMER
    assert parent_ids(failed_p1) == parent_ids(handled_p1) == (post_trace, post_span), "continues the post's trace"
    assert failed_p1.status.status_code is StatusCode.ERROR and failed_p1.status.description == "TimeoutError"
    assert handled_p1.status.status_code is StatusCode.UNSET
    assert failed_p1.attributes is not None and failed_p1.attributes["haven.post.id"] == "p1"
    assert handled_p2.parent is None, "no header: a trace of its own"
    first, second = producer.sent
    assert traceparent(first[2])[0] == post_trace, "what the handler publishes stays in the post's trace"
    assert traceparent(second[2])[0] == ids(handled_p2)[0]
    for span in spans.exporter.get_finished_spans():
        assert_nothing_identifying(span)


async def test_each_screened_post_goes_out_in_its_own_posts_trace(spans: Spans) -> None:
    producer = RecordingProducer()

    def screen(items: list[ScreeningInput]) -> list[Verdict]:
        return [Verdict(id=i.id, risk="none", categories=[], action="publish", model_version="t") for i in items]

    flow = ScreeningFlow(
        inference=GuardedInference(screen, ThreadPoolExecutor(1)),
        policy=Policy(),
        directory=ResourceDirectory.load(),
        producer=producer,
        topics=Topics("t."),
        records=ScreeningRecords(MemoryScreenings()),  # type: ignore[arg-type]
        tracer=spans.tracer,  # type: ignore[arg-type]
    )
    traces = {
        "p1": ("11111111111111111111111111111111", "1111111111111111"),
        "p2": ("22222222222222222222222222222222", "2222222222222222"),
    }
    batch = [_submitted("p1"), _submitted("p2", thread_id="t2"), _submitted("p1")]  # p1 redelivered
    post_spans = PostSpans(spans.tracer)
    for post in batch:
        post_spans.start(post, "t.posts.submitted", header_for(*traces[post.post_id]), len(batch))
    try:
        assert await flow.process(batch, post_spans.emitting) == 2
    finally:
        post_spans.end()
    by_post = {decode(PostScreened, value).post_id: headers for _, value, headers in producer.sent}
    assert set(by_post) == {"p1", "p2"}
    for post_id, headers in by_post.items():
        assert traceparent(headers)[0] == traces[post_id][0], f"{post_id}'s verdict is in {post_id}'s trace"
    screen_spans = spans.named("screen post")
    assert len(screen_spans) == 3, "every message of the batch has its span, and every span ends"
    for span in screen_spans:
        assert span.attributes is not None
        assert parent_ids(span) == traces[str(span.attributes["haven.post.id"])]
        assert span.attributes["haven.screening.batch_size"] == 3
        assert_nothing_identifying(span)
    assert sum(bool(span.attributes and span.attributes.get("haven.screening.emitted")) for span in screen_spans) == 2
    emitted = {ids(span) for span in screen_spans if span.attributes and span.attributes.get("haven.screening.emitted")}
    assert {parent_ids(send) for send in spans.named("send posts.screened")} == emitted


async def _serve(app: web.Application) -> TestClient:  # type: ignore[type-arg]
    client: TestClient = TestClient(TestServer(app))  # type: ignore[type-arg]
    await client.start_server()
    return client


async def test_a_request_span_is_named_after_its_route_template_and_starts_a_new_trace(spans: Spans) -> None:
    async def post(request: web.Request) -> web.Response:
        return web.json_response({"id": request.match_info["post_id"]})

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError(f"bug while rendering {BODY}")

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(middlewares=[tracing_middleware(spans.tracer)])
    app.router.add_get("/v1/posts/{post_id}", post)
    app.router.add_get("/v1/broken", broken)
    app.router.add_get("/healthz", ok)
    client = await _serve(app)
    try:
        incoming = "00-99999999999999999999999999999999-9999999999999999-01"
        response = await client.get("/v1/posts/p-12345?cursor=abc", headers={"traceparent": incoming})
        assert response.status == 200
        assert (await client.get("/v1/missing/p-12345")).status == 404
        assert (await client.get("/v1/broken")).status == 500
        assert (await client.get("/healthz")).status == 200
    finally:
        await client.close()
    request = spans.one("GET /v1/posts/{post_id}")
    assert request.kind is SpanKind.SERVER and request.parent is None
    assert ids(request)[0] != "9" * 32, "a client's traceparent is never continued"
    assert request.attributes is not None and request.attributes["http.response.status_code"] == 200
    assert "p-12345" not in request.to_json() and "cursor" not in request.to_json()
    assert spans.one("GET unmatched").attributes["http.response.status_code"] == 404  # type: ignore[index]
    failed = spans.one("GET /v1/broken")
    assert failed.status.status_code is StatusCode.ERROR and failed.status.description == "RuntimeError"
    assert_nothing_identifying(failed)
    assert spans.named("GET /healthz") == [], "probes are not traced"


def test_tracing_is_off_unless_an_exporter_is_named() -> None:
    assert exporter_names({}) == []
    assert exporter_names({"OTEL_TRACES_EXPORTER": "none"}) == []
    assert exporter_names({"OTEL_TRACES_EXPORTER": "otlp,console"}) == ["otlp", "console"]
    assert exporter_names({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}) == []
    with pytest.raises(TracingConfigError, match="zipkin"):
        exporter_names({"OTEL_TRACES_EXPORTER": "zipkin"})


def test_a_process_without_tracing_never_loads_the_sdk_and_one_with_console_prints_spans() -> None:
    script = (
        "import sys, os\n"
        "from services.common.tracing import configure_tracing, tracer\n"
        "provider = configure_tracing(os.environ, service_name='haven-test')\n"
        "with tracer().start_as_current_span('hello'):\n"
        "    pass\n"
        "print('sdk loaded' if 'opentelemetry.sdk' in sys.modules else 'no sdk', provider is None, flush=True)\n"
    )

    def run(**env: str) -> list[str]:
        result = subprocess.run(
            [sys.executable, "-c", script],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", **env},
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    assert run() == ["no sdk True"]
    first, *spans_out = run(OTEL_TRACES_EXPORTER="console")
    assert first == "sdk loaded False"
    [line] = spans_out  # flushed at exit, one JSON object a line
    span = json.loads(line)
    assert span["name"] == "hello" and span["resource"]["attributes"]["service.name"] == "haven-test"
