"""Crisis lines in the answer when the forum cannot take a member's post, or a newcomer, right now.

A post is how a member reaches the screener, and the screener is what sends them their
country's hotlines before anything is published. When a post or a joining must wait (the forum's
database or Kafka out of reach, the server too busy, a limit reached), that way is closed for a
while, so the refusal carries the lines itself: the member's country's when their identity could
be read, else the country this forum last read for their token (the database may be the very
thing that is away), the country a newcomer gave, else the international directories. Nothing here
needs the database or Kafka; nothing is said about what the post says, which no one has read.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from aiohttp import web

from services.common.problems import Problem, failure_problem
from services.common.tokens import bearer_token, hash_token
from services.forum.auth import member_key
from services.forum.keys import store_key
from streams.events import Resource

log = logging.getLogger(__name__)

#: The name of the problem+json member that holds the lines.
CRISIS_LINES_FIELD = "crisis_lines"


class StandingLines(Protocol):
    """The lines to offer anyone of a country (None: unknown), whatever they wrote."""

    def __call__(self, country: str | None, /) -> Sequence[Resource]: ...


standing_lines_key = web.AppKey("standing_lines", StandingLines)
#: The country a newcomer gave when joining, for a refusal before they are anyone's member.
stated_country_key = web.RequestKey("stated_country", str)


def must_wait(status: int) -> bool:
    """Refusals that say "later", not "change what you sent": a limit and the server's own faults."""
    return status == 429 or status >= 500


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def offers_crisis_lines(handler: Handler) -> Handler:
    """Wrap the handler of a submission (or of joining, a newcomer's first step) so that every
    refusal that makes the member wait carries crisis lines."""

    @functools.wraps(handler)
    async def offering_lines(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Problem as problem:
            if not must_wait(problem.status):
                raise
            raise with_crisis_lines(request, problem) from problem
        except web.HTTPException:
            raise  # aiohttp's own answers; the problem middleware renders them
        except Exception as exc:
            raise with_crisis_lines(request, failure_problem(request, exc)) from exc

    return offering_lines


def with_crisis_lines(request: web.Request, problem: Problem) -> Problem:
    """The same problem (status, detail, Retry-After), with the lines for the member's country (as
    read now or lately, or the one a newcomer gave)."""
    try:
        lines = request.app[standing_lines_key](_country_of(request))
        body: dict[str, Any] = {CRISIS_LINES_FIELD: [line.model_dump() for line in lines]}
    except Exception:
        # The refusal itself must still reach the member, with its status and Retry-After.
        log.exception("crisis lines could not be added to a %d answer", problem.status)
        return problem
    headers = {name: value for name, value in problem.headers.items() if name.lower() == "retry-after"}
    return Problem(problem.status, problem.detail, headers=headers or None, **body)


def _country_of(request: web.Request) -> str | None:
    member = request.get(member_key)
    if member is not None:
        country: str | None = member.get("country")
        return country
    stated: str | None = request.get(stated_country_key)
    if stated is not None:
        return stated
    token = bearer_token(request.headers.get("Authorization"))
    store = request.app.get(store_key)
    if token is None or store is None:
        return None
    remembered: str | None = store.remembered_country(hash_token(token))
    return remembered
