"""Who is asking: the identity behind a bearer token, if any."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.common.problems import Problem
from services.common.tokens import bearer_token, hash_token, tokens_match
from services.forum.keys import store_key

#: The identity a request was made by, once its token was checked.
member_key = web.RequestKey("member", dict)


async def optional_identity(request: web.Request) -> dict[str, Any] | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    return await required_identity(request)


async def required_identity(request: web.Request) -> dict[str, Any]:
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        raise Problem(
            401,
            "Send your token as 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": 'Bearer realm="haven"'},
        )
    identity = await request.app[store_key].identity_by_token_hash(hash_token(token))
    if identity is None or not tokens_match(identity["token_hash"], token) or identity.get("disabled"):
        raise Problem(
            401,
            "This token is not valid (it may have been erased).",
            headers={"WWW-Authenticate": 'Bearer realm="haven", error="invalid_token"'},
        )
    request[member_key] = identity
    return identity
