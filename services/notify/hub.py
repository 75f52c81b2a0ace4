"""Live connections on this instance: who is listening, and handing them new notifications."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from typing import Any

#: A slow client may fall behind by this many events before it is dropped (it resumes with
#: Last-Event-ID and loses nothing: the inbox has everything).
QUEUE_LIMIT = 256
#: How long a revoked identity is refused new streams by the hub itself. It covers the moments
#: before the identities consumer has written "disabled" or "erased" to this service's database;
#: after that the token check refuses it anyway.
REVOKED_FOR_S = 600.0
MAX_REVOKED = 10_000

Item = dict[str, Any] | None


class StreamLimitReached(Exception):
    """The identity already holds as many streams here as allowed: answer 429 and open nothing."""


class IdentityRevoked(Exception):
    """The identity was just disabled or erased: answer 401 and open nothing."""


class Stream:
    """One open SSE connection. `queue` yields notifications, then None when the stream must end."""

    def __init__(self, owner: str, recipients: tuple[str, ...]) -> None:
        self.owner = owner
        self.recipients = recipients
        self.queue: asyncio.Queue[Item] = asyncio.Queue(QUEUE_LIMIT)

    def end(self) -> None:
        """Never blocks: drops what is queued (the inbox keeps it) so the end marker fits."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class Hub:
    def __init__(self, *, max_streams_per_identity: int = 3, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_per_identity = max_streams_per_identity
        self._clock = clock
        self._listeners: dict[str, set[Stream]] = defaultdict(set)
        self._by_owner: dict[str, set[Stream]] = defaultdict(set)
        self._revoked_until: OrderedDict[str, float] = OrderedDict()

    def open(self, owner: str, recipients: list[str]) -> Stream:
        """Register a stream for `owner` receiving what is sent to any of `recipients`.

        Raises IdentityRevoked or StreamLimitReached instead of opening. Every opened stream must
        be given back with `close`, however the connection ends.
        """
        until = self._revoked_until.get(owner)
        if until is not None:
            if self._clock() < until:
                raise IdentityRevoked(owner)
            del self._revoked_until[owner]
        if len(self._by_owner.get(owner, ())) >= self._max_per_identity:
            raise StreamLimitReached(owner)
        stream = Stream(owner, tuple(recipients))
        self._by_owner[owner].add(stream)
        for recipient in stream.recipients:
            self._listeners[recipient].add(stream)
        return stream

    def close(self, stream: Stream) -> None:
        """Idempotent: frees the stream's slot and stops delivering to it."""
        for recipient in stream.recipients:
            listeners = self._listeners.get(recipient)
            if listeners is not None:
                listeners.discard(stream)
                if not listeners:
                    del self._listeners[recipient]
        owned = self._by_owner.get(stream.owner)
        if owned is not None:
            owned.discard(stream)
            if not owned:
                del self._by_owner[stream.owner]

    def revoke(self, identity_id: str) -> None:
        """End the identity's open streams here, and refuse it new ones for a while. Never blocks."""
        self._revoked_until.pop(identity_id, None)
        self._revoked_until[identity_id] = self._clock() + REVOKED_FOR_S
        while len(self._revoked_until) > MAX_REVOKED:
            self._revoked_until.popitem(last=False)
        for stream in self._by_owner.get(identity_id, ()):
            stream.end()

    def listening(self, recipient_id: str) -> bool:
        """Whether a stream open here receives what is sent to `recipient_id`."""
        return bool(self._listeners.get(recipient_id))

    def publish(self, item: dict[str, Any]) -> None:
        for stream in list(self._listeners.get(item["recipient_id"], ())):
            try:
                stream.queue.put_nowait(item)
            except asyncio.QueueFull:
                # Too far behind: end this stream; the client resumes from the inbox.
                stream.end()

    def close_all(self) -> None:
        for owned in self._by_owner.values():
            for stream in owned:
                stream.end()

    def streams_of(self, identity_id: str) -> int:
        return len(self._by_owner.get(identity_id, ()))

    @property
    def open_streams(self) -> int:
        return sum(len(owned) for owned in self._by_owner.values())
