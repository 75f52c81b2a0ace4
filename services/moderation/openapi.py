"""The moderation API's OpenAPI 3.1 document."""

from __future__ import annotations

from typing import Any

from services.common.openapi import document, obj, operation, path_param, query_param

_ITEM = [path_param("item_id")]
_ERRORS = {400: None, 401: None, 403: None, 404: None, 409: None, 413: None, 415: None}


def moderation_openapi() -> dict[str, Any]:
    return document("Haven moderation", {
        "/v1/resources": {"get": operation(
            "Crisis resources for a country and category (public)",
            {200: obj(["items"], items={"type": "array"}), 400: None},
            parameters=[query_param("country"), query_param("category")],
        )},
        "/v1/mod/queue": {"get": operation(
            "Open items, most urgent first (summary=true leaves the post text out)",
            {200: obj(["items"]), 400: None, 401: None, 403: None}, auth=True,
            parameters=[query_param("summary", {"type": "boolean"})],
        )},
        "/v1/mod/items/{item_id}": {"get": operation(
            "One item in full, with message templates (the reading is audited)",
            {200: obj(["item_id", "message_templates"]), 401: None, 403: None, 404: None}, auth=True, parameters=_ITEM,
        )},
        "/v1/mod/items/{item_id}/claim": {"post": operation("Claim an item (a lease)", {200: obj(["item_id"]), **_ERRORS},
                                                            auth=True, parameters=_ITEM)},
        "/v1/mod/items/{item_id}/decision": {"post": operation(
            "Approve, remove or escalate", {200: obj(["item_id"]), **_ERRORS},
            body=obj(["decision"], decision={"enum": ["approve", "remove", "escalate"]}, note={"type": "string"}),
            auth=True, parameters=_ITEM,
        )},
        "/v1/mod/items/{item_id}/message": {"post": operation(
            "A private, supportive message to the author", {202: obj(["sent"]), **_ERRORS},
            body=obj(["text"], text={"type": "string"}), auth=True, parameters=_ITEM,
        )},
        "/v1/mod/audit": {"get": operation("The audit log, oldest first (the newest 500 entries that match)",
                                           {200: obj(["items"]), 401: None, 403: None}, auth=True,
                                           parameters=[query_param("post_id"), query_param("item_id")])},
        "/console/session": {
            "post": operation(
                "Exchange a moderator token for an HttpOnly, SameSite=Strict session cookie",
                {200: obj(["id", "name", "role"]), 400: None, 401: None, 403: None, 415: None},
                body=obj(["token"], token={"type": "string"}),
            ),
            "get": operation("Who this console session belongs to", {200: obj(["id", "name", "role"]), 401: None}),
            "delete": operation("Sign out", {204: None}),
        },
    })
