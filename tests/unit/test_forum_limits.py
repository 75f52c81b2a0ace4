"""Per-address identity limits: in memory, sliding, bounded, IPv6 per /64, and X-Forwarded-For only
from trusted proxies. Member post limits: per minute and per hour."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address, IPv6Address

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from services.common.proxies import is_trusted_proxy, parse_address, rate_key
from services.forum.limits import AddressWindow, RateLimits, identity_limit_key, member_post_window
from streams.settings import Settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_address_may_create_up_to_the_limit_then_is_told_how_long_to_wait() -> None:
    clock = FakeClock()
    window = AddressWindow(limit=3, window_s=3600, clock=clock)
    assert [window.allow("10.0.0.1") for _ in range(3)] == [None, None, None]
    clock.now += 10
    assert window.allow("10.0.0.1") == 3590
    assert window.allow("10.0.0.2") is None, "each address has its own window"


def test_the_window_slides() -> None:
    clock = FakeClock()
    window = AddressWindow(limit=2, window_s=60, clock=clock)
    assert window.allow("a") is None
    clock.now += 30
    assert window.allow("a") is None
    assert window.allow("a") == 30
    clock.now += 30
    assert window.allow("a") is None, "the first event left the window"
    assert window.allow("a") is not None


def test_a_flood_of_unique_addresses_keeps_memory_bounded_and_idle_windows_expire() -> None:
    clock = FakeClock()
    window = AddressWindow(limit=30, window_s=3600, max_keys=10_000, clock=clock)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for n in range(100_000):
        assert window.allow(rate_key(IPv4Address(0x0A000000 + n))) is None
    grown = sum(stat.size_diff for stat in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    assert len(window) == 10_000, "the least recently seen addresses were evicted"
    assert grown < 10_000 * 400, f"{grown} bytes for 10,000 tracked keys"
    assert window.allow("10.1.134.159") is None, "the newest address (10.0.0.0 + 99,999) is still counted"
    clock.now += 3601
    window.allow("10.9.9.9")
    assert len(window) == 1, "windows that emptied are forgotten"


def test_a_busy_key_is_kept_while_the_quiet_ones_are_evicted() -> None:
    clock = FakeClock()
    window = AddressWindow(limit=2, window_s=3600, max_keys=3, clock=clock)
    window.allow("busy")
    window.allow("busy")
    for n in range(10):
        window.allow(f"quiet-{n}")
        assert window.allow("busy") is not None, "a flood does not reset a limited client's window"


def test_ipv6_counts_per_64_and_ipv4_mapped_ipv6_is_ipv4() -> None:
    window = AddressWindow(limit=2)
    one_home = [rate_key(IPv6Address(f"2001:db8:1:2::{n:x}")) for n in range(1, 4)]
    assert one_home[0] == "2001:db8:1:2::/64"
    assert [window.allow(key) for key in one_home][:2] == [None, None]
    assert window.allow(one_home[2]) is not None, "a third address of the same /64 is refused"
    assert window.allow(rate_key(IPv6Address("2001:db8:1:3::1"))) is None, "the next /64 is someone else"
    assert rate_key(parse_address("::ffff:198.51.100.7")) == "198.51.100.7"
    assert rate_key(IPv4Address("198.51.100.7")) != rate_key(IPv4Address("198.51.100.8"))
    assert rate_key(None) == "unknown"


def _request(remote: str, forwarded: str | None) -> web.Request:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return make_mocked_request("POST", "/v1/identities", headers=headers).clone(remote=remote)


def test_forwarded_for_counts_only_behind_a_trusted_proxy() -> None:
    def key(remote: str, forwarded: str | None, proxies: tuple[str, ...]) -> str:
        return identity_limit_key(_request(remote, forwarded), proxies)

    assert key("203.0.113.9", "198.51.100.7", ()) == "203.0.113.9"
    assert key("10.0.0.5", "198.51.100.7", ("10.0.0.5",)) == "198.51.100.7"
    assert key("10.0.0.5", "spoofed, 198.51.100.8", ("10.0.0.5",)) == "198.51.100.8"
    assert key("10.0.0.5", "not-an-ip", ("10.0.0.5",)) == "10.0.0.5"
    assert key("10.0.0.5", None, ("10.0.0.5",)) == "10.0.0.5"


def test_a_forwarded_for_sent_as_several_lines_is_read_as_one_list() -> None:
    """A proxy that adds its own line after the client's: the client's line is not believed."""
    request = make_mocked_request(
        "POST",
        "/v1/identities",
        headers=CIMultiDict([("X-Forwarded-For", "198.51.100.77"), ("X-Forwarded-For", "203.0.113.9")]),
    ).clone(remote="10.0.0.5")
    assert identity_limit_key(request, ("10.0.0.0/8",)) == "203.0.113.9"


def test_trusted_proxies_may_be_networks_and_trusted_hops_are_skipped() -> None:
    pods = ("10.244.0.0/16", "fd00::/8")
    assert identity_limit_key(_request("10.244.3.7", "198.51.100.7, 10.244.9.9"), pods) == "198.51.100.7"
    assert identity_limit_key(_request("fd00::1", "2001:db8:5:6::9"), pods) == "2001:db8:5:6::/64"
    assert identity_limit_key(_request("::ffff:10.244.3.7", "198.51.100.7"), pods) == "198.51.100.7"
    assert identity_limit_key(_request("10.245.0.1", "198.51.100.7"), pods) == "10.245.0.1", "outside the range"
    assert not is_trusted_proxy("10.0.0.1", ("not-a-network",)), "a typo trusts nobody"


def test_limits_come_from_the_environment() -> None:
    limits = RateLimits.from_settings(
        Settings.from_env({"HAVEN_POSTS_PER_MINUTE": "3", "HAVEN_IDENTITIES_PER_HOUR": "5"})
    )
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
