"""`haven config`: every setting as the services read it from the environment, secrets masked.

A bad value fails here the way it would fail a service at start, with the variable's name.
"""

from __future__ import annotations

import argparse
import json

from streams.settings import env_name


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    values = args.settings.shown()
    if args.json:
        print(json.dumps(values))
    else:
        for name, value in values.items():
            print(f"{name:<28} {env_name(name):<36} {json.dumps(value) if isinstance(value, dict) else value}")
    return 0
