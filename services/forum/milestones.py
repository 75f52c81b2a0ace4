"""Sobriety counts and the milestone a person has reached."""

from __future__ import annotations

from datetime import date

#: (first day it is reached, label), in increasing order; yearly milestones follow.
_EARLY_MILESTONES: tuple[tuple[int, str], ...] = (
    (1, "24 hours"),
    (7, "1 week"),
    (30, "30 days"),
    (60, "60 days"),
    (90, "90 days"),
    (182, "6 months"),
)


def days_sober(sober_since: date, today: date) -> int:
    """Whole days since `sober_since` (0 on that day). Raises ValueError for a date in the future."""
    if sober_since > today:
        raise ValueError("sober_since is in the future")  # the date itself is health data: never in a log
    return (today - sober_since).days


def milestone(days: int) -> str | None:
    """The latest milestone reached after `days` sober days, or None before day 1.

    Years count 365.25 days each, rounded down (year 1 at day 365, year 4 at day 1461), so an
    anniversary is never more than a day off whatever leap days lie in between.
    """
    if days < 0:
        raise ValueError(f"days must not be negative, got {days}")
    years = (4 * days + 3) // 1461
    if years >= 1:
        return "1 year" if years == 1 else f"{years} years"
    reached = [label for first_day, label in _EARLY_MILESTONES if days >= first_day]
    return reached[-1] if reached else None
