"""The forum's JSON request bodies as pydantic models: the one statement of each body's fields and limits.

services/forum/openapi.py documents every request body from these models (`model_json_schema()`).
The handlers keep their own checks, whose messages members read and tests assert, but take every
limit from here (`length_limits`), so the document and the code cannot disagree. Texts are counted
in code points, titles and bodies after NFC normalization and trimming (services/forum/validation.py).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from annotated_types import MaxLen, MinLen
from pydantic import BaseModel, ConfigDict, Field

from streams.events import ReactionKind, ReportReason

#: ISO 3166-1 alpha-2, in either case: the handlers check "two ASCII letters".
COUNTRY_PATTERN = "^[A-Za-z]{2}$"
_COUNTRY_TEXT = "ISO 3166-1 alpha-2 code such as GB or US (either case; stored in capitals)"
_LANGUAGE_TEXT = "A language tag such as en or es: letters and hyphens"

PostBody = Annotated[str, Field(min_length=1, max_length=20_000, description="The post's text")]


class _Body(BaseModel):
    """Fields no model names are ignored, as the handlers ignore them."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class NewIdentityRequest(_Body):
    """A new anonymous identity (POST /v1/identities); an empty body, or none, is fine."""

    country: str | None = Field(None, min_length=2, max_length=2, pattern=COUNTRY_PATTERN, description=_COUNTRY_TEXT)
    language: str | None = Field(None, min_length=2, max_length=8, description=_LANGUAGE_TEXT)


def _absent_means_unchanged(schema: dict[str, Any]) -> None:
    for field in schema.get("properties", {}).values():
        field.pop("default", None)


class ProfileChangeRequest(_Body):
    """Changes to my profile (PATCH /v1/me): only the fields sent change; no other field may be sent."""

    # The defaults are how pydantic says "may be absent"; they are no values of their own, so the
    # document leaves them out.
    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=_absent_means_unchanged)

    country: str | None = Field(None, min_length=2, max_length=2, pattern=COUNTRY_PATTERN, description=_COUNTRY_TEXT)
    language: str | None = Field(None, min_length=2, max_length=8, description=_LANGUAGE_TEXT)
    sober_since: date | None = Field(None, description="YYYY-MM-DD, not in the future; null clears it")
    show_milestone: bool = Field(True, description="Show my milestone next to my posts")


class NewThreadRequest(_Body):
    """A new thread and its first post (POST /v1/boards/{slug}/threads)."""

    title: str = Field(min_length=3, max_length=200, description="One line; runs of whitespace become one space")
    body: PostBody


class ReplyRequest(_Body):
    """A reply (POST /v1/threads/{thread_id}/posts)."""

    body: PostBody
    reply_to: str | None = Field(None, description="The id of a published post of the same thread, to quote")


class EditRequest(_Body):
    """An edit of my post (PATCH /v1/posts/{post_id}); screened again before it shows."""

    body: PostBody


class ReactionRequest(_Body):
    """A reaction to a post (POST /v1/posts/{post_id}/reactions)."""

    kind: ReactionKind


class ReportRequest(_Body):
    """A report of a post to the moderators (POST /v1/posts/{post_id}/reports)."""

    reason: ReportReason
    note: str = Field("", max_length=1000, description="For the moderators only")


def length_limits(model: type[BaseModel], field: str) -> tuple[int, int]:
    """The (min_length, max_length) the model gives a text field; a field without a minimum has 0."""
    metadata = model.model_fields[field].metadata
    lower = next((m.min_length for m in metadata if isinstance(m, MinLen)), 0)
    upper = next(m.max_length for m in metadata if isinstance(m, MaxLen))
    return lower, upper
