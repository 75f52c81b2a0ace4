"""Small builders for the services' OpenAPI 3.1 documents, and the view that serves one."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel

PROBLEM: dict[str, Any] = {
    "type": "object",
    "required": ["title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
}
ERROR_TEXT = {
    400: "Bad input",
    401: "Missing or unknown token",
    403: "Not allowed for this token",
    404: "Not found",
    409: "Conflict",
    413: "Body too large",
    415: "Not JSON",
    429: "Too many requests",
    503: "A dependency is unavailable; retry later",
}


def obj(required: list[str] | None = None, **properties: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


#: Where a model's nested definitions go: OpenAPI resolves "#/..." against the whole document, so a
#: schema's own "$defs" would not be found there.
COMPONENT_REF = "#/components/schemas/{model}"


def model_schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    """The model's JSON Schema (2020-12, which OpenAPI 3.1 takes as it is); the definitions it
    refers to are added to `components`, the document's components/schemas."""
    schema = model.model_json_schema(ref_template=COMPONENT_REF)
    for name, definition in schema.pop("$defs", {}).items():
        if components.setdefault(name, definition) != definition:
            raise ValueError(f"two different schemas are both called {name!r}")
    return schema


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def operation(
    summary: str,
    responses: dict[int, dict[str, Any] | None],
    *,
    body: dict[str, Any] | None = None,
    auth: bool = False,
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """`responses` maps a status to its JSON schema (None: no body); error statuses get problem+json,
    PROBLEM unless a schema of their own is given."""
    rendered: dict[str, Any] = {}
    for status, schema in responses.items():
        if status >= 400:
            rendered[str(status)] = {
                "description": ERROR_TEXT.get(status, "Error"),
                "content": {"application/problem+json": {"schema": schema or PROBLEM}},
            }
        elif schema is None:
            rendered[str(status)] = {"description": "Done"}
        else:
            rendered[str(status)] = {"description": "OK", "content": {"application/json": {"schema": schema}}}
    op: dict[str, Any] = {"summary": summary, "responses": rendered}
    if body is not None:
        op["requestBody"] = json_body(body)
    if auth:
        op["security"] = [{"bearer": []}]
    if parameters:
        op["parameters"] = parameters
    return op


def path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def query_param(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema or {"type": "string"}}


def health_paths() -> dict[str, Any]:
    return {
        "/healthz": {"get": operation("Liveness", {200: obj(["status"], status={"type": "string"})})},
        "/readyz": {
            "get": {
                "summary": "Readiness: database and Kafka answer",
                "responses": {
                    str(code): {"description": text, "content": {"application/json": {"schema": obj(["status"])}}}
                    for code, text in ((200, "Ready"), (503, "Not ready"))
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {"200": {"description": "OK", "content": {"text/plain": {}}}},
            }
        },
    }


def document(title: str, paths: dict[str, Any], schemas: dict[str, Any] | None = None) -> dict[str, Any]:
    components: dict[str, Any] = {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}
    if schemas:
        components["schemas"] = schemas
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1"},
        "paths": {**paths, **health_paths()},
        "components": components,
    }


def setup_openapi(app: web.Application, doc: dict[str, Any]) -> None:
    async def serve(request: web.Request) -> web.Response:
        return web.json_response(doc)

    app.router.add_get("/openapi.json", serve)
