"""Haven moderation: two deployables and what they share.

- api/: the moderation API (aiohttp), `haven serve moderation-api`.
- worker/: the screening worker (faust), `haven serve moderation-worker`.
- screening/: the screener, its rules and the per-board policy; no service of its own.
- resources/: the crisis resource directory (also read by the forum).
"""
