"""/healthz, /readyz and /metrics, the same on every service.

A service that still answers usefully when a dependency is gone (the forum's refusals carry the
crisis lines, notify keeps streams open and pushes resources, the moderation API serves the
resource directory) stays ready then: its /readyz answers 200 with "degraded" and names the
failing checks. Every replica shares the database and the broker, so failing readiness would take
them all out of the Service at once, and the ingress would answer in their place with a page that
carries no crisis lines and opens no stream. Each check's state is also exported
(`haven_readiness_failing`), for alerting.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

ReadinessCheck = Callable[[], Awaitable[str | None]]

#: How long /readyz waits for each check (they run together). Under the kubelet's default probe
#: timeout of 1 s, so a dependency that hangs (a frozen database) gives an answer, not a timeout.
CHECK_TIMEOUT_S = 0.8

readiness_checks_key = web.AppKey("readiness_checks", dict)
metrics_registry_key = web.AppKey("metrics_registry", CollectorRegistry)
#: Whether a failing check leaves the service ready ("degraded") instead of unready.
serves_degraded_key = web.AppKey("serves_degraded", bool)
check_failing_key = web.AppKey("readiness_failing", Gauge)
liveness_key: web.AppKey[Callable[[], str | None]] = web.AppKey("liveness")


async def healthz(request: web.Request) -> web.Response:
    """Alive unless the process says it cannot recover by itself (the kubelet restarts it then)."""
    problem = request.app[liveness_key]()
    if problem is not None:
        return web.json_response({"status": "stuck", "problem": problem}, status=503)
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Each check returns None or what is wrong. Ready when none fails; when some do, unready
    (503), or ready but "degraded" (200) for a service that serves without them."""
    checks: dict[str, ReadinessCheck] = request.app[readiness_checks_key]
    failing_gauge = request.app[check_failing_key]
    problems = await asyncio.gather(*(_bounded(check) for check in checks.values()))
    failures = {}
    for name, problem in zip(checks, problems, strict=True):
        failing_gauge.labels(check=name).set(1 if problem else 0)
        if problem:
            failures[name] = problem
    if not failures:
        return web.json_response({"status": "ready", "checks": sorted(checks)})
    if request.app[serves_degraded_key]:
        return web.json_response({"status": "degraded", "failing": failures, "checks": sorted(checks)})
    return web.json_response({"status": "unavailable", "failing": failures}, status=503)


async def _bounded(check: ReadinessCheck) -> str | None:
    try:
        return await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_S} s"
    except Exception as exc:  # a failing check is an answer, not an error
        return type(exc).__name__


async def metrics(request: web.Request) -> web.Response:
    registry = request.app[metrics_registry_key]
    return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup_health(
    app: web.Application,
    registry: CollectorRegistry,
    *,
    serves_degraded: bool = False,
    alive: Callable[[], str | None] = lambda: None,
) -> dict[str, ReadinessCheck]:
    """Add the routes; returns the dict where the app registers its readiness checks.

    `serves_degraded`: the service stays ready while checks fail (see the module's docstring).
    `alive`: what stops the process from recovering by itself, if anything (/healthz answers 503)."""
    checks: dict[str, ReadinessCheck] = {}
    app[liveness_key] = alive
    app[readiness_checks_key] = checks
    app[metrics_registry_key] = registry
    app[serves_degraded_key] = serves_degraded
    app[check_failing_key] = Gauge(
        "haven_readiness_failing",
        "1 while this readiness check fails (as of the last /readyz), else 0",
        ["check"],
        registry=registry,
    )
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return checks


def probe_readiness(base_url: str, *, timeout_s: float = 3.0) -> tuple[bool, str]:
    """Ask a running service's /readyz (blocking; for commands): whether it is ready with nothing
    failing, and in words."""
    try:
        with urllib.request.urlopen(
            f"{base_url}/readyz", timeout=timeout_s
        ) as response:  # loopback only: the URL is built from our own settings
            body = _json_object(response.read())
    except urllib.error.HTTPError as exc:
        return False, _in_words("not ready", _json_object(exc.read()).get("failing", {}))
    except (OSError, ValueError):
        return False, "not running"
    if body.get("status") == "degraded":
        return False, _in_words("degraded (still serving)", body.get("failing", {}))
    return True, "ready"


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _in_words(state: str, failing: Any) -> str:
    if not isinstance(failing, dict) or not failing:
        return state
    return f"{state}: " + ", ".join(f"{k} ({v})" for k, v in failing.items())
