"""The console's CSRF and WebSocket Origin checks (console/security.py) on values no
browser sends: no match, never an exception (a 500 before any handler ran)."""

from __future__ import annotations

import pytest

from console.security import csrf_matches, new_csrf_token, same_origin


@pytest.mark.parametrize("given", ["\udcff" * 43, "é" * 43, "ñ", "\x00"])
def test_given_a_csrf_token_not_ascii_then_no_match(given: str) -> None:
    assert csrf_matches(new_csrf_token(), given) is False


def test_given_the_sessions_own_token_then_a_match() -> None:
    token = new_csrf_token()
    assert csrf_matches(token, token) is True


@pytest.mark.parametrize("origin", ["http://[", "http://[::1", "https://[x]:80", "http://\udcff"])
def test_given_an_origin_no_browser_sends_then_not_the_same_origin(origin: str) -> None:
    assert same_origin(origin, "http", "127.0.0.1:8080") is False


def test_given_our_own_origin_then_the_same_origin() -> None:
    assert same_origin("http://127.0.0.1:8080", "http", "127.0.0.1:8080") is True
