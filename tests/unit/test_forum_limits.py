"""Per-address identity limits: in memory, sliding, and X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

from unittest.mock import MagicMock

from services.forum.limits import AddressWindow, RateLimits, client_address


def test_an_address_may_create_up_to_the_limit_then_is_told_how_long_to_wait() -> None:
    window = AddressWindow(limit=3, window_s=3600)
    assert [window.allow("10.0.0.1") for _ in range(3)] == [None, None, None]
    wait = window.allow("10.0.0.1")
    assert wait is not None and 3590 < wait <= 3600
    assert window.allow("10.0.0.2") is None, "each address has its own window"


def test_the_window_slides() -> None:
    window = AddressWindow(limit=1, window_s=0.05)
    assert window.allow("a") is None
    assert window.allow("a") is not None
    import time

    time.sleep(0.06)
    assert window.allow("a") is None


def _request(remote: str, forwarded: str | None) -> MagicMock:
    request = MagicMock()
    request.remote = remote
    request.headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return request


def test_forwarded_for_counts_only_behind_a_trusted_proxy() -> None:
    assert client_address(_request("203.0.113.9", "198.51.100.7"), ()) == "203.0.113.9"
    assert client_address(_request("10.0.0.5", "198.51.100.7"), ("10.0.0.5",)) == "198.51.100.7"
    assert client_address(_request("10.0.0.5", "spoofed, 198.51.100.8"), ("10.0.0.5",)) == "198.51.100.8"
    assert client_address(_request("10.0.0.5", "not-an-ip"), ("10.0.0.5",)) == "10.0.0.5"


def test_limits_come_from_the_environment() -> None:
    limits = RateLimits.from_env({"HAVEN_POSTS_PER_MINUTE": "3", "HAVEN_IDENTITIES_PER_HOUR": "5"})
    assert (limits.posts_per_minute, limits.posts_per_hour, limits.identities_per_hour_per_address) == (3, 60, 5)
