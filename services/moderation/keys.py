"""Typed application keys of the moderation API."""

from __future__ import annotations

from aiohttp import web

from services.moderation.resources import ResourceDirectory
from streams.settings import Settings

settings_key = web.AppKey("settings", Settings)
directory_key = web.AppKey("directory", ResourceDirectory)
