"""GET /v1/resources: the public crisis resource directory."""

from __future__ import annotations

from aiohttp import web

from services.common.problems import Problem
from services.moderation.api.keys import directory_key
from streams.events import CATEGORIES


async def list_resources(request: web.Request) -> web.Response:
    country = request.query.get("country")
    category = request.query.get("category")
    if country is not None and (len(country) != 2 or not country.isascii() or not country.isalpha()):
        raise Problem(400, "'country' must be an ISO 3166-1 alpha-2 code such as GB or US.")
    if category is not None and category not in CATEGORIES:
        raise Problem(400, f"'category' must be one of: {', '.join(CATEGORIES)}.")
    items = request.app[directory_key].query(country.upper() if country else None, category)
    return web.json_response({"items": [item.model_dump() for item in items]})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/v1/resources", list_resources)
