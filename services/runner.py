"""`haven serve`: run one service, or all of them as a process group.

`moderation` is two processes: the screening worker (CPU-bound; scale it with partitions) and
the moderation API. `all` starts forum, moderation (both parts) and notify, plus the shadow
screener (`haven screener shadow`) when HAVEN_SHADOW_SCREENER names a candidate, and stops every
one of them when it is interrupted or when any of them but the shadow exits.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import time

from aiohttp import web

from services.common.health import probe_readiness
from services.common.http_serving import serve_until_signalled
from streams.settings import Settings

log = logging.getLogger(__name__)

SERVICES = ("forum", "moderation", "notify", "moderation-api", "moderation-worker", "all")
GROUPS = {
    "all": ("forum", "moderation-worker", "moderation-api", "notify"),
    "moderation": ("moderation-worker", "moderation-api"),
}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("service", choices=SERVICES, help="what to run")


def run(args: argparse.Namespace) -> int:
    settings = args.settings
    if args.service in GROUPS:
        # Each child configures its own tracing.
        return _run_group(group_commands(args.service, settings), settings)
    from services.common.tracing import TracingConfigError, configure_tracing

    try:
        configure_tracing(os.environ, service_name=f"haven-{args.service}")
    except TracingConfigError as exc:
        print(f"haven: {exc}", file=sys.stderr)
        return 2
    if args.service == "moderation-worker":
        return _run_worker(settings)
    app, port = _build_app(args.service, settings)
    log.info("%s listening on http://%s:%d", args.service, settings.host, port)
    # No access log (its default format records client addresses, which Haven never stores), and a
    # problem+json even for requests that are not valid HTTP.
    serve_until_signalled(app, settings.host, port, shutdown_timeout=5)
    return 0


def _build_app(service: str, settings: Settings) -> tuple[web.Application, int]:
    if service == "forum":
        from services.forum.app import create_app as create_forum
        from services.forum.limits import RateLimits
        from services.moderation.resources import ResourceDirectory

        directory = ResourceDirectory.load()
        forum = create_forum(
            settings,
            standing_lines=directory.standing_lines,
            limits=RateLimits.from_settings(settings),
            hotline_numbers=frozenset(directory.contact_numbers()),
        )
        return forum, settings.forum_port
    if service == "moderation-api":
        from services.moderation.api.app import create_app as create_moderation
        from services.moderation.resources import ResourceDirectory

        return create_moderation(settings, ResourceDirectory.load()), settings.moderation_port
    from services.notify.app import create_app as create_notify

    return create_notify(settings), settings.notify_port


def _run_worker(settings: Settings) -> int:
    import faust

    from services.moderation.resources import ResourceDirectory
    from services.moderation.screening import Screener, ScreenerLoadError
    from services.moderation.screening.policy import Policy
    from services.moderation.worker.app import create_worker_app
    from streams.kafka import ensure_topics

    try:
        screener = Screener.load(settings.screener_model, threads=2, precision=settings.screener_precision)
    except ScreenerLoadError as exc:
        # Never run without screening: nothing would stop a post from being published unscreened.
        print(f"haven: the screening model could not be loaded, refusing to start: {exc}", file=sys.stderr)
        return 1
    asyncio.run(ensure_topics(settings))
    app = create_worker_app(settings, screener.screen_batch, Policy.from_settings(settings), ResourceDirectory.load())
    worker = faust.Worker(app, loglevel=logging.getLevelName(logging.getLogger().level), quiet=True)
    worker.execute_from_commandline()
    return 0


#: Members whose exit leaves the rest of the group running.
OPTIONAL_MEMBERS = frozenset({"screener-shadow"})


def group_commands(group: str, settings: Settings) -> dict[str, list[str]]:
    """The processes `haven serve <group>` starts: each one's name and its `haven` arguments."""
    commands = {member: ["serve", member] for member in GROUPS[group]}
    if group == "all" and settings.shadow_screener is not None:
        commands["screener-shadow"] = ["screener", "shadow"]
    return commands


def _run_group(commands: dict[str, list[str]], settings: Settings) -> int:
    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    to_terminal = settings.logs == "terminal"
    log_dir = settings.state_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    print(f"Haven: starting {', '.join(commands)}", flush=True)
    if not to_terminal:
        print(f"  service logs: {log_dir}/<service>.log (HAVEN_LOGS=terminal shows them here)", flush=True)
    for member, arguments in commands.items():
        output = None if to_terminal else (log_dir / f"{member}.log").open("ab")
        children[member] = subprocess.Popen(
            [sys.executable, "-m", "services.cli", *arguments], stdout=output, stderr=subprocess.STDOUT
        )
    readiness = {
        member: f"http://{settings.host}:{port}"
        for member, port in settings.service_ports().items()
        if member in children
    }
    waiting = dict(readiness)
    exit_code = 0
    while not stopping:
        for member, child in list(children.items()):
            code = child.poll()
            if code is None:
                continue
            if member in OPTIONAL_MEMBERS:
                # A candidate screener changes nothing live, so its failure must not stop the forum.
                log.error("%s exited with code %s (see %s); the others go on", member, code, log_dir / f"{member}.log")
                del children[member]
                continue
            log.error("%s exited with code %s (see %s); stopping the others", member, code, log_dir / f"{member}.log")
            exit_code = code or 1
            stopping = True
            break
        for member, url in list(waiting.items()):
            if probe_readiness(url, timeout_s=1)[0]:
                del waiting[member]
                shown = url + ("/console/" if member == "moderation-api" else "")
                what = "ready (model loaded)" if member == "moderation-worker" else "ready"
                print(f"  {member:<18} {what:<21} {shown}", flush=True)
                if not waiting:
                    print(
                        f"Haven is ready: members use {readiness.get('forum', '')}, moderators "
                        f"{readiness.get('moderation-api', '')}/console/. Ctrl-C stops it.",
                        flush=True,
                    )
        time.sleep(0.2 if waiting else 0.5)
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 25
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    return exit_code
