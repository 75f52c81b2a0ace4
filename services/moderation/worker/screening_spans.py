"""The screening worker's spans: one per post of a batch, each in the post's own trace.

Faust hands the agent a batch of messages; each message's `traceparent` header says which trace
its post belongs to. A post's span ("screen post") starts when its batch is taken, so it covers
the wait for the batch's inference, and the post's verdict (and resources notification) is sent
inside it: the forum's handling of that verdict then joins the post's trace. Posts screened in
the same batch share inference time, which `haven.screening.batch_size` makes visible.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Tracer

from services.common.tracing import HeadersIn, context_from_headers, tracer
from services.moderation.worker.screening_flow import screening_key
from streams.events import PostSubmitted


class PostSpans:
    """The spans of one batch. Not thread-safe; use it from the agent's task only."""

    def __init__(self, given: Tracer | None = None) -> None:
        self._tracer = tracer(given)
        self._spans: list[Span] = []
        self._by_post: dict[str, Span] = {}

    def start(self, post: PostSubmitted, topic: str, headers: HeadersIn, batch_size: int) -> None:
        span = self._tracer.start_span(
            "screen post",
            context=context_from_headers(headers),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": topic,
                "haven.post.id": post.post_id,
                "haven.post.revision": post.revision,
                "haven.screening.batch_size": batch_size,
            },
        )
        self._spans.append(span)
        # A post delivered twice in one batch is screened once: under the span of its first copy.
        self._by_post.setdefault(screening_key(post.post_id, post.revision), span)

    @contextmanager
    def emitting(self, post: PostSubmitted) -> Iterator[None]:
        """Make the post's span current while its verdict is sent (a no-op for an unknown post)."""
        span = self._by_post.get(screening_key(post.post_id, post.revision))
        if span is None:
            yield
            return
        span.set_attribute("haven.screening.emitted", True)
        with trace.use_span(span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
            try:
                yield
            except Exception as exc:
                # The batch is retried until it succeeds: an event per failed attempt, not an error.
                span.add_event("emit failed", {"exception.type": type(exc).__name__})
                raise

    def end(self) -> None:
        for span in self._spans:
            span.end()
        self._spans.clear()
        self._by_post.clear()
