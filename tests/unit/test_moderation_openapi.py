"""Every route the moderation API serves is in its OpenAPI document (the console's pages aside)."""

from __future__ import annotations

from services.moderation.api.app import create_app
from services.moderation.api.openapi import moderation_openapi
from services.moderation.resources import ResourceDirectory
from streams.settings import Settings

PAGES = {"/console", "/console/", "/console/{name}", "/openapi.json"}


def test_every_api_route_is_documented() -> None:
    app = create_app(Settings(), ResourceDirectory.load())
    served = {
        (route.resource.canonical, route.method.lower())
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None and route.resource.canonical not in PAGES
    }
    documented = {(path, method) for path, ops in moderation_openapi()["paths"].items() for method in ops}
    assert served - documented == set()
    assert documented - served == set()
