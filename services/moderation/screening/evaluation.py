"""Screening quality: confusion matrix, recall per level and category, false holds, hold rates."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from streams.events import CATEGORIES, DANGER_LEVELS, RISK_LEVELS

HOLD_ACTIONS = frozenset({"hold", "hold_urgent"})


@dataclass(frozen=True)
class Prediction:
    risk: str
    categories: tuple[str, ...]
    action: str


@dataclass(frozen=True)
class Truth:
    risk: str
    categories: tuple[str, ...]


@dataclass(frozen=True)
class LevelMetrics:
    confusion: dict[str, Counter[str]]
    recall_by_level: dict[str, float]
    recall_high_or_imminent: float
    imminent_below_high: int
    category_recall: dict[str, tuple[int, int]]
    false_hold_rate: float
    #: Imminent posts whose action pages moderators at once (hold_urgent).
    imminent_as_urgent: float = float("nan")
    #: None and concern posts that page moderators at once.
    benign_paged_urgent: float = float("nan")
    #: Concern, high and imminent posts given at least resources.
    recall_concern_or_above: float = float("nan")


def level_metrics(truths: Sequence[Truth], predictions: Sequence[Prediction]) -> LevelMetrics:
    confusion: dict[str, Counter[str]] = {level: Counter() for level in RISK_LEVELS}
    for truth, prediction in zip(truths, predictions, strict=True):
        confusion[truth.risk][prediction.risk] += 1

    def recall(level: str) -> float:
        total = sum(confusion[level].values())
        return confusion[level][level] / total if total else float("nan")

    severe = [(t, p) for t, p in zip(truths, predictions, strict=True) if t.risk in DANGER_LEVELS]
    recalled = sum(1 for _, p in severe if p.risk in DANGER_LEVELS)
    imminent_below = sum(1 for t, p in severe if t.risk == "imminent" and p.risk not in DANGER_LEVELS)
    category_recall: dict[str, tuple[int, int]] = {}
    for category in CATEGORIES:
        relevant = [
            (t, p) for t, p in zip(truths, predictions, strict=True) if t.risk != "none" and category in t.categories
        ]
        category_recall[category] = (sum(1 for _, p in relevant if category in p.categories), len(relevant))
    mild = [(t, p) for t, p in zip(truths, predictions, strict=True) if t.risk in ("none", "concern")]
    false_holds = sum(1 for _, p in mild if p.action in HOLD_ACTIONS)
    imminent = [p for t, p in zip(truths, predictions, strict=True) if t.risk == "imminent"]
    someone = [p for t, p in zip(truths, predictions, strict=True) if t.risk != "none"]

    def share(items: list[Prediction], test) -> float:  # type: ignore[no-untyped-def]  # `test` is a numpy boolean mask (numpy arrays are untyped here)
        return sum(1 for p in items if test(p)) / len(items) if items else float("nan")

    return LevelMetrics(
        confusion=confusion,
        recall_by_level={level: recall(level) for level in RISK_LEVELS},
        recall_high_or_imminent=recalled / len(severe) if severe else float("nan"),
        imminent_below_high=imminent_below,
        category_recall=category_recall,
        false_hold_rate=false_holds / len(mild) if mild else float("nan"),
        imminent_as_urgent=share(imminent, lambda p: p.action == "hold_urgent"),
        benign_paged_urgent=share([p for _, p in mild], lambda p: p.action == "hold_urgent"),
        recall_concern_or_above=share(someone, lambda p: p.risk != "none"),
    )


class WatchedWords:
    """The fixed keyword baseline: a post matching any line is held."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self._patterns = [re.compile(p, re.IGNORECASE) for p in patterns]

    @classmethod
    def from_file(cls, path: Path) -> WatchedWords:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        return cls([line for line in lines if line and not line.startswith("#")])

    def predict(self, text: str) -> Prediction:
        if any(p.search(text) for p in self._patterns):
            return Prediction("high", (), "hold")
        return Prediction("none", (), "publish")


def format_side_by_side(title: str, columns: dict[str, LevelMetrics]) -> str:
    names = list(columns)
    lines = [title, ""]
    for name in names:
        metrics = columns[name]
        lines.append(f"  confusion matrix, {name} (rows: labeled risk, columns: screened risk)")
        lines.append("    " + "".join(f"{level:>10}" for level in ("", *RISK_LEVELS)))
        for level in RISK_LEVELS:
            lines.append("    " + f"{level:>10}" + "".join(f"{metrics.confusion[level][p]:>10}" for p in RISK_LEVELS))
        lines.append("")
    header = "  " + f"{'':<34}" + "".join(f"{n:>16}" for n in names)
    lines.append(header)

    def row(label: str, values: list[str]) -> None:
        lines.append("  " + f"{label:<34}" + "".join(f"{v:>16}" for v in values))

    for level in RISK_LEVELS:
        row(f"recall {level}", [f"{columns[n].recall_by_level[level]:.3f}" for n in names])
    row("recall high+imminent", [f"{columns[n].recall_high_or_imminent:.3f}" for n in names])
    row("imminent screened below high", [str(columns[n].imminent_below_high) for n in names])
    for category in CATEGORIES:
        values = []
        for n in names:
            hit, total = columns[n].category_recall[category]
            values.append(f"{hit}/{total} {hit / total:.2f}" if total else "-")
        row(f"category recall {category}", values)
    row("false-hold rate (none+concern)", [f"{columns[n].false_hold_rate:.3f}" for n in names])
    row("imminent held as urgent", [f"{columns[n].imminent_as_urgent:.3f}" for n in names])
    row("benign (none+concern) paged urgent", [f"{columns[n].benign_paged_urgent:.3f}" for n in names])
    row("recall concern+ (resources or more)", [f"{columns[n].recall_concern_or_above:.3f}" for n in names])
    return "\n".join(lines)


def format_breakdown(title: str, groups: dict[str, LevelMetrics], sizes: dict[str, int]) -> str:
    """One line per group (a language, a voice): the headline figures only."""
    lines = [
        title,
        f"  {'group':<18}{'posts':>6}{'recall high+':>14}{'false holds':>13}{'imm. urgent':>13}{'benign urgent':>15}",
    ]
    for name, m in groups.items():
        lines.append(
            f"  {name:<18}{sizes[name]:>6}{m.recall_high_or_imminent:>14.3f}{m.false_hold_rate:>13.3f}"
            f"{m.imminent_as_urgent:>13.3f}{m.benign_paged_urgent:>15.3f}"
        )
    return "\n".join(lines)
