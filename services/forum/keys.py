"""Typed application keys of the forum app."""

from __future__ import annotations

from aiohttp import web

from services.forum.idempotency import IdempotencyRecords
from services.forum.limits import AddressWindow, MemberTurns, RateLimits
from services.forum.publisher import ForumPublisher
from services.forum.store import ForumStore
from streams.producer import RenewingProducer
from streams.settings import Settings

settings_key = web.AppKey("settings", Settings)
store_key = web.AppKey("store", ForumStore)
idempotency_key = web.AppKey("idempotency", IdempotencyRecords)
publisher_key = web.AppKey("publisher", ForumPublisher)
producer_key = web.AppKey("producer", RenewingProducer)
limits_key = web.AppKey("limits", RateLimits)
identity_window_key = web.AppKey("identity_window", AddressWindow)
member_turns_key = web.AppKey("member_turns", MemberTurns)
#: Hotline numbers as the resource directory writes them: never redacted from a post.
hotline_numbers_key = web.AppKey("hotline_numbers", frozenset)
