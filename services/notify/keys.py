"""Typed application keys of the notify app."""

from __future__ import annotations

from aiohttp import web

from services.common.identities import IdentityCache
from services.notify.hub import Hub
from services.notify.store import Inbox

store_key = web.AppKey("store", Inbox)
hub_key = web.AppKey("hub", Hub)
identities_key = web.AppKey("identities", IdentityCache)
#: Seconds between SSE heartbeats.
heartbeat_key = web.AppKey("heartbeat_s", float)
