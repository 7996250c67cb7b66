"""What our relay says of DELIVERBY (RFC 2852) decides whether a message may carry a
deliver-by bound; whatever the relay writes there is an answer, never an exception."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from gateways.smtp import _deliver_by_allowed


def _relay(keyword: str | None) -> SimpleNamespace:
    extensions = {} if keyword is None else {"deliverby": keyword}
    return SimpleNamespace(esmtp_extensions=extensions,
                           supports_extension=lambda name: name in extensions)  # fmt: skip


@pytest.mark.parametrize(
    ("keyword", "allowed"),
    [(None, False), ("", True), ("60", True), ("3600", False), ("x", True),
     ("²", True)],  # a digit to str.isdigit(), none to int(): it raised ValueError
)  # fmt: skip
def test_given_the_relays_deliverby_then_whether_a_bound_of_600_s_is_allowed(
    keyword: str | None, allowed: bool
) -> None:
    assert _deliver_by_allowed(_relay(keyword), 600) is allowed  # type: ignore[arg-type]
