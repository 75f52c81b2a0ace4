"""`haven screen --cssrs FILE`: the screener on clinician-labelled Reddit users.

The set of Gaur et al. (2019, "Knowledge-aware Assessment of Severity of Suicide Risk for Early
Intervention") labels 500 Reddit users, not posts, on five levels of the Columbia Suicide Severity
Rating Scale: Supportive, Indicator, Ideation, Behavior, Attempt. Its CSV has the columns User,
Post (a Python list literal of the user's posts) and Label. A user counts as **flagged** when the
screener holds at least one of their posts (`hold` or `hold_urgent`), the moment a moderator
would meet them. Issue 9's figures: the share of Ideation, Behavior and Attempt users flagged, and
the share of Supportive users flagged.

The file is not in the repository and this machine cannot download it (README, "Crisis
screening"); the command reads it from wherever it was placed.
"""

from __future__ import annotations

import ast
import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

LEVELS = ("Supportive", "Indicator", "Ideation", "Behavior", "Attempt")
AT_RISK = frozenset({"Ideation", "Behavior", "Attempt"})
HOLDS = frozenset({"hold", "hold_urgent"})


class UnreadableUsers(ValueError):
    """The file is not in the set's format; the message names the row."""


@dataclass(frozen=True)
class LabelledUser:
    user: str
    label: str
    posts: tuple[str, ...]


def read_users(path: Path) -> list[LabelledUser]:
    csv.field_size_limit(16 * 1024 * 1024)
    users = []
    with path.open(encoding="utf-8", newline="") as source:
        reader = csv.DictReader(source)
        missing = {"User", "Post", "Label"} - set(reader.fieldnames or ())
        if missing:
            raise UnreadableUsers(f"{path}: no column {', '.join(sorted(missing))}")
        for row in reader:
            # A Post cell spans lines, so the record is named by the line it ends on.
            number = reader.line_num
            label = (row["Label"] or "").strip()
            if label not in LEVELS:
                raise UnreadableUsers(f"{path}, record ending on line {number}: unknown label {label!r}")
            users.append(LabelledUser(row["User"], label, _posts(row["Post"] or "", path, number)))
    return users


def _posts(cell: str, path: Path, number: int) -> tuple[str, ...]:
    # literal_eval reads literals only (no names, no calls), so a crafted cell cannot run code.
    try:
        posts = ast.literal_eval(cell)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise UnreadableUsers(
            f"{path}, record ending on line {number}: the Post cell is not a list of strings"
        ) from exc
    if not isinstance(posts, list) or not all(isinstance(p, str) for p in posts):
        raise UnreadableUsers(f"{path}, record ending on line {number}: the Post cell is not a list of strings")
    return tuple(p for p in posts if p.strip())


@dataclass(frozen=True)
class LevelCount:
    users: int
    flagged: int

    @property
    def rate(self) -> float:
        return self.flagged / self.users if self.users else float("nan")


def flagged_by_level(
    users: Sequence[LabelledUser], actions_of: Callable[[list[str]], list[str]]
) -> dict[str, LevelCount]:
    """Users and flagged users per label. `actions_of` screens a list of texts and returns their actions."""
    texts = [text for user in users for text in user.posts]
    actions = iter(actions_of(texts))
    counts = {level: [0, 0] for level in LEVELS}
    for user in users:
        held = [next(actions) in HOLDS for _ in user.posts]
        counts[user.label][0] += 1
        counts[user.label][1] += any(held)
    return {level: LevelCount(*pair) for level, pair in counts.items()}


def summary(counts: dict[str, LevelCount]) -> dict[str, float | int]:
    at_risk = [counts[level] for level in LEVELS if level in AT_RISK]
    users = sum(c.users for c in at_risk)
    flagged = sum(c.flagged for c in at_risk)
    return {
        "at_risk_users": users,
        "at_risk_flagged": round(flagged / users, 4) if users else float("nan"),
        "supportive_users": counts["Supportive"].users,
        "supportive_flagged": round(counts["Supportive"].rate, 4),
    }


def format_report(counts: dict[str, LevelCount], model_version: str, path: Path) -> str:
    lines = [
        f"haven screen --cssrs {path} (model {model_version}): a user is flagged when any of their posts is held",
        f"{'label':<12}{'users':>7}{'flagged':>9}{'rate':>8}",
    ]
    lines += [f"{level:<12}{c.users:>7}{c.flagged:>9}{c.rate:>8.3f}" for level, c in counts.items()]
    figures = summary(counts)
    lines.append(
        f"Ideation + Behavior + Attempt flagged {figures['at_risk_flagged']:.3f} (target >= 0.90); "
        f"Supportive flagged {figures['supportive_flagged']:.3f} (target <= 0.60)"
    )
    return "\n".join(lines) + "\n"
