"""Agent states in Redis, shared by the console (agents act) and the dialer (reserves).

One hash per agent, ``cobrador:agent:{<id>}`` (hash-tagged for Redis Cluster),
and one set per campaign, ``cobrador:agents:{<campaign>}``, of logged-in agents.
Every change is also published on ``cobrador:agent-events`` so wallboards update
live. ``reserve`` is atomic (Lua): only a ready agent can be given a call, so two
dialers can never hand the same agent two debtors.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import redis.asyncio as aioredis

from dialer.messages import AGENT_EVENTS_CHANNEL


class AgentState(StrEnum):
    logged_out = "logged_out"
    ready = "ready"
    reserved = "reserved"
    talking = "talking"
    wrap_up = "wrap_up"
    paused = "paused"
    no_audio = "no_audio"


class AgentStateError(ValueError):
    """A transition that is not allowed from the agent's current state."""


def agent_key(agent_id: int) -> str:
    return f"cobrador:agent:{{{agent_id}}}"


def campaign_key(campaign: str) -> str:
    return f"cobrador:agents:{{{campaign}}}"


@dataclass(frozen=True)
class AgentSnapshot:
    agent_id: int
    state: AgentState
    since: float
    reason: str
    campaign: str
    attempt_id: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "state": self.state.value,
            "since": self.since,
            "reason": self.reason,
            "campaign": self.campaign,
            "attempt_id": self.attempt_id,
        }


# Only from ready: set reserved with the attempt. KEYS[1]=agent hash;
# ARGV: attempt_id, now. Returns 1 when reserved, 0 otherwise.
_RESERVE_LUA = """
if redis.call('HGET', KEYS[1], 'state') ~= 'ready' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'reserved', 'since', ARGV[2], 'reason', '',
           'attempt_id', ARGV[1])
return 1
"""

# Set a state only when the current one is among the allowed ones (a '|' list);
# KEYS[1]=agent hash; ARGV: new state, now, reason, attempt_id ('' keeps), allowed.
_TRANSITION_LUA = """
local current = redis.call('HGET', KEYS[1], 'state')
if not current then return {0, 'logged_out'} end
local allowed = '|' .. ARGV[5] .. '|'
if ARGV[5] ~= '*' and not string.find(allowed, '|' .. current .. '|', 1, true) then
  return {0, current}
end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'since', ARGV[2], 'reason', ARGV[3])
if ARGV[4] == '-' then
  redis.call('HSET', KEYS[1], 'attempt_id', '')
elseif ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'attempt_id', ARGV[4])
end
return {1, current}
"""

# Wrap-up for the agent still on this attempt (reserved or talking); any other state,
# or another attempt, is left alone. KEYS[1]=agent hash; ARGV: attempt_id, now.
_RELEASE_LUA = """
local state = redis.call('HGET', KEYS[1], 'state')
if (state ~= 'reserved' and state ~= 'talking')
   or redis.call('HGET', KEYS[1], 'attempt_id') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'wrap_up', 'since', ARGV[2], 'reason', '')
return 1
"""

# Which states each transition may start from.
_FROM = {
    AgentState.ready: (
        AgentState.paused,
        AgentState.wrap_up,
        AgentState.ready,
        AgentState.no_audio,
    ),
    AgentState.paused: (
        AgentState.ready,
        AgentState.wrap_up,
        AgentState.paused,
        AgentState.no_audio,
    ),
    AgentState.talking: (AgentState.reserved, AgentState.talking, AgentState.ready),
    AgentState.wrap_up: (AgentState.talking, AgentState.reserved, AgentState.wrap_up),
    AgentState.no_audio: tuple(AgentState),
}


