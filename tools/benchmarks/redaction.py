"""`haven bench redaction`: worst-case redaction time on hostile bodies of 1, 8 and 64 KiB.

Each input repeats one pattern family's own fragments ("Via " + "la " * N, "+1 " * N, ...), the
shapes that make a backtracking engine explode and a linear one do the most matches. Prints the
worst time per family and size, then one JSON line. Needs no running service.
"""

from __future__ import annotations

import argparse
import json
import time

#: family -> (head, repeated fragment): the input is head + fragment * N, cut to the size.
ADVERSARIAL_INPUTS: dict[str, list[tuple[str, str]]] = {
    "social": [
        ("http://", "a."),
        ("https://", "x.com/"),
        ("", "insta a1 "),
        ("", "snap "),
        ("insta: ", "a-"),
        ("@", "a."),
        ("", "@a "),
        ("", "my snap is a1 "),
        ("u/", "a-"),
        ("", "u/abc "),
        ("", "instagram.com/"),
    ],
    "email": [
        ("", "a."),
        ("a", "@b."),
        ("", "a@b.co "),
        ("", "jane dot "),
        ("a", " (dot) a"),
        ("", "a at "),
        ("", "a at b dot "),
        ("", "[at] a."),
        ("jane", " dot jane"),
        ("", "x at gmail."),
    ],
    "phone": [
        ("", "+1 "),
        ("", "1-"),
        ("", "1 "),
        ("", "12 "),
        ("", "(1)"),
        ("", "555\u200b"),
        ("", "2019 "),
        ("", "1.2."),
        ("", "555 123 4567 "),
    ],
    "address": [
        ("Via ", "la "),
        ("Calle ", "de "),
        ("1 ", "Main "),
        ("1 ", "the "),
        ("", "12 Oak Street "),
        ("10 rue ", "de "),
        ("", "straße "),
        ("Haupt", "straße 1 "),
        ("", "1 Main "),
    ],
    "text": [("", "a"), ("", "año 💛 "), ("", "\u200b"), ("", "ａ")],
}
SIZES_KIB = (1, 8, 64)


def hostile_text(head: str, fragment: str, size: int) -> str:
    repeats = size // max(1, len(fragment)) + 1
    return (head + fragment * repeats)[:size]


def time_redaction(text: str) -> float:
    """CPU seconds of one redaction (process time: fair on a machine shared with other work)."""
    from services.forum.redaction import redact_contact_details

    started = time.process_time()
    redact_contact_details(text, ())
    return time.process_time() - started


def worst_ms(family: str, size: int) -> float:
    return (
        max(time_redaction(hostile_text(head, fragment, size)) for head, fragment in ADVERSARIAL_INPUTS[family]) * 1000
    )


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeat", type=int, default=3, help="runs per input; the best run counts")


def run(args: argparse.Namespace) -> int:
    from services.forum.redaction import redact_contact_details

    redact_contact_details("warm up 555 123 4567", ())
    table: dict[str, dict[str, float]] = {}
    print(f"{'family':<10}" + "".join(f"{f'{size} KiB ms':>12}" for size in SIZES_KIB))
    for family in ADVERSARIAL_INPUTS:
        row = {
            f"{size}KiB": min(worst_ms(family, size * 1024) for _ in range(max(1, args.repeat))) for size in SIZES_KIB
        }
        table[family] = row
        print(f"{family:<10}" + "".join(f"{value:>12.1f}" for value in row.values()))
    worst_64 = max(row["64KiB"] for row in table.values())
    print(json.dumps({"bench": "redaction", "worst_ms": table, "worst_64KiB_ms": round(worst_64, 1)}))
    return 0
