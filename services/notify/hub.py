"""Live connections on this instance: who is listening, and handing them new notifications."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

#: A slow client may fall behind by this many events before it is dropped (it resumes with
#: Last-Event-ID and loses nothing: the inbox has everything).
QUEUE_LIMIT = 256


class Hub:
    def __init__(self) -> None:
        self._listeners: dict[str, set[asyncio.Queue[dict[str, Any] | None]]] = defaultdict(set)

    def subscribe(self, recipients: list[str]) -> asyncio.Queue[dict[str, Any] | None]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(QUEUE_LIMIT)
        for recipient in recipients:
            self._listeners[recipient].add(queue)
        return queue

    def unsubscribe(self, recipients: list[str], queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        for recipient in recipients:
            self._listeners[recipient].discard(queue)
            if not self._listeners[recipient]:
                del self._listeners[recipient]

    def publish(self, item: dict[str, Any]) -> None:
        for queue in list(self._listeners.get(item["recipient_id"], ())):
            try:
                queue.put_nowait(item)
            except asyncio.QueueFull:
                # Too far behind: end this stream; the client resumes from the inbox.
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(None)

    def close_all(self) -> None:
        for queues in self._listeners.values():
            for queue in queues:
                try:
                    queue.put_nowait(None)
                except asyncio.QueueFull:
                    pass

    @property
    def open_streams(self) -> int:
        return len({id(q) for queues in self._listeners.values() for q in queues})
