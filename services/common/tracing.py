"""OpenTelemetry tracing for Haven's processes: one post is one trace, across every service.

Off by default. The standard variables turn it on, read once per process by `configure_tracing`
(each entry point calls it before building its app):

- `OTEL_TRACES_EXPORTER`: `none` (the default), `otlp` (OTLP over HTTP/protobuf, to
  `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), `console` (one JSON
  span a line on standard output), or a comma-separated list of them;
- `OTEL_SERVICE_NAME` overrides the process's own name (`haven-forum`, `haven-moderation-worker`...);
- `OTEL_SDK_DISABLED=true` turns it off whatever the exporter says; the SDK's own variables
  (`OTEL_TRACES_SAMPLER`, `OTEL_BSP_*`, `OTEL_EXPORTER_OTLP_HEADERS`...) work as documented.

When off, the SDK is not even imported: the API's no-op tracer costs a few calls per span.

What spans carry (privacy): route templates, topic names, event types, post and thread ids,
status codes and exception type names. Never a concrete path, a query string, a client address,
a member id, a Kafka key, a post body, a title, a token or an exception message. A trace id is
random and per post; a member id would link an anonymous member's posts together in a tracing
backend, which usually has wider access than the databases.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

from aiohttp import web
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from services.common.problems import Handler
from streams.trace_context import (
    TRACEPARENT,
    TRACER_NAME,
    HeadersIn,
    KafkaHeaders,
    base_topic,
    context_from_headers,
    kafka_headers,
)

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = [
    "TRACEPARENT",
    "HeadersIn",
    "KafkaHeaders",
    "TracingConfigError",
    "configure_tracing",
    "consumer_span",
    "context_from_headers",
    "failed",
    "kafka_headers",
    "tracer",
    "tracing_middleware",
]

EXPORTERS = ("otlp", "console")
#: Probes and scrapes every few seconds would bury the traces that matter.
UNTRACED_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})


class TracingConfigError(ValueError):
    """The OTEL_* variables ask for something Haven cannot do: the process must not start."""


def exporter_names(env: Mapping[str, str]) -> list[str]:
    """The exporters the environment asks for; empty when tracing is off."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = [name.strip().lower() for name in env.get("OTEL_TRACES_EXPORTER", "none").split(",") if name.strip()]
    names = [name for name in names if name != "none"]
    unknown = [name for name in names if name not in EXPORTERS]
    if unknown:
        raise TracingConfigError(
            f"OTEL_TRACES_EXPORTER: unknown exporter(s) {', '.join(unknown)}; use otlp, console or none"
        )
    return names


def configure_tracing(
    env: Mapping[str, str], *, service_name: str, console: TextIO | None = None
) -> TracerProvider | None:
    """Install the global tracer provider the environment asks for; None (and no work) when off.

    Call it once per process, before the app is built. Spans are exported in batches from a
    background thread, and the rest is flushed when the process exits. Raises
    `TracingConfigError` for an exporter it does not know.
    """
    names = exporter_names(env)
    if not names:
        return None
    # Imported only now: a process without tracing never loads the SDK.
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({SERVICE_NAME: env.get("OTEL_SERVICE_NAME") or service_name})
    provider = TracerProvider(resource=resource)
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name, console or sys.stdout)))
    trace.set_tracer_provider(provider)
    return provider


def _exporter(name: str, console: TextIO) -> SpanExporter:
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()  # endpoint, headers and timeout from the OTEL_EXPORTER_OTLP_* variables
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    # One span a line: greppable, and never split by the log lines that share the file.
    return ConsoleSpanExporter(out=console, formatter=lambda span: span.to_json(indent=None) + "\n")


def tracer(given: Tracer | None = None) -> Tracer:
    """`given`, or Haven's tracer from the global API (a no-op until a provider is configured)."""
    return given or trace.get_tracer(TRACER_NAME)


def failed(span: Span, exc: BaseException) -> None:
    """Mark a span as failed with the exception's type only: its message may quote a post."""
    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))


def tracing_middleware(given: Tracer | None = None, *, untraced: frozenset[str] = UNTRACED_ROUTES):  # type: ignore[no-untyped-def]  # aiohttp's middleware decorator type is not expressible without its private types
    """A server span per request, named `METHOD /route/{template}`; put it first (outermost).

    A request always starts a new trace: an incoming `traceparent` is ignored, because a client
    that sends the same one from each of its anonymous identities would have them linked.
    """
    spans = tracer(given)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        if route in untraced:
            return await handler(request)
        with spans.start_as_current_span(
            f"{request.method} {route}",
            context=Context(),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": request.method, "http.route": route},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                _set_status_code(span, exc.status)
                raise
            except BaseException as exc:
                failed(span, exc)
                raise
            _set_status_code(span, response.status)
            return response

    return middleware


def _set_status_code(span: Span, status: int) -> None:
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))


@contextmanager
def consumer_span(
    given: Tracer | None, topic: str, headers: HeadersIn, attributes: Mapping[str, str | int] | None = None
) -> Iterator[Span]:
    """The span of handling one Kafka message, in the trace its producer sent it in.

    Named `process <topic without prefix>`; the exception type (only) marks it failed.
    """
    with tracer(given).start_as_current_span(
        f"process {base_topic(topic)}",
        context=context_from_headers(headers),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            **(attributes or {}),
        },
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            failed(span, exc)
            raise
