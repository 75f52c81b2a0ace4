"""The moderation API's OpenAPI 3.1 document."""

from __future__ import annotations

from typing import Any

from services.common.openapi import document, obj, operation, path_param, query_param
from services.moderation.api.queue_listing import DEFAULT_LIMIT, MAX_LIMIT
from streams.events import DECISIONS

_ITEM = [path_param("item_id")]
_ERRORS = {400: None, 401: None, 403: None, 404: None, 409: None, 413: None, 415: None}
_LISTED_ITEM = obj(
    ["item_id", "post_id", "level", "status", "reasons", "reports", "created_at"],
    item_id={"type": "string"},
    post_id={"type": "string"},
    thread_id={"type": "string"},
    level={"enum": ["urgent", "hold", "report", "other"]},
    status={"enum": ["open", "escalated"]},
    verdict={"type": ["object", "null"], "description": "risk, categories, action, scores, model_version"},
    reasons={"type": "array", "items": {"type": "string"}, "description": "without the words the rules quoted"},
    reports={
        "type": "array",
        "items": obj(["report_id", "reason"], report_id={"type": "string"}, reason={"type": "string"}),
    },
    resources={"type": "array"},
    claimed_by={"type": ["string", "null"]},
    created_at={"type": "string"},
)


def moderation_openapi() -> dict[str, Any]:
    return document(
        "Haven moderation",
        {
            "/v1/resources": {
                "get": operation(
                    "Crisis resources for a country and category (public)",
                    {200: obj(["items"], items={"type": "array"}), 400: None},
                    parameters=[query_param("country"), query_param("category")],
                )
            },
            "/v1/mod/queue": {
                "get": operation(
                    "Open items, most urgent first and oldest first within a level, one page at a time; no post text "
                    "(that is read through the audited item view). Follow next_cursor until it is null; summary is "
                    "accepted for older consoles and changes nothing",
                    {
                        200: obj(
                            ["items", "next_cursor"],
                            items={"type": "array", "items": _LISTED_ITEM},
                            next_cursor={"type": ["string", "null"]},
                        ),
                        400: None,
                        401: None,
                        403: None,
                    },
                    auth=True,
                    parameters=[
                        query_param(
                            "limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}
                        ),
                        query_param("cursor"),
                        query_param("summary", {"type": "boolean"}),
                    ],
                )
            },
            "/v1/mod/items/{item_id}": {
                "get": operation(
                    "One item in full, with message templates (the reading is audited)",
                    {200: obj(["item_id", "message_templates"]), 401: None, 403: None, 404: None},
                    auth=True,
                    parameters=_ITEM,
                )
            },
            "/v1/mod/items/{item_id}/claim": {
                "post": operation(
                    "Claim an item (a lease)", {200: obj(["item_id"]), **_ERRORS}, auth=True, parameters=_ITEM
                )
            },
            "/v1/mod/items/{item_id}/decision": {
                "post": operation(
                    "Approve, remove or escalate",
                    {200: obj(["item_id"]), **_ERRORS},
                    body=obj(["decision"], decision={"enum": list(DECISIONS)}, note={"type": "string"}),
                    auth=True,
                    parameters=_ITEM,
                )
            },
            "/v1/mod/items/{item_id}/message": {
                "post": operation(
                    "A private, supportive message to the author",
                    {202: obj(["sent"]), **_ERRORS},
                    body=obj(["text"], text={"type": "string"}),
                    auth=True,
                    parameters=_ITEM,
                )
            },
            "/v1/mod/audit": {
                "get": operation(
                    "The audit log, oldest first (the newest 500 entries that match)",
                    {200: obj(["items"]), 401: None, 403: None},
                    auth=True,
                    parameters=[query_param("post_id"), query_param("item_id")],
                )
            },
            "/console/session": {
                "post": operation(
                    "Exchange a moderator token for an HttpOnly, SameSite=Strict session cookie",
                    {200: obj(["id", "name", "role"]), 400: None, 401: None, 403: None, 415: None},
                    body=obj(["token"], token={"type": "string"}),
                ),
                "get": operation("Who this console session belongs to", {200: obj(["id", "name", "role"]), 401: None}),
                "delete": operation("Sign out", {204: None}),
            },
        },
    )
