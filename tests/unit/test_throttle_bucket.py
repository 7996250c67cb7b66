"""Per-address throttles count an IPv6 guesser by its /64, IPv4 by the address."""

from __future__ import annotations

import pytest

from cobrador.ground.addresses import throttle_bucket


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe"),
        ("2001:db8:1:2::1", "2001:DB8:1:2:0:0:0:9"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
    ],
)
def test_given_two_addresses_of_one_subscriber_then_one_bucket(first: str, second: str) -> None:
    assert throttle_bucket(first) == throttle_bucket(second)


@pytest.mark.parametrize(
    ("first", "second"),
    [("2001:db8:1:2::1", "2001:db8:1:3::1"), ("203.0.113.9", "203.0.113.10")],
)
def test_given_two_subscribers_then_two_buckets(first: str, second: str) -> None:
    assert throttle_bucket(first) != throttle_bucket(second)


def test_given_something_that_is_no_address_then_kept_bounded() -> None:
    assert throttle_bucket("unknown") == "unknown"
    assert len(throttle_bucket("x" * 500)) == 70
