"""`haven stack prepare | up | down | status`."""

from __future__ import annotations

import argparse
import asyncio
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("prepare", "up", "down", "status"))


def run(args: argparse.Namespace) -> int:
    from tools.localstack.components import StackError, StackPaths
    from tools.localstack.prepare import prepare
    from tools.localstack.stack import ensure_up, status, stop

    settings = args.settings
    try:
        if args.action == "prepare":
            done = prepare(StackPaths.from_settings(settings))
            print("\n".join(done) if done else "stack tools already prepared")
        elif args.action == "up":
            print("\n".join(asyncio.run(ensure_up(settings))))
        elif args.action == "down":
            print("\n".join(stop(settings)))
        else:
            components = asyncio.run(status(settings))
            print("\n".join(c.line() for c in components))
            return 0 if all(c.health == "up" for c in components) else 3
    except StackError as exc:
        print(f"haven stack {args.action}: {exc}", file=sys.stderr)
        return 1
    return 0
