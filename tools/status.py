"""`haven status`: is Haven up, and is anything waiting?

Shows the local stack, each service's readiness (and why not), and the screening backlog (posts
waiting for the worker, and how long the oldest has waited). Exit code 0 when everything is up
and ready, 3 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from streams.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object instead of lines")


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_status(args.settings, args.json))


async def _status(settings: Settings, as_json: bool) -> int:
    from services.common.health import probe_readiness
    from streams.lag import LagProbe
    from streams.topics import Topics
    from tools.localstack.stack import status as stack_status

    components = await stack_status(settings)
    readiness = {
        name: probe_readiness(f"http://{settings.host}:{port}") for name, port in settings.service_ports().items()
    }
    backlog: dict[str, Any] = {}
    if all(c.health == "up" for c in components if c.name == "kafka"):
        probe = LagProbe(
            settings,
            group_id=f"{settings.topic_prefix}moderation-worker",
            topic=Topics(settings.topic_prefix).posts_submitted,
        )
        try:
            await probe.start()
            lag = await probe.measure()
            backlog = {"unscreened_posts": lag.events, "oldest_waiting_s": lag.oldest_waiting_s}
        except Exception as exc:  # the stack line above already says Kafka is up; report, don't crash
            backlog = {"error": type(exc).__name__}
        finally:
            await probe.stop()
    healthy = all(c.health == "up" for c in components) and all(ok for ok, _ in readiness.values())
    if as_json:
        print(
            json.dumps(
                {
                    "stack": {c.name: c.health for c in components},
                    "services": {name: detail for name, (_, detail) in readiness.items()},
                    "screening": backlog,
                    "healthy": healthy,
                }
            )
        )
    else:
        for component in components:
            print(component.line())
        for name, (_, detail) in readiness.items():
            print(f"{name:<18} {detail}")
        if "unscreened_posts" in backlog:
            oldest = backlog["oldest_waiting_s"]
            print(
                f"screening          {backlog['unscreened_posts']} post(s) waiting"
                + (f", oldest for {oldest:.0f} s" if oldest is not None else "")
            )
        elif backlog:
            print(f"screening          backlog unknown ({backlog['error']})")
    return 0 if healthy else 3
