"""GET, PATCH and DELETE /v1/me: a member's own profile, sobriety count, and erasure."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web

from services.common.problems import Problem, read_json_object
from services.forum.auth import required_identity
from services.forum.keys import publisher_key, store_key
from services.forum.milestones import days_sober, milestone
from services.forum.publisher import EventsUnavailable, ForumPublisher
from services.forum.requests import ProfileChangeRequest, length_limits
from streams.events import IdentityChanged

log = logging.getLogger(__name__)

_, _COUNTRY_LEN = length_limits(ProfileChangeRequest, "country")
_MIN_LANGUAGE, _MAX_LANGUAGE = length_limits(ProfileChangeRequest, "language")


def me_view(identity: dict[str, Any], today: date) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": identity["_id"],
        "handle": identity["handle"],
        "country": identity.get("country"),
        "language": identity.get("language"),
        "sober_since": identity.get("sober_since"),
        "show_milestone": identity.get("show_milestone", True),
        "days_sober": None,
        "milestone": None,
    }
    if identity.get("sober_since"):
        days = days_sober(date.fromisoformat(identity["sober_since"]), today)
        view["days_sober"], view["milestone"] = days, milestone(days)
    return view


def _today() -> date:
    return datetime.now(UTC).date()


async def get_me(request: web.Request) -> web.Response:
    return web.json_response(me_view(await required_identity(request), _today()))


def _changes(body: dict[str, Any]) -> dict[str, Any]:
    unknown = set(body) - set(ProfileChangeRequest.model_fields)
    if unknown:
        raise Problem(400, f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    changes: dict[str, Any] = {}
    if "country" in body:
        country = body["country"]
        if country is not None and (
            not isinstance(country, str)
            or len(country) != _COUNTRY_LEN
            or not country.isascii()
            or not country.isalpha()
        ):
            raise Problem(400, "'country' must be an ISO 3166-1 alpha-2 code such as GB or US, or null.")
        changes["country"] = country.upper() if country else None
    if "language" in body:
        language = body["language"]
        if language is not None and (
            not isinstance(language, str)
            or not _MIN_LANGUAGE <= len(language) <= _MAX_LANGUAGE
            or not language.replace("-", "").isalpha()
        ):
            raise Problem(400, "'language' must be a language tag such as 'en' or 'es', or null.")
        changes["language"] = language
    if "sober_since" in body:
        raw = body["sober_since"]
        if raw is not None:
            try:
                since = date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else None
            except ValueError:
                since = None
            if since is None:
                raise Problem(400, "'sober_since' must be a date written YYYY-MM-DD, or null.")
            if since > _today():
                raise Problem(400, "'sober_since' cannot be in the future.")
            raw = since.isoformat()
        changes["sober_since"] = raw
    if "show_milestone" in body:
        if not isinstance(body["show_milestone"], bool):
            raise Problem(400, "'show_milestone' must be true or false.")
        changes["show_milestone"] = body["show_milestone"]
    return changes


async def patch_me(request: web.Request) -> web.Response:
    identity = await required_identity(request)
    changes = _changes(await read_json_object(request))
    store = request.app[store_key]
    updated = await store.update_identity(identity["_id"], changes) if changes else identity
    if updated is None:
        raise Problem(404, "This identity no longer exists.")
    if {"country", "language"} & set(changes):
        event = IdentityChanged(
            id=updated["_id"],
            token_hash=updated["token_hash"],
            kind="user",
            role="member",
            country=updated.get("country"),
            language=updated.get("language"),
        )
        publisher = request.app[publisher_key]
        try:
            await publisher.identity_changed(event)
        except EventsUnavailable as exc:
            raise Problem(
                503, "Saved, but could not be announced; please try again.", headers={"Retry-After": "5"}
            ) from exc
        if await store.identity(updated["_id"]) is None:
            await _erased_meanwhile(publisher, updated["_id"])
    return web.json_response(me_view(updated, _today()))


async def _erased_meanwhile(publisher: ForumPublisher, identity_id: str) -> None:
    """The member erased themselves while their change was on its way to Kafka.

    The erasure's tombstone may have gone out before the change's event, which would then bring
    the identity (token hash, country, language) back to life on the compacted topic and in every
    consumer. Another tombstone after it keeps the identity erased. The erasure deletes the
    identity before sending its tombstone, so whichever order the two requests ran in, a tombstone
    follows the change.
    """
    try:
        await publisher.identity_gone(identity_id)
    except EventsUnavailable as exc:
        log.warning("a profile change raced an erasure, and the tombstone after it could not be sent (%s)", exc)
    raise Problem(404, "This identity no longer exists.")


async def delete_me(request: web.Request) -> web.Response:
    identity = await required_identity(request)
    erase_posts = request.query.get("erase_posts", "false").lower() in ("1", "true", "yes")
    event = IdentityChanged(
        id=identity["_id"], token_hash=identity["token_hash"], kind="user", role="member", disabled=True, erased=True
    )
    try:
        # Announce first: if Kafka cannot take it, nothing is erased and the member may retry.
        await request.app[publisher_key].identity_changed(event)
    except EventsUnavailable as exc:
        raise Problem(
            503, "Could not erase right now; nothing was changed. Please try again.", headers={"Retry-After": "5"}
        ) from exc
    await request.app[store_key].erase_identity(identity["_id"], erase_posts=erase_posts)
    try:
        # After the erased record (same key, so same partition and order): a consumer that reads
        # only the tombstone, once compaction has dropped the record, erases just the same.
        await request.app[publisher_key].identity_gone(identity["_id"])
    except EventsUnavailable as exc:
        # The erasure is done and announced; the record left on the topic holds an id and a token
        # hash, no handle and no words. Nothing the member could retry: their token is gone.
        log.warning("erasure done, but its tombstone could not be sent (%s)", exc)
    return web.Response(status=204)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/v1/me", get_me)
    app.router.add_patch("/v1/me", patch_me)
    app.router.add_delete("/v1/me", delete_me)
