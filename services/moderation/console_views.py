"""The moderator console: static pages at /console/ and the session exchange behind them."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from services.common.identities import identity_for_token
from services.common.problems import Problem, read_json_object
from services.common.proxies import is_trusted_proxy
from services.moderation.auth import require_moderator
from services.moderation.console_sessions import COOKIE_NAME
from services.moderation.keys import console_sessions_key, identities_key, settings_key

CONSOLE_DIR = Path(__file__).parent / "console"
PAGES = {"": ("index.html", "text/html"), "console.js": ("console.js", "text/javascript"),
         "console.css": ("console.css", "text/css")}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _load_pages() -> dict[str, tuple[bytes, str]]:
    return {path: ((CONSOLE_DIR / name).read_bytes(), kind) for path, (name, kind) in PAGES.items()}


def served_over_https(request: web.Request, trusted_proxies: tuple[str, ...]) -> bool:
    """True on TLS, including TLS ended by a proxy we trust (then the cookie is marked Secure)."""
    if request.secure:
        return True
    return is_trusted_proxy(request.remote, trusted_proxies) and request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def _session_view(identity_id: str, name: str, role: str) -> dict[str, str]:
    return {"id": identity_id, "name": name, "role": role}


async def sign_in(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    token = body.get("token")
    if not isinstance(token, str) or not token.strip() or len(token) > 200:
        raise Problem(400, "'token' must be your moderator token.")
    token = token.strip()
    # The token comes in the body, never in a URL; the same answers as a Bearer token (401, 403).
    moderator = await identity_for_token(request.app[identities_key], token, kinds={"moderator"})
    sessions = request.app[console_sessions_key]
    session_id = await sessions.open(moderator, token)
    response = web.json_response(_session_view(moderator.id, moderator.name, moderator.role))
    response.set_cookie(
        COOKIE_NAME, session_id, max_age=int(sessions.lifetime.total_seconds()), path="/",
        httponly=True, samesite="Strict", secure=served_over_https(request, request.app[settings_key].trusted_proxies),
    )
    return response


async def whoami(request: web.Request) -> web.Response:
    moderator = await require_moderator(request)
    return web.json_response(_session_view(moderator.id, moderator.name, moderator.role))


async def sign_out(request: web.Request) -> web.Response:
    session_id = request.cookies.get(COOKIE_NAME)
    if session_id:
        await request.app[console_sessions_key].close(session_id)
    response = web.Response(status=204)
    response.del_cookie(COOKIE_NAME, path="/")
    return response


def setup_routes(app: web.Application) -> None:
    pages = _load_pages()

    async def page(request: web.Request) -> web.Response:
        found = pages.get(request.match_info.get("name", ""))
        if found is None:
            raise Problem(404, "There is no such console page.")
        content, content_type = found
        return web.Response(body=content, content_type=content_type, charset="utf-8", headers=SECURITY_HEADERS)

    async def to_console(request: web.Request) -> web.Response:
        raise web.HTTPPermanentRedirect("/console/")

    app.router.add_get("/console", to_console)
    app.router.add_get("/console/", page)
    app.router.add_get("/console/{name:console\\.(?:js|css)}", page)
    app.router.add_post("/console/session", sign_in)
    app.router.add_get("/console/session", whoami)
    app.router.add_delete("/console/session", sign_out)
