"""Short-lived SIP credentials for the browser phone, one per agent, in Redis.

A credential belongs to the console session that asked for it: only that
session may renew it; a new one replaces it; it dies when not renewed in time.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

import redis.asyncio as aioredis

CREDENTIALS_KEY = "cobrador:phone:credentials"
DEFAULT_TTL_SECONDS = 900.0


class CredentialError(Exception):
    """A renewal the console must refuse; `reason` is a stable code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Credential:
    agent_id: int
    password: str
    session: str
    expires_at: float

    @property
    def username(self) -> str:
        return endpoint_name(self.agent_id)

    def to_json(self) -> str:
        return json.dumps(
            {"password": self.password, "session": self.session, "expires_at": self.expires_at}
        )

    @classmethod
    def from_json(cls, agent_id: int, raw: str | bytes) -> Credential:
        data = json.loads(raw)
        return cls(agent_id, str(data["password"]), str(data["session"]), float(data["expires_at"]))


def endpoint_name(agent_id: int) -> str:
    """The PJSIP endpoint, AOR, auth and SIP user of an agent (asterisk-conf/README.md)."""
    return f"agent-{int(agent_id)}"


def new_session_token() -> str:
    return secrets.token_urlsafe(18)


class CredentialStore:
    """The live credentials of every agent (one Redis hash, field = agent id)."""

    def __init__(self, redis: aioredis.Redis, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        self.redis = redis
        self.ttl = ttl_seconds

    async def issue(self, agent_id: int, session: str, now: float) -> Credential:
        """A fresh random password for `session`, replacing any other credential."""
        credential = Credential(agent_id, secrets.token_urlsafe(24), session, now + self.ttl)
        await self.redis.hset(CREDENTIALS_KEY, str(agent_id), credential.to_json())
        return credential

    async def renew(self, agent_id: int, session: str, now: float) -> Credential:
        """Extend the credential of `session`; the password does not change."""
        current = await self.get(agent_id)
        if current is None:
            raise CredentialError("none")
        if not secrets.compare_digest(current.session, session):
            raise CredentialError("other_session")
        if current.expires_at <= now:
            raise CredentialError("expired")
        renewed = Credential(agent_id, current.password, session, now + self.ttl)
        await self.redis.hset(CREDENTIALS_KEY, str(agent_id), renewed.to_json())
        return renewed

    async def revoke(self, agent_id: int, session: str | None = None) -> bool:
        """Drop the agent's credential (only `session`'s, when given). True if one went."""
        current = await self.get(agent_id)
        if current is None:
            return False
        if session is not None and not secrets.compare_digest(current.session, session):
            return False
        return bool(await self.redis.hdel(CREDENTIALS_KEY, str(agent_id)))

    async def get(self, agent_id: int) -> Credential | None:
        raw = await self.redis.hget(CREDENTIALS_KEY, str(agent_id))
        if raw is None:
            return None
        try:
            return Credential.from_json(agent_id, raw)
        except (ValueError, KeyError, TypeError):
            return None

    async def live(self, now: float) -> dict[int, Credential]:
        """Credentials not yet expired; expired or unreadable ones are deleted."""
        stored = await self.redis.hgetall(CREDENTIALS_KEY)
        out: dict[int, Credential] = {}
        dead: list[str] = []
        for field, raw in stored.items():
            key = field.decode() if isinstance(field, bytes) else str(field)
            try:
                credential = Credential.from_json(int(key), raw)
            except (ValueError, KeyError, TypeError):
                dead.append(key)
                continue
            if credential.expires_at <= now:
                dead.append(key)
            else:
                out[credential.agent_id] = credential
        if dead:
            await self.redis.hdel(CREDENTIALS_KEY, *dead)
        return out
