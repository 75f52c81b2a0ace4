"""One row of the resource directory as stored in `directory.json`, and loading that file."""

from __future__ import annotations

import json
from importlib import resources as package_resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from streams.events import Category, Resource

#: Country code of the international fallback, used when a person's country is unknown.
FALLBACK = "INTL"

#: What an entry may serve: a verdict category, the country's emergency number, or anything.
Serves = Category | Literal["emergency", "any"]
ContactMethod = Literal["call", "text", "chat", "web", "email", "whatsapp"]

DATA_FILE = "directory.json"


class DirectoryError(ValueError):
    """The directory data is missing or malformed. The service must not start without it."""


class DirectoryEntry(BaseModel):
    """One service of one country. A service reachable with different confidence is split into entries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    country: str
    #: The first category is the service's main purpose; the others are what it also serves.
    categories: tuple[Serves, ...] = Field(min_length=1)
    name: str = Field(min_length=1)
    how: tuple[ContactMethod, ...] = Field(min_length=1)
    contact: str = Field(min_length=1)
    hours: str
    source: str = Field(min_length=1)
    confidence: Literal["high", "medium"]
    note: str = ""

    @field_validator("country")
    @classmethod
    def _country_code(cls, value: str) -> str:
        if value != FALLBACK and not (len(value) == 2 and value.isascii() and value.isalpha() and value.isupper()):
            raise ValueError(f"country must be an upper-case ISO 3166-1 alpha-2 code or {FALLBACK}, not {value!r}")
        return value

    def serves(self, category: str) -> bool:
        return category in self.categories or "any" in self.categories

    def as_resource(self, category: str | None = None) -> Resource:
        """This entry as the event model, labelled with the category it was chosen for.

        An emergency number is always labelled "emergency", whatever it was chosen for.
        """
        shown: Serves
        if "emergency" in self.categories:
            shown = "emergency"
        else:
            # The entry's own (typed) category equal to the one asked for, else its main one.
            shown = next((served for served in self.categories if served == category), self.categories[0])
        return Resource(
            name=self.name,
            category=shown,
            how=list(self.how),
            contact=self.contact,
            hours=self.hours,
            source=self.source,
            country=self.country,
            confidence=self.confidence,
            note=self.note,
        )


def load_entries(path: Path | None = None) -> list[DirectoryEntry]:
    """Read the packaged data file (or `path`). Raises DirectoryError when it is unusable."""
    try:
        if path is None:
            text = package_resources.files(__package__).joinpath(DATA_FILE).read_text(encoding="utf-8")
        else:
            text = path.read_text(encoding="utf-8")
        raw = json.loads(text)
        return [DirectoryEntry.model_validate(item) for item in raw["entries"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # ValidationError and JSONDecodeError are ValueErrors; a clear startup failure beats a half directory.
        detail = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise DirectoryError(f"resource directory unusable: {type(exc).__name__}: {detail}") from exc
