"""Who is asking, on the moderators' API: a Bearer token, or the console's session cookie."""

from __future__ import annotations

from aiohttp import web

from services.common.identities import Identity, require_identity
from services.common.problems import Problem
from services.moderation.api.console_sessions import COOKIE_NAME
from services.moderation.api.keys import console_sessions_key, identities_key

#: The console sends this header on every change. A page on another site cannot add a custom
#: header to a cross-site request without CORS (which this service never grants), so together
#: with SameSite=Strict it closes the door on cross-site request forgery.
CONSOLE_HEADER = "X-Haven-Console"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def require_moderator(request: web.Request) -> Identity:
    if "Authorization" in request.headers or COOKIE_NAME not in request.cookies:
        return await require_identity(request, request.app[identities_key], kinds={"moderator"})
    if request.method not in SAFE_METHODS and request.headers.get(CONSOLE_HEADER) != "1":
        raise Problem(403, f"Changes made with the console's session need the '{CONSOLE_HEADER}: 1' header.")
    identity = await request.app[console_sessions_key].identity(request.cookies[COOKIE_NAME])
    if identity is None:
        raise Problem(401, "Your console session has ended (or your account was disabled). Sign in again.")
    return identity
