"""The notify service's OpenAPI 3.1 document."""

from __future__ import annotations

from typing import Any

from services.common.openapi import document, obj, operation, query_param


def notify_openapi() -> dict[str, Any]:
    return document(
        "Haven notify",
        {
            "/v1/stream": {
                "get": {
                    "summary": "Server-Sent Events for this identity (event: is the notification kind); Last-Event-ID resumes",
                    "security": [{"bearer": []}],
                    "responses": {
                        "200": {"description": "An event stream", "content": {"text/event-stream": {}}},
                        "401": {"description": "Missing or unknown token", "content": {"application/problem+json": {}}},
                    },
                }
            },
            "/v1/notifications": {
                "get": operation(
                    "The inbox, newest first",
                    {200: obj(["items"], items={"type": "array"}), 401: None},
                    auth=True,
                    parameters=[query_param("cursor")],
                )
            },
            "/v1/notifications/read": {
                "post": operation(
                    "Mark notifications read",
                    {200: obj(["marked"]), 400: None, 401: None, 413: None, 415: None},
                    body=obj(ids={"type": "array", "items": {"type": "string"}}, all={"type": "boolean"}),
                    auth=True,
                )
            },
        },
    )
