"""The client behind a trusted reverse proxy: who the throttles count."""

from __future__ import annotations

import pytest

from cobrador.ground.settings import SettingsError
from console.client_address import client_address, forwarded_scheme, parse_trusted

PROXIES = parse_trusted("10.0.0.0/8, 192.168.1.5, ::1")


def test_given_no_trusted_proxy_then_the_header_is_ignored() -> None:
    assert client_address("203.0.113.9", "198.51.100.1", ()) == "203.0.113.9"


def test_given_a_direct_client_then_its_forged_header_is_ignored() -> None:
    assert client_address("203.0.113.9", "10.0.0.1, 198.51.100.1", PROXIES) == "203.0.113.9"


def test_given_a_trusted_proxy_then_the_client_it_names() -> None:
    assert client_address("10.1.2.3", "198.51.100.7", PROXIES) == "198.51.100.7"


def test_given_a_chain_then_the_rightmost_untrusted_hop_not_what_the_client_wrote() -> None:
    # The client wrote "1.1.1.1" itself; the edge proxy appended the real address.
    header = "1.1.1.1, 198.51.100.7, 10.9.9.9"
    assert client_address("10.1.2.3", header, PROXIES) == "198.51.100.7"


@pytest.mark.parametrize("header", [None, "", "   ", ",,,"])
def test_given_a_trusted_proxy_without_a_usable_header_then_the_proxy(header: str | None) -> None:
    assert client_address("10.1.2.3", header, PROXIES) == "10.1.2.3"


def test_given_garbage_in_the_chain_then_the_walk_stops_at_the_last_good_hop() -> None:
    assert client_address("10.1.2.3", "evil<script>, 10.0.0.7", PROXIES) == "10.0.0.7"
    assert client_address("10.1.2.3", "198.51.100.7, not-an-ip", PROXIES) == "10.1.2.3"


def test_given_ports_and_ipv6_then_the_address_alone() -> None:
    assert client_address("::1", "[2001:db8::5]:443", PROXIES) == "2001:db8::5"
    assert client_address("::1", "198.51.100.7:5555", PROXIES) == "198.51.100.7"


def test_given_a_huge_header_then_only_its_tail_is_read() -> None:
    # The client wrote the head; the proxies appended the tail, where the client is.
    header = ", ".join(["1.1.1.1"] * 100_000) + ", 198.51.100.7, 10.0.0.9"
    assert client_address("10.1.2.3", header, PROXIES) == "198.51.100.7"


def test_given_a_cut_inside_an_address_then_that_part_is_not_read() -> None:
    # The last 2000 characters start inside "192.168.1.55": "2.168.1.55" would be a
    # valid address nobody sent. The walk ends on the last hop read whole.
    header = "192.168.1.55, " + ", ".join(["10.0.0.1"] * 199)
    assert header[-2000:].startswith("2.168.1.55, ")
    assert client_address("10.1.2.3", header, PROXIES) == "10.0.0.1"


def test_given_every_hop_trusted_then_the_leftmost_one() -> None:
    assert client_address("10.1.2.3", "10.0.0.2, 10.0.0.3", PROXIES) == "10.0.0.2"


@pytest.mark.parametrize("value", ["10.0.0.0/33", "proxy.local", "10.0.0.1/8/8", "::g"])
def test_given_a_bad_setting_then_a_clear_error(value: str) -> None:
    with pytest.raises(SettingsError, match="trusted_proxies"):
        parse_trusted(value)


def test_given_blank_items_then_they_are_skipped() -> None:
    assert parse_trusted(" , ") == ()
    assert len(parse_trusted("127.0.0.1,")) == 1


def test_given_a_trusted_proxy_then_the_scheme_it_says_else_none() -> None:
    assert forwarded_scheme("10.1.2.3", "https", PROXIES) == "https"
    assert forwarded_scheme("10.1.2.3", " HTTPS ", PROXIES) == "https"
    assert forwarded_scheme("203.0.113.9", "https", PROXIES) is None  # not a proxy
    assert forwarded_scheme("10.1.2.3", "https", ()) is None  # no proxy trusted: off
    for junk in (None, "", "javascript", "wss", "x" * 5000, "https,", "https, ", "https,wss"):
        assert forwarded_scheme("10.1.2.3", junk, PROXIES) is None


@pytest.mark.parametrize(
    ("header", "scheme"),
    [
        ("https, http", "http"),  # the client wrote https on plain HTTP; the proxy appended
        ("http, https", "https"),  # the client wrote http; the TLS proxy appended https
        ("https, https, https, http", "http"),  # the client can only add on the left
        ("x" * 5000 + ", https", "https"),  # a huge forged part is not read
        ("https, " + "x" * 5000, None),  # ...and never stands in for the proxy's
    ],
)
def test_given_a_proxy_that_appends_then_its_own_last_value_not_the_clients(
    header: str, scheme: str | None
) -> None:
    """The first value was read: a proxy that appends (HAProxy's add-header) leaves the
    client's value first, so a client on plain HTTP that wrote https was believed."""
    assert forwarded_scheme("10.1.2.3", header, PROXIES) == scheme
