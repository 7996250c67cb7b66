"""Passwords (argon2), CSRF tokens, WebSocket Origin checks and login throttling."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()
# A real hash to verify against when the user does not exist, so a missing
# user costs the same time as a wrong password (no user enumeration by timing).
_DUMMY_HASH = _HASHER.hash("cobrador-no-such-user")

MIN_PASSWORD_LENGTH = 10

LOGIN_FAILURES_PER_USER = 5
LOGIN_FAILURES_PER_ADDRESS = 20
LOGIN_WINDOW_SECONDS = 15 * 60


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
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def same_origin(origin: str | None, scheme: str, host: str | None) -> bool:
    """A browser WebSocket from our own page sends Origin == our scheme://host."""
    if not origin or not host:
        return False
    parts = urlsplit(origin)
    expected_scheme = "https" if scheme in ("https", "wss") else "http"
    return parts.scheme == expected_scheme and parts.netloc.lower() == host.lower()


class LoginThrottle:
    """Counts failed logins per user name and per client address in Redis windows."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis

    @staticmethod
    def _keys(username: str, address: str) -> tuple[str, str]:
        return (
            f"cobrador:console:login-fail:user:{username.lower()}",
            f"cobrador:console:login-fail:addr:{address}",
        )

    async def blocked(self, username: str, address: str) -> bool:
        user_key, addr_key = self._keys(username, address)
        user_count, addr_count = await self._redis.mget(user_key, addr_key)
        return (
            int(user_count or 0) >= LOGIN_FAILURES_PER_USER
            or int(addr_count or 0) >= LOGIN_FAILURES_PER_ADDRESS
        )

    async def failed(self, username: str, address: str) -> None:
        pipe = self._redis.pipeline(transaction=True)
        for key in self._keys(username, address):
            # The window starts at the first failure (SET NX EX works on Redis 6).
            pipe.set(key, 0, ex=LOGIN_WINDOW_SECONDS, nx=True)
            pipe.incr(key)
        await pipe.execute()

    async def succeeded(self, username: str, address: str) -> None:
        await self._redis.delete(self._keys(username, address)[0])
