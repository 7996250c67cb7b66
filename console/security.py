"""Passwords (argon2), CSRF tokens and WebSocket Origin checks (login throttling: login_throttle)."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()
# A real hash to verify against when the user does not exist, so a missing
# user costs the same time as a wrong password (no user enumeration by timing).
_DUMMY_HASH = _HASHER.hash("cobrador-no-such-user")

MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    # Tokens are URL-safe base64: anything else (a header of bytes that are not UTF-8,
    # which aiohttp hands over as lone surrogates that .encode() refuses) is no match.
    if not expected or not given or not given.isascii():
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def same_origin(origin: str | None, scheme: str, host: str | None) -> bool:
    """A browser WebSocket from our own page sends Origin == our scheme://host."""
    if not origin or not host:
        return False
    try:
        parts = urlsplit(origin)
    except ValueError:  # "http://[": an unclosed IPv6 host no browser sends
        return False
    expected_scheme = "https" if scheme in ("https", "wss") else "http"
    return parts.scheme == expected_scheme and parts.netloc.lower() == host.lower()
