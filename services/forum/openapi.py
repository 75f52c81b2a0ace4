"""The forum's OpenAPI 3.1 document; the request bodies come from services/forum/requests.py."""

from __future__ import annotations

from typing import Any

from services.common.openapi import PROBLEM, document, model_schema, obj, operation, path_param, query_param
from services.forum.boards import SEEDED_BOARDS
from services.forum.crisis_lines import CRISIS_LINES_FIELD
from services.forum.requests import (
    EditRequest,
    NewIdentityRequest,
    NewThreadRequest,
    ProfileChangeRequest,
    ReactionRequest,
    ReplyRequest,
    ReportRequest,
)
from streams.events import PostStatus, Resource

_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_POST = obj(
    ["post_id", "thread_id", "status", "author_handle", "created_at"],
    post_id=_STR,
    thread_id=_STR,
    status={"enum": [status.value for status in PostStatus]},
    body=_NSTR,
    author_handle=_STR,
    created_at=_STR,
    reactions=obj(),
    resources={"type": "array"},
)
_THREAD = obj(["thread_id", "title", "status"], thread_id=_STR, title=_STR, status=_STR, board=_STR)
_ME = obj(
    ["id", "handle"],
    id=_STR,
    handle=_STR,
    country=_NSTR,
    language=_NSTR,
    sober_since=_NSTR,
    days_sober={"type": ["integer", "null"]},
    milestone=_NSTR,
)
_POST_ID = [path_param("post_id")]
#: Sending a submission again with the same key answers with the first result instead of posting twice.
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}
_SLUG = path_param("slug") | {"schema": {"type": "string", "examples": [b.slug for b in SEEDED_BOARDS]}}


def _must_wait_problem(schemas: dict[str, Any]) -> dict[str, Any]:
    """A refusal that makes a member wait (429, 503): it carries crisis lines (services/forum/crisis_lines.py)."""
    return PROBLEM | {
        "properties": PROBLEM["properties"]
        | {CRISIS_LINES_FIELD: {"type": "array", "items": model_schema(Resource, schemas)}}
    }


def _submission_problems(schemas: dict[str, Any]) -> dict[int, dict[str, Any] | None]:
    """What a submission (thread, reply, edit) may answer besides its 202."""
    must_wait = _must_wait_problem(schemas)
    return dict.fromkeys((400, 401, 404, 409, 413, 415, 422)) | dict.fromkeys((429, 503), must_wait)


def forum_openapi() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    return document(
        "Haven forum",
        {
            "/v1/identities": {
                "post": operation(
                    "Create an anonymous identity; the token is shown once",
                    {
                        201: obj(["id", "handle", "token"], id=_STR, handle=_STR, token=_STR),
                        400: None,
                        413: None,
                        415: None,
                        429: _must_wait_problem(schemas),
                        503: _must_wait_problem(schemas),
                    },
                    body=model_schema(NewIdentityRequest, schemas),
                )
            },
            "/v1/me": {
                "get": operation("My profile, days sober and milestone", {200: _ME, 401: None}, auth=True),
                "patch": operation(
                    "Change country, language, sober_since or show_milestone",
                    {200: _ME, 400: None, 401: None, 413: None, 415: None, 503: None},
                    body=model_schema(ProfileChangeRequest, schemas),
                    auth=True,
                ),
                "delete": operation(
                    "Erase my identity",
                    {204: None, 401: None, 503: None},
                    auth=True,
                    parameters=[query_param("erase_posts", {"type": "boolean"})],
                )
                | {"operationId": "eraseMe"},
            },
            "/v1/boards": {"get": operation("The boards", {200: obj(["items"], items={"type": "array"})})},
            "/v1/boards/{slug}/threads": {
                "get": operation(
                    "Published threads by last activity",
                    {
                        200: obj(["items"], items={"type": "array", "items": _THREAD}, next_cursor=_NSTR),
                        400: None,
                        404: None,
                    },
                    parameters=[_SLUG, query_param("cursor")],
                ),
                "post": operation(
                    "Start a thread; its first post is screened before it shows",
                    {
                        202: obj(["thread_id", "post_id", "status"], thread_id=_STR, post_id=_STR, status=_STR),
                        **_submission_problems(schemas),
                    },
                    body=model_schema(NewThreadRequest, schemas),
                    auth=True,
                    parameters=[_SLUG, _IDEMPOTENCY_KEY],
                ),
            },
            "/v1/threads/{thread_id}": {
                "get": operation(
                    "A thread and its published posts, oldest first",
                    {
                        200: obj(
                            ["thread_id", "posts"],
                            thread_id=_STR,
                            posts={"type": "array", "items": _POST},
                            next_cursor=_NSTR,
                        ),
                        400: None,
                        401: None,
                        404: None,
                    },
                    parameters=[path_param("thread_id"), query_param("cursor")],
                )
            },
            "/v1/threads/{thread_id}/posts": {
                "post": operation(
                    "Reply; screened before it shows",
                    {
                        202: obj(["post_id", "status"], post_id=_STR, status=_STR),
                        **_submission_problems(schemas),
                    },
                    body=model_schema(ReplyRequest, schemas),
                    auth=True,
                    parameters=[path_param("thread_id"), _IDEMPOTENCY_KEY],
                )
            },
            "/v1/posts/{post_id}": {
                "get": operation(
                    "A post (unpublished ones only for their author)",
                    {200: _POST, 401: None, 404: None},
                    parameters=_POST_ID,
                ),
                "patch": operation(
                    "Edit my post; screened again before it shows",
                    {
                        202: obj(["post_id", "status"]),
                        **_submission_problems(schemas),
                    },
                    body=model_schema(EditRequest, schemas),
                    auth=True,
                    parameters=_POST_ID,
                ),
                "delete": operation(
                    "Delete my post", {204: None, 401: None, 404: None, 503: None}, auth=True, parameters=_POST_ID
                ),
            },
            "/v1/posts/{post_id}/reactions": {
                "post": operation(
                    "React (idempotent)",
                    {
                        200: obj(["reactions"]),
                        201: obj(["reactions"]),
                        400: None,
                        401: None,
                        404: None,
                        413: None,
                        415: None,
                    },
                    body=model_schema(ReactionRequest, schemas),
                    auth=True,
                    parameters=_POST_ID,
                )
            },
            "/v1/posts/{post_id}/reports": {
                "post": operation(
                    "Report a post to the moderators",
                    {
                        202: obj(["report_id"]),
                        400: None,
                        401: None,
                        404: None,
                        413: None,
                        415: None,
                        429: None,
                        503: None,
                    },
                    body=model_schema(ReportRequest, schemas),
                    auth=True,
                    parameters=_POST_ID,
                )
            },
        },
        schemas,
    )
