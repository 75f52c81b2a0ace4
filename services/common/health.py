"""/healthz, /readyz and /metrics, the same on every service."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

ReadinessCheck = Callable[[], Awaitable[str | None]]

readiness_checks_key = web.AppKey("readiness_checks", dict)
metrics_registry_key = web.AppKey("metrics_registry", CollectorRegistry)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready only when every dependency answers; each check returns None or what is wrong."""
    checks: dict[str, ReadinessCheck] = request.app[readiness_checks_key]
    failures = {}
    for name, check in checks.items():
        try:
            problem = await check()
        except Exception as exc:  # a failing check is an answer, not an error
            problem = type(exc).__name__
        if problem:
            failures[name] = problem
    if failures:
        return web.json_response({"status": "unavailable", "failing": failures}, status=503)
    return web.json_response({"status": "ready", "checks": sorted(checks)})


async def metrics(request: web.Request) -> web.Response:
    registry = request.app[metrics_registry_key]
    return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup_health(app: web.Application, registry: CollectorRegistry) -> dict[str, ReadinessCheck]:
    """Add the routes; returns the dict where the app registers its readiness checks."""
    checks: dict[str, ReadinessCheck] = {}
    app[readiness_checks_key] = checks
    app[metrics_registry_key] = registry
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return checks


def probe_readiness(base_url: str, *, timeout_s: float = 3.0) -> tuple[bool, str]:
    """Ask a running service's /readyz (blocking; for commands): whether it is ready, and in words."""
    try:
        with urllib.request.urlopen(
            f"{base_url}/readyz", timeout=timeout_s
        ):  # loopback only: the URL is built from our own settings
            return True, "ready"
    except urllib.error.HTTPError as exc:
        try:
            failing = json.loads(exc.read()).get("failing", {})
        except ValueError:
            failing = {}
        return False, "not ready: " + ", ".join(f"{k} ({v})" for k, v in failing.items()) if failing else "not ready"
    except (OSError, ValueError):
        return False, "not running"
