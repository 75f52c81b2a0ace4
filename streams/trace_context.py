"""W3C trace context on Kafka messages: what every producer injects and every consumer extracts.

Only `traceparent` (and `tracestate`, when a tracer set one) cross Kafka: never baggage, whose
content no one here controls. The header values carry random ids only, no member data.

With no tracer provider configured (the default), the OpenTelemetry API is a no-op: nothing is
injected for a message produced outside any trace, and a consumer that extracts a context passes
it on unchanged, so a service without tracing does not break the chain of one that has it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from streams import topics

#: The instrumentation scope of every Haven span.
TRACER_NAME = "haven"
TRACEPARENT = "traceparent"
_TRACESTATE = "tracestate"

#: Kafka headers as aiokafka takes and gives them.
KafkaHeaders = list[tuple[str, bytes]]
HeadersIn = Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None

_PROPAGATOR = TraceContextTextMapPropagator()
_BASE_TOPICS = (
    topics.IDENTITIES,
    topics.POSTS_SUBMITTED,
    topics.POSTS_SCREENED,
    topics.POSTS_REPORTED,
    topics.POSTS_DELETED,
    topics.MODERATION_DECISIONS,
    topics.NOTIFICATIONS,
)
_DEAD_LETTERS = "dlq."


def base_topic(topic: str) -> str:
    """A topic's name without the deployment's prefix, for span names that are the same everywhere."""
    if _DEAD_LETTERS in topic:
        return topic[topic.rindex(_DEAD_LETTERS) :]
    return next((base for base in _BASE_TOPICS if topic.endswith(base)), topic)


def kafka_headers(context: Context | None = None) -> KafkaHeaders:
    """The trace headers for a message sent in `context` (the current one by default).

    Empty outside any trace (for example with tracing off and no incoming trace).
    """
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=context)
    return [(name, value.encode("ascii")) for name, value in carrier.items()]


def context_from_headers(headers: HeadersIn) -> Context:
    """The trace context a message was sent in, or an empty context (a new trace) without one.

    Never raises: a missing, malformed or non-ASCII header just starts a new trace.
    """
    items = headers.items() if isinstance(headers, Mapping) else (headers or ())
    carrier: dict[str, str] = {}
    for name, value in items:
        if name in (TRACEPARENT, _TRACESTATE) and isinstance(value, bytes | bytearray):
            carrier[name] = bytes(value).decode("ascii", errors="replace")
    # An explicit empty context: the result never inherits whatever span happens to be current.
    return _PROPAGATOR.extract(carrier, context=Context())
