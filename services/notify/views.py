"""GET /v1/stream (Server-Sent Events), the inbox, and marking it read."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from services.common.identities import Identity, require_identity
from services.common.problems import Problem, read_json_object
from services.notify.hub import IdentityRevoked, StreamLimitReached
from services.notify.keys import heartbeat_key, hub_key, identities_key, inbox_absence_key, store_key
from services.notify.representations import public_view
from services.notify.resumption import Resumption
from streams.events import MODERATORS_RECIPIENT as MODERATORS

PAGE_SIZE = 50
#: How often an idle stream checks whether its client is still there.
DISCONNECT_CHECK_S = 1.0
STREAM_LIMIT_RETRY_AFTER_S = 5
#: A client that takes no bytes for this long has stopped reading: its stream ends and its slot is
#: freed (it reconnects with Last-Event-ID and misses nothing). Without it, a write waits for TCP
#: to give up, which takes many minutes.
WRITE_TIMEOUT_S = 20.0


class StoppedReading(Exception):
    """The client took nothing for WRITE_TIMEOUT_S."""


async def send(response: web.StreamResponse, data: bytes, timeout_s: float = WRITE_TIMEOUT_S) -> None:
    try:
        async with asyncio.timeout(timeout_s):  # no task per write, unlike wait_for
            await response.write(data)
    except TimeoutError:
        raise StoppedReading from None


def recipients_of(identity: Identity) -> list[str]:
    return [identity.id, MODERATORS] if identity.kind == "moderator" else [identity.id]


def sse_frame(item: dict[str, Any], *, with_id: bool = True) -> bytes:
    view = public_view(item)
    # An item not yet stored has no id: the client's Last-Event-ID stays before it (live_items.py).
    id_line = f"id: {view['id']}\n" if with_id and view["id"] is not None else ""
    return f"{id_line}event: {view['kind']}\ndata: {json.dumps(view)}\n\n".encode()


async def stream(request: web.Request) -> web.StreamResponse:
    identity = await require_identity(request, request.app[identities_key])
    recipients = recipients_of(identity)
    hub, inbox = request.app[hub_key], request.app[store_key]
    heartbeat_s = request.app[heartbeat_key]
    # Open before replaying, so nothing that arrives in between is missed.
    try:
        live = hub.open(identity.id, recipients)
    except StreamLimitReached:
        raise Problem(
            429,
            "Too many open streams for this token; close one (each stream receives everything).",
            headers={"Retry-After": str(STREAM_LIMIT_RETRY_AFTER_S)},
        ) from None
    except IdentityRevoked:
        raise Problem(
            401,
            "This token is not valid (it may have been disabled or erased).",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    # A replayed or live notification; None from the live queue ends the stream.
    item: dict[str, Any] | None
    resumption = Resumption(inbox, request.app[inbox_absence_key], recipients, request.headers.get("Last-Event-ID", ""))

    async def write_replay() -> None:
        for replayed in await resumption.catch_up():
            await send(response, sse_frame(replayed))
            resumption.sent(replayed)

    try:
        await response.prepare(request)
        await write_replay()
        await send(response, b": connected\n\n")
        quiet_s = 0.0
        while True:
            try:
                item = await asyncio.wait_for(live.queue.get(), min(heartbeat_s, DISCONNECT_CHECK_S))
            except TimeoutError:
                # The server is not told when a client hangs up on a stream it only writes to;
                # look, so that the slot is freed within seconds rather than at the next write.
                if request.transport is None or request.transport.is_closing():
                    break
                await write_replay()
                quiet_s += min(heartbeat_s, DISCONNECT_CHECK_S)
                if quiet_s >= heartbeat_s:
                    await send(response, b": heartbeat\n\n")
                    quiet_s = 0.0
                continue
            if item is None:
                break
            quiet_s = 0.0
            if item["event_key"] is None or not resumption.caught_up:
                # Unstored, or the replay is still to come: no id, so Last-Event-ID stays put.
                await send(response, sse_frame(item, with_id=False))
                continue
            for due in await resumption.through(item):
                await send(response, sse_frame(due))
                resumption.sent(due)
    except StoppedReading:
        # Dropped, not closed politely: a close would wait on the same full buffer.
        if request.transport is not None:
            request.transport.abort()
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        hub.close(live)
    return response


async def list_notifications(request: web.Request) -> web.Response:
    identity = await require_identity(request, request.app[identities_key])
    items, next_cursor = await request.app[store_key].page(
        recipients_of(identity), request.query.get("cursor"), PAGE_SIZE
    )
    return web.json_response({"items": [public_view(i) for i in items], "next_cursor": next_cursor})


async def mark_read(request: web.Request) -> web.Response:
    identity = await require_identity(request, request.app[identities_key])
    body = await read_json_object(request)
    ids = body.get("ids")
    if body.get("all") is True:
        ids = None
    elif not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or len(ids) > 500:
        raise Problem(400, 'Send {"ids": [notification ids]} (at most 500) or {"all": true}.')
    marked = await request.app[store_key].mark_read(identity.id, ids)
    return web.json_response({"marked": marked})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/v1/stream", stream)
    app.router.add_get("/v1/notifications", list_notifications)
    app.router.add_post("/v1/notifications/read", mark_read)
