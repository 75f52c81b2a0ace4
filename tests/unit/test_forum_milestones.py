"""Sobriety days and milestones."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.forum.milestones import days_sober, milestone


def test_days_sober_counts_whole_days() -> None:
    assert days_sober(date(2024, 1, 1), date(2024, 1, 1)) == 0
    assert days_sober(date(2024, 1, 1), date(2024, 1, 31)) == 30
    assert days_sober(date(2023, 3, 1), date(2024, 3, 1)) == 366  # across 29 Feb 2024


def test_a_future_sober_date_is_invalid() -> None:
    with pytest.raises(ValueError, match="future"):
        days_sober(date(2024, 1, 2), date(2024, 1, 1))


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (0, None),
        (1, "24 hours"),
        (6, "24 hours"),
        (7, "1 week"),
        (29, "1 week"),
        (30, "30 days"),
        (59, "30 days"),
        (60, "60 days"),
        (89, "60 days"),
        (90, "90 days"),
        (181, "90 days"),
        (182, "6 months"),
        (364, "6 months"),
        (365, "1 year"),
        (729, "1 year"),
        (730, "2 years"),
        (1460, "3 years"),
        (1461, "4 years"),
        (3652, "10 years"),
    ],
)
def test_the_latest_milestone_reached(days: int, expected: str | None) -> None:
    assert milestone(days) == expected


@pytest.mark.parametrize("sober_since", [date(2019, 3, 1), date(2020, 2, 29), date(2021, 7, 15), date(2023, 1, 1)])
def test_yearly_milestones_land_within_a_day_of_the_calendar_anniversary(sober_since: date) -> None:
    for years in range(1, 8):
        try:
            anniversary = sober_since.replace(year=sober_since.year + years)
        except ValueError:  # 29 February in a common year
            anniversary = date(sober_since.year + years, 3, 1)
        reached = next(
            day
            for day in range(365 * years - 2, 366 * years + 2)
            if milestone(day) == ("1 year" if years == 1 else f"{years} years")
        )
        assert abs((sober_since + timedelta(days=reached) - anniversary).days) <= 1


def test_negative_days_are_invalid() -> None:
    with pytest.raises(ValueError):
        milestone(-1)
