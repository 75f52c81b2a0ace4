"""JSON (de)serialization of events, with one error type for anything undecodable."""

from __future__ import annotations

from typing import TypeVar

from pydantic import ValidationError

from streams.events import SCHEMA_VERSION, Event

E = TypeVar("E", bound=Event)


class UndecodableEvent(ValueError):
    """The bytes are not a valid event of the expected type: never retry, dead-letter them."""


def encode(event: Event) -> bytes:
    return event.model_dump_json().encode("utf-8")


def decode(model: type[E], raw: bytes | None) -> E:
    if raw is None:
        raise UndecodableEvent("empty value")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UndecodableEvent(f"not UTF-8 at byte {exc.start}") from exc
    try:
        event = model.model_validate_json(text)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in err["loc"]) or "value" for err in exc.errors()[:5])
        raise UndecodableEvent(f"not a valid {model.__name__} ({fields})") from exc
    if event.schema_version > SCHEMA_VERSION:
        raise UndecodableEvent(f"schema_version {event.schema_version} is newer than {SCHEMA_VERSION}")
    return event
