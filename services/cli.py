"""The `haven` command.

Each sub-command lives in its own module exposing `configure(parser)` and `run(args) -> int`.
Modules are imported when the parser is built, so they must stay cheap to import: anything heavy
(torch, transformers, faust) is imported inside `run`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from services.common.logs import configure_logging
from streams.settings import Settings

#: (command path, module, help)
COMMANDS: list[tuple[tuple[str, ...], str, str]] = [
    (("stack",), "tools.localstack.cli", "the local Kafka + FerretDB stack: up, down, status"),
    (("serve",), "services.runner", "run forum, moderation, notify, or all of them"),
    (("moderators",), "services.moderation.api.moderators_cli", "moderator accounts: add, list, disable"),
    (("screen",), "services.moderation.screening.cli_screen", "screen JSON lines, or --eval a labeled file"),
    (("train-screener",), "tools.training.cli", "train the screener's head"),
    (
        ("judge-candidate",),
        "tools.training.judge_cli",
        "a candidate training run against a baseline, at both runs' fold thresholds",
    ),
    (("screener",), "services.moderation.screening.cli_shadow", "shadow a candidate screener; report disagreements"),
    (("bench", "screen"), "tools.benchmarks.screening", "screener throughput vs the raw model"),
    (("status",), "tools.status", "the stack, each service's readiness, and the screening backlog"),
    (("config",), "services.config_cli", "the effective configuration, secrets masked"),
    (("dlq",), "services.dlq_cli", "dead letters: list them, or replay them to their topic"),
    (("bench", "faults"), "tools.benchmarks.faults", "inject faults and count what was lost or duplicated"),
    (("bench", "pipeline"), "tools.benchmarks.pipeline", "forum -> Kafka -> worker -> forum latency"),
    (
        ("bench", "scale"),
        "tools.benchmarks.scale",
        "thread, board, inbox and queue pages and submit->visible as the forum grows",
    ),
    (("bench", "reads"), "tools.benchmarks.reads", "thread and board page reads"),
    (("migrate",), "services.migrate", "bring existing data up to this version (idempotent)"),
    (("seed",), "tools.seed", "add N published posts (threads, members, inbox, queue history) for benchmarks"),
    (("bench", "redaction"), "tools.benchmarks.redaction", "worst-case redaction time on hostile 1-64 KiB bodies"),
    (("bench", "moderation"), "tools.benchmarks.moderation", "moderator actions as the review history grows"),
]


def _load(module_name: str):  # type: ignore[no-untyped-def]  # returns a command module (ModuleType without its attributes typed)
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # A command whose module is not there is left out (the runtime image has no tools/);
        # any other missing import is a bug.
        if exc.name and module_name.startswith(exc.name):
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="haven", description="Haven: anonymous peer-support forums")
    parser.add_argument("--log-level", default=None, help="overrides HAVEN_LOG_LEVEL")
    top = parser.add_subparsers(dest="command", required=True)
    groups: dict[str, argparse._SubParsersAction] = {}  # type: ignore[type-arg]  # argparse's private subparsers type is generic only in typeshed
    for path, module_name, help_text in COMMANDS:
        module = _load(module_name)
        if module is None:
            continue
        subparsers = top
        for part in path[:-1]:
            if part not in groups:
                group_parser = top.add_parser(part, help=f"{part} commands")
                groups[part] = group_parser.add_subparsers(dest=f"{part}_command", required=True)
            subparsers = groups[part]
        command_parser = subparsers.add_parser(path[-1], help=help_text, description=help_text)
        module.configure(command_parser)
        command_parser.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # Read once, here; every command receives it as args.settings.
        args.settings = Settings.from_env()
    except ValueError as exc:
        print(f"haven: {exc}", file=sys.stderr)
        return 2
    configure_logging(
        args.log_level or args.settings.log_level, args.settings.log_format, args.settings.library_log_level
    )
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
