"""Typed application keys of the moderation API."""

from __future__ import annotations

from aiohttp import web

from services.common.identities import IdentityCache
from services.moderation.api.console_sessions import ConsoleSessions
from services.moderation.api.publisher import ModerationPublisher
from services.moderation.api.sla import SlaMetrics
from services.moderation.api.store import ModerationStore
from services.moderation.resources import ResourceDirectory
from streams.producer import RenewingProducer
from streams.settings import Settings

settings_key = web.AppKey("settings", Settings)
directory_key = web.AppKey("directory", ResourceDirectory)
identities_key = web.AppKey("identities", IdentityCache)
store_key = web.AppKey("store", ModerationStore)
producer_key = web.AppKey("producer", RenewingProducer)
publisher_key = web.AppKey("publisher", ModerationPublisher)
console_sessions_key = web.AppKey("console_sessions", ConsoleSessions)
sla_key = web.AppKey("sla", SlaMetrics)
