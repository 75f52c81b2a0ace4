"""Bearer tokens: 256 random bits shown once; only a hash is ever stored or sent anywhere."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # The token is 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force.
    # "surrogatepass": a header byte that is not UTF-8 reaches us as a lone surrogate; such a
    # token matches nothing, and hashing it must not raise (a 500 instead of a 401).
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def tokens_match(stored_hash: str, presented_token: str) -> bool:
    return hmac.compare_digest(stored_hash, hash_token(presented_token))


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


class ExpiringHashes:
    """A bounded set of token hashes (never tokens), each forgotten `ttl_s` after it was added.

    When full, adding pushes out the oldest entry, so a flood of made-up tokens costs a fixed
    amount of memory. Not thread-safe; cheap enough to call on every request.
    """

    def __init__(self, *, ttl_s: float, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def add(self, token_hash: str) -> None:
        now = self._clock()
        self._expiry.pop(token_hash, None)
        self._expiry[token_hash] = now + self._ttl_s
        self._drop_expired(now)
        while len(self._expiry) > self._max_entries:
            self._expiry.popitem(last=False)

    def discard(self, token_hash: str) -> None:
        self._expiry.pop(token_hash, None)

    def __contains__(self, token_hash: object) -> bool:
        expiry = self._expiry.get(token_hash) if isinstance(token_hash, str) else None
        if expiry is None:
            return False
        if self._clock() >= expiry:
            del self._expiry[token_hash]  # type: ignore[arg-type]  # the key was taken from this mapping just above
            return False
        return True

    def __len__(self) -> int:
        self._drop_expired(self._clock())
        return len(self._expiry)

    def _drop_expired(self, now: float) -> None:
        # One TTL for every entry and re-adds move to the end: the oldest expiry is always first.
        while self._expiry:
            first_hash, expiry = next(iter(self._expiry.items()))
            if expiry > now:
                return
            del self._expiry[first_hash]
