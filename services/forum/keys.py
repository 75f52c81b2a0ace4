"""Typed application keys of the forum app."""

from __future__ import annotations

from aiohttp import web
from aiokafka import AIOKafkaProducer

from services.forum.publisher import ForumPublisher
from services.forum.store import ForumStore
from streams.settings import Settings

settings_key = web.AppKey("settings", Settings)
store_key = web.AppKey("store", ForumStore)
publisher_key = web.AppKey("publisher", ForumPublisher)
producer_key = web.AppKey("producer", AIOKafkaProducer)
