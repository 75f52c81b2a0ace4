"""`haven config`: every setting as the services read it from the environment, secrets masked.

A bad value fails here the way it would fail a service at start, with the variable's name.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    from streams.settings import Settings

    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"haven config: {exc}", file=sys.stderr)
        return 2
    values = {f.name: _shown(getattr(settings, f.name)) for f in dataclasses.fields(settings)}
    if args.json:
        print(json.dumps(values))
    else:
        for name, value in values.items():
            print(f"{name:<28} {value}")
    return 0


def _shown(value: object) -> object:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, tuple):
        return [str(v) for v in value]
    return str(value)  # Secret prints as a mask
