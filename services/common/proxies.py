"""Which peers are trusted proxies (HAVEN_TRUSTED_PROXIES), and the client address behind them.

Entries are addresses or networks ("10.0.0.7", "10.244.0.0/16", "fd00::/8"): in a cluster the
ingress pods' addresses change, their range does not.
"""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from aiohttp import web

IPAddress = IPv4Address | IPv6Address


@lru_cache(maxsize=8)
def _networks(trusted_proxies: tuple[str, ...]) -> tuple[IPv4Network | IPv6Network, ...]:
    networks = []
    for entry in trusted_proxies:
        try:
            networks.append(ip_network(entry, strict=False))
        except ValueError:
            continue  # a typo trusts nobody rather than failing every request
    return tuple(networks)


def parse_address(text: str | None) -> IPAddress | None:
    """An address, with IPv4-mapped IPv6 (::ffff:1.2.3.4) unwrapped to IPv4; None if not one."""
    if not text:
        return None
    try:
        address = ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_trusted_proxy(peer: str | None, trusted_proxies: tuple[str, ...]) -> bool:
    address = parse_address(peer)
    return address is not None and any(address in network for network in _networks(trusted_proxies))


def client_address(request: web.Request, trusted_proxies: tuple[str, ...]) -> IPAddress | None:
    """The client's address; None when unknown (e.g. a Unix socket).

    X-Forwarded-For is believed only when the direct peer is a trusted proxy, and then read from
    the right, skipping further trusted proxies: entries left of the first untrusted hop were
    written by the client and may be forged.
    """
    peer = parse_address(request.remote)
    if peer is None or not is_trusted_proxy(request.remote, trusted_proxies):
        return peer
    # A header sent as several lines is one list in order (RFC 9110, 5.3); a proxy that adds its
    # own line after the client's would otherwise leave only the client's words to read.
    forwarded_for = ",".join(request.headers.getall("X-Forwarded-For", ()))
    for hop in reversed(forwarded_for.split(",")):
        address = parse_address(hop)
        if address is None:
            return peer  # an unreadable hop: the last address we can vouch for is the proxy
        if not is_trusted_proxy(str(address), trusted_proxies):
            return address
    return peer


#: Every address of one IPv6 /64 is one client: a single home or phone gets a whole /64.
IPV6_GROUP_PREFIX = 64


def rate_key(address: IPAddress | None) -> str:
    """What one client counts as: an IPv4 address, or the /64 an IPv6 address belongs to."""
    if address is None:
        return "unknown"
    if isinstance(address, IPv6Address):
        host_bits = 128 - IPV6_GROUP_PREFIX
        return f"{IPv6Address(int(address) >> host_bits << host_bits)}/{IPV6_GROUP_PREFIX}"
    return str(address)
