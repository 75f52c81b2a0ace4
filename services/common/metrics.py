"""Prometheus metrics for HTTP requests, one registry per app (no global state)."""

from __future__ import annotations

import time

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram

from services.common.problems import Handler


def http_metrics_middleware(registry: CollectorRegistry, service: str):  # type: ignore[no-untyped-def]  # aiohttp's middleware decorator type is not expressible without its private types
    requests = Counter(
        "haven_http_requests_total",
        "HTTP requests by route and status",
        ["service", "route", "method", "status"],
        registry=registry,
    )
    latency = Histogram(
        "haven_http_request_seconds",
        "HTTP request latency by route",
        ["service", "route", "method"],
        registry=registry,
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    )

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        # The route template, never the concrete path: paths carry ids.
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            requests.labels(service, route, request.method, str(status)).inc()
            latency.labels(service, route, request.method).observe(time.perf_counter() - started)

    return middleware
