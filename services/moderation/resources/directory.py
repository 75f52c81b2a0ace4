"""The crisis resource directory, and how it routes a person to one or two right services.

The data (`directory.json`) holds only the hotline notes' entries rated high or medium, each with
its source. Within a country and category, entries are in the order a person should see them.

Routing rules, from the notes:
- imminent danger goes to the country's emergency number first;
- poison lines give advice and do not dispatch help, so overdose lines are followed by the
  emergency number;
- a category with no service of its own in a country falls back to the emergency number
  (overdose, medical) or to the country's suicide/crisis line (everything else);
- an unknown or missing country gets the international fallback: vetted directories that find
  the local line, and at imminent risk first a reminder to call the local emergency number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from services.moderation.resources.entries import FALLBACK, DirectoryEntry, DirectoryError, load_entries
from streams.events import CATEGORIES, Category, Resource, Risk

#: A person in distress should see one or two right services first, not a wall of numbers.
MAX_FOR_AUTHOR = 3
#: Categories whose missing line is replaced by the emergency number rather than the crisis line.
_EMERGENCY_SUBSTITUTES = ("overdose", "medical")
#: Digit groups as the notes write numbers: "116 123", "1-800-662-4357", "(02) 8524-1078".
# A number run into letters is a vanity spelling or an address ("1-844-POISON-X", "3114.fr"): skipped.
_NUMBER = re.compile(r"(?<![\w.\-])(?>(?:\(\d+\)|\d+)(?:[ .\-](?:\(\d+\)|\d+))*)(?![.\-]?[^\W\d_])")


class ResourceDirectory:
    """Read-only lookups over the directory. Pure and thread-safe once built."""

    def __init__(self, entries: Iterable[DirectoryEntry]) -> None:
        self._by_country: dict[str, list[DirectoryEntry]] = {}
        for entry in entries:
            self._by_country.setdefault(entry.country, []).append(entry)
        self._check()

    @classmethod
    def load(cls, path: Path | None = None) -> ResourceDirectory:
        """The packaged directory (or the file at `path`). Raises DirectoryError when unusable."""
        return cls(load_entries(path))

    def countries(self) -> set[str]:
        """Countries with services of their own (not the international fallback)."""
        return {code for code in self._by_country if code != FALLBACK}

    def entries(self) -> list[DirectoryEntry]:
        return [entry for entries in self._by_country.values() for entry in entries]

    def contact_numbers(self) -> frozenset[str]:
        """Every number in the directory as written ("116 123"), to tell hotlines from personal numbers."""
        return frozenset(
            match.group()
            for entry in self.entries()
            for match in _NUMBER.finditer(entry.contact)
            if sum(char.isdigit() for char in match.group()) >= 3
        )

    def query(self, country: str | None, category: str | None) -> list[Resource]:
        """Resources of a country (the international fallback when missing or unknown).

        With a category: the lines the router chooses from, in routing order. Without: every entry.
        An unknown category matches nothing.
        """
        code = self._known(country) or FALLBACK
        entries = self._by_country[code]
        if category is None:
            return [entry.as_resource() for entry in entries]
        if category not in CATEGORIES:
            return []
        if code == FALLBACK:
            return [entry.as_resource(category) for entry in entries if entry.serves(category)]
        return [entry.as_resource(category) for entry in self._lines(code, category)]

    def for_author(self, country: str | None, categories: Sequence[Category], risk: Risk) -> list[Resource]:
        """The few resources to send an author, the most important first (at most MAX_FOR_AUTHOR).

        Imminent: the emergency number, then the best line of each category. High or concern: the
        best line of each category, then further lines of the first. No category: the crisis line.
        Risk "none" without categories: nothing.
        """
        if risk == "none" and not categories:
            return []
        code = self._known(country)
        if code is None:
            return self._fallback_for_author(risk)
        wanted: list[str] = list(dict.fromkeys(categories)) or ["suicide"]
        picks: list[tuple[DirectoryEntry, str]] = []
        if risk == "imminent":
            picks.append((self._emergency(code), "emergency"))
        lines_by_category = [(category, self._lines(code, category)) for category in wanted]
        picks.extend((lines[0], category) for category, lines in lines_by_category if lines)
        first_category, first_lines = lines_by_category[0]
        picks.extend((line, first_category) for line in first_lines[1:])
        return [entry.as_resource(category) for entry, category in _distinct(picks)[:MAX_FOR_AUTHOR]]

    def standing_lines(self, country: str | None) -> list[Resource]:
        """The lines to offer anyone, whatever they wrote: the country's crisis lines, then its
        emergency number (at most MAX_FOR_AUTHOR). An unknown country gets the international
        directories, then the reminder to call the local emergency number."""
        code = self._known(country)
        if code is None:
            crisis = [(entry, entry.categories[0]) for entry, _ in self._fallback_picks()]
        else:
            crisis = [(line, "suicide") for line in self._lines(code, "suicide")]
        picks = [*_distinct(crisis)[: MAX_FOR_AUTHOR - 1], (self._emergency(code or FALLBACK), "emergency")]
        return [entry.as_resource(category) for entry, category in _distinct(picks)]

    def _fallback_picks(self) -> list[tuple[DirectoryEntry, str]]:
        """The international directories that find a local crisis line."""
        return [
            (entry, entry.categories[0])
            for entry in self._by_country[FALLBACK]
            if "emergency" not in entry.categories and ("any" in entry.categories or "suicide" in entry.categories)
        ]

    def _fallback_for_author(self, risk: Risk) -> list[Resource]:
        picks: list[tuple[DirectoryEntry, str]] = []
        if risk == "imminent":
            picks.append((self._emergency(FALLBACK), "emergency"))
        picks.extend(self._fallback_picks())
        return [entry.as_resource(category) for entry, category in _distinct(picks)[:MAX_FOR_AUTHOR]]

    def _known(self, country: str | None) -> str | None:
        code = (country or "").strip().upper()
        return code if code in self._by_country and code != FALLBACK else None

    def _emergency(self, code: str) -> DirectoryEntry:
        return next(entry for entry in self._by_country[code] if "emergency" in entry.categories)

    def _lines(self, code: str, category: str) -> list[DirectoryEntry]:
        entries = self._by_country[code]
        direct = [entry for entry in entries if category in entry.categories]
        if category == "overdose":
            # Poison lines advise; only the emergency number sends help.
            direct.append(self._emergency(code))
        if direct:
            return _distinct_entries(direct)
        if category in _EMERGENCY_SUBSTITUTES:
            return [self._emergency(code)]
        return [entry for entry in entries if "suicide" in entry.categories]

    def _check(self) -> None:
        if FALLBACK not in self._by_country:
            raise DirectoryError(f"resource directory has no {FALLBACK} fallback entries")
        for code, entries in self._by_country.items():
            if not any("emergency" in entry.categories for entry in entries):
                raise DirectoryError(f"resource directory: {code} has no emergency entry")
            if code != FALLBACK and not any("suicide" in entry.categories for entry in entries):
                raise DirectoryError(f"resource directory: {code} has no suicide/crisis line")


def _distinct(picks: Sequence[tuple[DirectoryEntry, str]]) -> list[tuple[DirectoryEntry, str]]:
    """Each service once (by name or contact): a second entry of the same service adds only noise."""
    seen: set[str] = set()
    result = []
    for entry, category in picks:
        if entry.name in seen or entry.contact in seen:
            continue
        seen.update((entry.name, entry.contact))
        result.append((entry, category))
    return result


def _distinct_entries(entries: Sequence[DirectoryEntry]) -> list[DirectoryEntry]:
    return list(dict.fromkeys(entries))
