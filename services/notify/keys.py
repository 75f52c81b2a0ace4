"""Typed application keys of the notify app."""

from __future__ import annotations

from aiohttp import web

from services.common.database_absence import DatabaseAbsence
from services.common.identities import IdentityCache
from services.notify.hub import Hub
from services.notify.store import Inbox

store_key = web.AppKey("store", Inbox)
hub_key = web.AppKey("hub", Hub)
identities_key = web.AppKey("identities", IdentityCache)
#: Seconds between SSE heartbeats.
heartbeat_key = web.AppKey("heartbeat_s", float)
#: One account of whether the inbox's database answers, shared by live pushes and stream replays.
inbox_absence_key = web.AppKey("inbox_absence", DatabaseAbsence)