class AgentStates:
    """Reads and changes agent states; every change is published as an event."""

    def __init__(self, redis: aioredis.Redis, clock: Callable[[], float] = time.time) -> None:
        self._redis = redis
        self._clock = clock
        self._reserve = redis.register_script(_RESERVE_LUA)
        self._transition = redis.register_script(_TRANSITION_LUA)
        self._release = redis.register_script(_RELEASE_LUA)

    async def login(self, agent_id: int, campaign: str) -> AgentSnapshot:
        """Log in paused ('login'): the agent goes ready by choice, never by surprise."""
        now = self._clock()
        old = await self.get(agent_id)
        pipe = self._redis.pipeline(transaction=True)
        if old.state != AgentState.logged_out and old.campaign and old.campaign != campaign:
            pipe.srem(campaign_key(old.campaign), agent_id)
        if old.state == AgentState.logged_out:
            pipe.hset(
                agent_key(agent_id),
                mapping={
                    "state": AgentState.paused.value,
                    "since": repr(now),
                    "reason": "login",
                    "campaign": campaign,
                    "attempt_id": "",
                },
            )
        else:
            pipe.hset(agent_key(agent_id), "campaign", campaign)
        pipe.sadd(campaign_key(campaign), agent_id)
        await pipe.execute()
        return await self._changed(agent_id)

    async def logout(self, agent_id: int) -> AgentSnapshot:
        old = await self.get(agent_id)
        pipe = self._redis.pipeline(transaction=True)
        if old.campaign:
            pipe.srem(campaign_key(old.campaign), agent_id)
        pipe.delete(agent_key(agent_id))
        await pipe.execute()
        return await self._changed(agent_id, campaign=old.campaign)

    async def set_ready(self, agent_id: int) -> AgentSnapshot:
        return await self._move(agent_id, AgentState.ready, "", "-")

    async def pause(self, agent_id: int, reason: str) -> AgentSnapshot:
        if not reason:
            raise AgentStateError("a pause needs a reason")
        return await self._move(agent_id, AgentState.paused, reason, "")

    async def reserve(self, agent_id: int, attempt_id: int) -> bool:
        """Atomically give a ready agent a call; False if the agent is not ready."""
        done = await self._reserve(
            keys=[agent_key(agent_id)], args=[str(attempt_id), repr(self._clock())]
        )
        if int(done):
            await self._changed(agent_id)
        return bool(int(done))

    async def release(self, agent_id: int, attempt_id: int) -> bool:
        """The attempt is over: its agent goes to wrap-up, if still on it. Idempotent,
        so the end of a call, a retry after an outage and a reconciliation may all
        call it; an agent already on another call or back to ready is left alone."""
        done = await self._release(
            keys=[agent_key(agent_id)], args=[str(attempt_id), repr(self._clock())]
        )
        if int(done):
            await self._changed(agent_id)
        return bool(int(done))

    async def talking(self, agent_id: int, attempt_id: int | None = None) -> AgentSnapshot:
        return await self._move(
            agent_id, AgentState.talking, "", str(attempt_id) if attempt_id else ""
        )

    async def wrap_up(self, agent_id: int) -> AgentSnapshot:
        return await self._move(agent_id, AgentState.wrap_up, "", "")

    async def no_audio(self, agent_id: int) -> AgentSnapshot:
        return await self._move(agent_id, AgentState.no_audio, "", "")

    async def get(self, agent_id: int) -> AgentSnapshot:
        raw = await self._redis.hgetall(agent_key(agent_id))
        return _snapshot(agent_id, raw)

    async def list(self, campaign: str) -> list[AgentSnapshot]:
        ids = sorted(int(x) for x in await self._redis.smembers(campaign_key(campaign)))
        if not ids:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for agent_id in ids:
            pipe.hgetall(agent_key(agent_id))
        rows = await pipe.execute()
        return [_snapshot(agent_id, raw) for agent_id, raw in zip(ids, rows, strict=True)]

    async def _move(
        self, agent_id: int, state: AgentState, reason: str, attempt: str
    ) -> AgentSnapshot:
        allowed = "|".join(s.value for s in _FROM[state])
        done, current = await self._transition(
            keys=[agent_key(agent_id)],
            args=[state.value, repr(self._clock()), reason, attempt, allowed],
        )
        if not int(done):
            current = current.decode() if isinstance(current, bytes) else current
            raise AgentStateError(f"cannot go {state.value} from {current}")
        return await self._changed(agent_id)

    async def _changed(self, agent_id: int, campaign: str | None = None) -> AgentSnapshot:
        snap = await self.get(agent_id)
        event = snap.as_dict()
        if campaign and not snap.campaign:
            event["campaign"] = campaign
        await self._redis.publish(AGENT_EVENTS_CHANNEL, json.dumps(event))
        return snap


def _text(raw: dict[Any, Any], name: str) -> str:
    value = raw.get(name.encode(), raw.get(name, b""))
    return value.decode() if isinstance(value, bytes) else str(value or "")


def _snapshot(agent_id: int, raw: dict[Any, Any]) -> AgentSnapshot:
    if not raw:
        return AgentSnapshot(agent_id, AgentState.logged_out, 0.0, "", "", None)
    attempt = _text(raw, "attempt_id")
    try:
        state = AgentState(_text(raw, "state"))
    except ValueError:
        state = AgentState.logged_out
    return AgentSnapshot(
        agent_id=agent_id,
        state=state,
        since=float(_text(raw, "since") or 0.0),
        reason=_text(raw, "reason"),
        campaign=_text(raw, "campaign"),
        attempt_id=int(attempt) if attempt else None,
    )
