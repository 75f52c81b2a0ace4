"""One client may hold only so many connections to a service, and the service only so many in all."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from services.common.connection_limits import ConnectionCounts, Refused, descriptor_bound


def _counts(per_address: int = 2, total: int = 10, trusted: tuple[str, ...] = ()) -> ConnectionCounts:
    return ConnectionCounts(
        per_address=per_address, total=total, trusted_proxies=trusted, registry=CollectorRegistry(), service="forum"
    )


def test_one_address_past_its_cap_is_refused_while_another_address_gets_in() -> None:
    counts = _counts(per_address=2)
    assert counts.admit("203.0.113.7") == counts.admit("203.0.113.7") == "203.0.113.7"
    assert counts.admit("203.0.113.7") == Refused("address")
    assert counts.admit("198.51.100.1") == "198.51.100.1"
    assert counts.open == 3


def test_a_closed_connection_frees_its_place_and_a_quiet_client_is_forgotten() -> None:
    counts = _counts(per_address=1)
    key = counts.admit("203.0.113.7")
    assert isinstance(key, str)
    counts.release(key)
    assert counts.open == 0 and counts.clients() == 0
    assert counts.admit("203.0.113.7") == key


def test_every_address_of_one_ipv6_64_is_one_client() -> None:
    counts = _counts(per_address=2)
    counts.admit("2001:db8:1:2::1")
    counts.admit("2001:db8:1:2:ffff::9")
    assert counts.admit("2001:db8:1:2:abcd::3") == Refused("address")
    assert counts.admit("2001:db8:1:3::1") == "2001:db8:1:3::/64"


def test_an_ipv4_mapped_address_counts_as_its_ipv4_address() -> None:
    counts = _counts(per_address=1)
    counts.admit("::ffff:203.0.113.7")
    assert counts.admit("203.0.113.7") == Refused("address")


def test_a_trusted_proxy_is_not_held_to_one_address_cap_but_counts_in_the_total() -> None:
    counts = _counts(per_address=1, total=3, trusted=("10.0.0.0/8",))
    keys = [counts.admit("10.1.2.3") for _ in range(3)]
    assert not any(isinstance(key, Refused) for key in keys)
    assert counts.admit("10.1.2.3") == Refused("total")
    for key in keys:
        assert isinstance(key, str)
        counts.release(key)
    assert counts.open == 0 and counts.clients() == 0


def test_the_total_cap_refuses_everyone_once_reached() -> None:
    counts = _counts(per_address=5, total=2)
    counts.admit("203.0.113.7")
    counts.admit("198.51.100.1")
    assert counts.admit("192.0.2.9") == Refused("total")


def test_a_connection_without_an_address_counts_as_one_unknown_client() -> None:
    counts = _counts(per_address=1)
    assert counts.admit(None) == "unknown"
    assert counts.admit(None) == Refused("address")


def test_refusals_are_counted_by_reason_in_the_metrics() -> None:
    registry = CollectorRegistry()
    counts = ConnectionCounts(per_address=1, total=10, registry=registry, service="notify")
    counts.admit("203.0.113.7")
    counts.admit("203.0.113.7")
    refused = registry.get_sample_value(
        "haven_http_connections_refused_total", {"service": "notify", "reason": "address"}
    )
    assert refused == 1.0
    assert registry.get_sample_value("haven_http_connections_open", {"service": "notify"}) == 1.0


@pytest.mark.parametrize("wanted", [1, 100, 10_000_000])
def test_the_total_never_exceeds_what_the_process_may_open_less_its_reserve(wanted: int) -> None:
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    bound = descriptor_bound(wanted)
    assert 1 <= bound <= wanted
    if soft != resource.RLIM_INFINITY:
        assert bound <= max(1, soft - 256)
