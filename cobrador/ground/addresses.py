"""One guesser's share of the address space: what a throttle counted per client
address counts by.

An IPv6 subscriber is handed a whole /64 (2^64 addresses, RFC 6177) and may write
any of them as its source, so a throttle keyed by the full IPv6 address throttles
nobody: one guesser takes a fresh address for every try. IPv6 is counted by its
/64, IPv4 (and IPv4 written as IPv6, ::ffff:a.b.c.d) by the address.
"""

from __future__ import annotations

import ipaddress

MAX_TEXT = 70  # characters kept of something that is no address (a test client's name)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: str) -> tuple[Network, ...]:
    """ "10.0.0.0/8, 192.168.1.5, ::1" -> networks (`trusted_proxies`); ValueError
    names the item that is no address or network."""
    networks: list[Network] = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ValueError(f"{item[:60]!r} is not an IP address or network") from exc
    return tuple(networks)


def throttle_bucket(address: str) -> str:
    """The key a per-address throttle counts `address` under."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address[:MAX_TEXT]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip.exploded.split('%')[0]}/64", strict=False))
    return str(ip)
