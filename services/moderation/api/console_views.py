"""The moderator console: static pages at /console/ and the session exchange behind them."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

from aiohttp import web

from services.common.identities import identity_for_token
from services.common.problems import Problem, body_deadline, read_json_object
from services.common.proxies import is_trusted_proxy
from services.moderation.api.auth import require_moderator
from services.moderation.api.console_sessions import COOKIE_NAME
from services.moderation.api.keys import console_sessions_key, identities_key, settings_key

CONSOLE_DIR = Path(__file__).parent / "console"
PAGES = {
    "": ("index.html", "text/html"),
    "console.js": ("console.js", "text/javascript"),
    "console.css": ("console.css", "text/css"),
}
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
    return (
        is_trusted_proxy(request.remote, trusted_proxies)
        and request.headers.get("X-Forwarded-Proto", "").lower() == "https"
    )


def _session_view(identity_id: str, name: str, role: str) -> dict[str, str]:
    return {"id": identity_id, "name": name, "role": role}


FORM = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 1024


async def _form_token(request: web.Request) -> object:
    """The token of the sign-in form as the browser posts it when script is off."""
    # A form post can come from another site (a JSON one needs CORS): refuse what the browser
    # says is cross-site, so nobody can sign a moderator into someone else's account.
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        raise Problem(403, "Sign in from the console page itself.")
    if request.content_length is not None and request.content_length > MAX_FORM_BYTES:
        raise Problem(413, "The sign-in form is larger than expected.")
    raw = b""
    async with body_deadline(request):
        while len(raw) <= MAX_FORM_BYTES:  # a chunked body has no length to check up front
            try:
                chunk = await request.content.read(MAX_FORM_BYTES + 1 - len(raw))
            except web.RequestPayloadError as exc:
                raise Problem(400, "The sign-in form could not be read.") from exc
            if not chunk:
                break
            raw += chunk
    if len(raw) > MAX_FORM_BYTES:
        raise Problem(413, "The sign-in form is larger than expected.")
    try:
        fields = parse_qs(raw.decode("ascii"), max_num_fields=4, errors="strict")
    except ValueError as exc:  # not ASCII, a bad %-escape that is not UTF-8, or too many fields
        raise Problem(400, "The sign-in form could not be read.") from exc
    values = fields.get("token", [])
    return values[0] if len(values) == 1 else None


async def sign_in(request: web.Request) -> web.Response:
    from_form = request.content_type == FORM
    token = await _form_token(request) if from_form else (await read_json_object(request)).get("token")
    if not isinstance(token, str) or not token.strip() or len(token) > 200:
        raise Problem(400, "'token' must be your moderator token.")
    token = token.strip()
    # The token comes in the body, never in a URL; the same answers as a Bearer token (401, 403).
    moderator = await identity_for_token(request.app[identities_key], token, kinds={"moderator"})
    sessions = request.app[console_sessions_key]
    session_id = await sessions.open(moderator, token)
    if from_form:
        # Post/redirect/get: the page loads again, now signed in, and the token went in no URL.
        response = web.Response(status=303, headers={"Location": "/console/"})
    else:
        response = web.json_response(_session_view(moderator.id, moderator.name, moderator.role))
    response.set_cookie(
        COOKIE_NAME,
        session_id,
        max_age=int(sessions.lifetime.total_seconds()),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=served_over_https(request, request.app[settings_key].trusted_proxies),
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
