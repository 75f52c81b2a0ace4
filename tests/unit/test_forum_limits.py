"""Per-address identity limits: in memory, sliding, and X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest.mock import MagicMock

from services.forum.limits import AddressWindow, RateLimits, client_address, member_post_window


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


NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
LIMITS = RateLimits(posts_per_minute=3, posts_per_hour=5)


def _ago(seconds: int) -> datetime:
    return NOW - timedelta(seconds=seconds)


def test_a_member_under_both_limits_may_post_and_times_older_than_an_hour_are_dropped() -> None:
    kept, hit = member_post_window([_ago(4000), _ago(600), _ago(10)], NOW, LIMITS)
    assert hit is None
    assert kept == [_ago(600), _ago(10)]


def test_the_minute_limit_says_when_the_oldest_post_of_the_minute_leaves_it() -> None:
    _, hit = member_post_window([_ago(50), _ago(20), _ago(5)], NOW, LIMITS)
    assert hit is not None and "3 times a minute" in hit.detail
    assert hit.retry_after_s == 10


def test_the_hour_limit_applies_when_the_minute_is_quiet() -> None:
    _, hit = member_post_window([_ago(3000), _ago(2000), _ago(1500), _ago(900), _ago(300)], NOW, LIMITS)
    assert hit is not None and "5 times an hour" in hit.detail
    assert hit.retry_after_s == 600
