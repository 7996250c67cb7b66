"""Short-lived play tokens: one audited play, then any number of range requests.

A browser's <audio> element fetches a recording in many range requests (the
first bytes, the end for the header, every seek). The play is audited once,
when the page asks for a token (POST, CSRF-checked); the range requests
carry the token and are not audited again. A token is bound to one user and
one recording and lives PLAY_TOKEN_SECONDS in Redis.
"""

from __future__ import annotations

import secrets

import redis.asyncio as aioredis

PLAY_TOKEN_SECONDS = 30 * 60
_PREFIX = "cobrador:console:play:"


class PlayTokens:
    def __init__(self, redis: aioredis.Redis, ttl: int = PLAY_TOKEN_SECONDS) -> None:
        self._redis = redis
        self._ttl = ttl

    async def issue(self, user_id: int, recording_id: int) -> str:
        token = secrets.token_urlsafe(24)
        await self._redis.set(_PREFIX + token, f"{user_id}:{recording_id}", ex=self._ttl)
        return token

    async def valid(self, token: str, user_id: int, recording_id: int) -> bool:
        if not token or len(token) > 64 or not token.replace("-", "").replace("_", "").isalnum():
            return False
        value = await self._redis.get(_PREFIX + token)
        if value is None:
            return False
        if isinstance(value, bytes):
            value = value.decode()
        return bool(value == f"{user_id}:{recording_id}")
