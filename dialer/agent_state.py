"""Agent states in Redis, shared by the console (agents act) and the dialer (reserves).

One hash per agent, ``cobrador:agent:{<id>}`` (hash-tagged for Redis Cluster),
and one set per campaign, ``cobrador:agents:{<campaign>}``, of logged-in agents.
Every change is also published on ``cobrador:agent-events`` so wallboards update
live. ``reserve`` is atomic (Lua): only a ready agent can be given a call, so two
dialers can never hand the same agent two debtors.

A ready agent who asks for a pause while calls placed for the floor are in flight
is ``pausing`` (``dialer/pause_rule.py``): taken for no new call, given an answered
debtor only when no ready agent can take it, and ``paused`` once those calls are
over or at the wait's deadline (the hash holds it, so any read past it settles it).
An agent given a call while pausing keeps the reason in ``pause_after`` and ends
that call's wrap-up paused with it. A pause kept so (the agent's, or a scheduled
break's) outlives every way out of the call: the wrap-up's end (``set_ready``, the
Disponible button or its timer), a reservation given back before the bridge
(``unreserve``), and a phone leg lost meanwhile (``no_audio`` keeps it, and the
agent's return from it ends paused with it).
"""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import redis.asyncio as aioredis

from dialer.messages import AGENT_EVENTS_CHANNEL
from dialer.pause_rule import PauseWait, began_at


class AgentState(StrEnum):
    logged_out = "logged_out"
    ready = "ready"
    reserved = "reserved"
    talking = "talking"
    wrap_up = "wrap_up"
    paused = "paused"
    no_audio = "no_audio"
    # Asked for a pause while calls placed for the floor were in flight: busy for new
    # calls, a last resort for those answered, paused once they are over.
    pausing = "pausing"


class AgentStateError(ValueError):
    """A transition that is not allowed from the agent's current state."""


@dataclass(frozen=True)
class Left:
    """The state a move took an agent out of, and its attempt, read in the move's own
    atomic step (a read before it may be stale by then)."""

    state: AgentState
    attempt_id: int | None


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
    pause_wait: PauseWait | None = None  # while pausing: what the pause waits for
    pause_after: str = ""  # a pause asked before or during this call: its reason, after wrap-up
    # The last scheduled break whose pause was asked ("<break id>:<local day>"), set in
    # the pause's own step: a console restarted between claiming a break and recording
    # the ask reads whether the ask was made (console/break_taker.py). Until logout.
    break_mark: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "state": self.state.value,
            "since": self.since,
            "reason": self.reason,
            "campaign": self.campaign,
            "attempt_id": self.attempt_id,
            "pause_deadline": self.pause_wait.deadline if self.pause_wait else None,
            "pause_after": self.pause_after,
        }


_PAUSE_FIELDS = "'pause_mark', 'pause_deadline', 'pause_after'"

# From ready: set reserved with the attempt; from pausing too when ARGV[3] is '1' (an
# answered debtor nobody ready can take) and its deadline is ahead, the asked reason
# kept for after the call. KEYS[1]=agent hash; ARGV: attempt_id, now, pausing allowed.
# Returns 1 when reserved, 0 otherwise.
_RESERVE_LUA = """
local state = redis.call('HGET', KEYS[1], 'state')
local after = ''
if state == 'pausing' and ARGV[3] == '1' then
  local deadline = tonumber(redis.call('HGET', KEYS[1], 'pause_deadline') or '') or 0
  if deadline <= tonumber(ARGV[2]) then return 0 end
  after = redis.call('HGET', KEYS[1], 'reason') or ''
elseif state ~= 'ready' then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'reserved', 'since', ARGV[2], 'reason', '',
           'attempt_id', ARGV[1], 'pause_after', after)
redis.call('HDEL', KEYS[1], 'pause_mark', 'pause_deadline')
return 1
"""

# The agent's pause. From ready with a wait (ARGV[3] ~= ''): pausing, with what it
# waits for; from pausing: the new reason, the same wait; from ready (nothing in
# flight), wrap-up, paused or no audio: paused now; in a call (reserved or talking):
# kept for after it (pause_after), so the wrap-up ends paused and the pacing counts
# the agent out from now. KEYS[1]=agent hash; ARGV: reason, now, mark, deadline, and
# a scheduled break's mark ('' none: see AgentSnapshot.break_mark), kept with the pause.
# Returns {done, state before, its attempt_id}.
_PAUSE_LUA = """
local current = redis.call('HGET', KEYS[1], 'state')
if not current then return {0, 'logged_out', ''} end
local attempt = redis.call('HGET', KEYS[1], 'attempt_id') or ''
local function asked()
  if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'break_mark', ARGV[5]) end
  return {1, current, attempt}
end
if current == 'pausing' then
  redis.call('HSET', KEYS[1], 'reason', ARGV[1])
  return asked()
end
if current == 'reserved' or current == 'talking' then
  redis.call('HSET', KEYS[1], 'pause_after', ARGV[1])
  return asked()
end
if current == 'ready' and ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'state', 'pausing', 'since', ARGV[2], 'reason', ARGV[1],
             'pause_mark', ARGV[3], 'pause_deadline', ARGV[4], 'pause_after', '')
  return asked()
end
if current == 'ready' or current == 'wrap_up' or current == 'paused' or current == 'no_audio' then
  redis.call('HSET', KEYS[1], 'state', 'paused', 'since', ARGV[2], 'reason', ARGV[1])
  redis.call('HDEL', KEYS[1], PAUSE_FIELDS)
  return asked()
end
return {0, current, attempt}
""".replace("PAUSE_FIELDS", _PAUSE_FIELDS)

# Ready (the end of a wrap-up, the Disponible button): an agent who asked for a pause
# before or during this call ends its wrap-up paused with that reason instead, also
# when the phone's leg was lost meanwhile (no_audio keeps pause_after).
# KEYS[1]=agent hash; ARGV: now, allowed states ('|' list).
# Returns {done, state before, its attempt_id}.
_READY_LUA = """
local current = redis.call('HGET', KEYS[1], 'state')
if not current then return {0, 'logged_out', ''} end
local attempt = redis.call('HGET', KEYS[1], 'attempt_id') or ''
if not string.find('|' .. ARGV[2] .. '|', '|' .. current .. '|', 1, true) then
  return {0, current, attempt}
end
local after = redis.call('HGET', KEYS[1], 'pause_after') or ''
if (current == 'wrap_up' or current == 'no_audio') and after ~= '' then
  redis.call('HSET', KEYS[1], 'state', 'paused', 'since', ARGV[1], 'reason', after)
else
  redis.call('HSET', KEYS[1], 'state', 'ready', 'since', ARGV[1], 'reason', '',
             'attempt_id', '')
end
redis.call('HDEL', KEYS[1], PAUSE_FIELDS)
return {1, current, attempt}
""".replace("PAUSE_FIELDS", _PAUSE_FIELDS)

# A pause kept for after the call (pause_after), only while the agent is in one or in
# its wrap-up: a scheduled break that comes due then waits for the call's end.
# KEYS[1]=agent hash; ARGV: reason, a scheduled break's mark ('' none).
# Returns {done, state before}.
_PAUSE_AFTER_LUA = """
local current = redis.call('HGET', KEYS[1], 'state')
if not current then return {0, 'logged_out'} end
if current == 'reserved' or current == 'talking' or current == 'wrap_up' then
  redis.call('HSET', KEYS[1], 'pause_after', ARGV[1])
  if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'break_mark', ARGV[2]) end
  return {1, current}
end
return {0, current}
"""

# The agent takes back a pause not begun: pausing goes ready; one kept for after the
# call is forgotten. KEYS[1]=agent hash; ARGV: now. Returns {done, state before}.
_CANCEL_PAUSE_LUA = """
local current = redis.call('HGET', KEYS[1], 'state')
if not current then return {0, 'logged_out'} end
if current == 'pausing' then
  redis.call('HSET', KEYS[1], 'state', 'ready', 'since', ARGV[1], 'reason', '')
  redis.call('HDEL', KEYS[1], PAUSE_FIELDS)
  return {1, current}
end
if (redis.call('HGET', KEYS[1], 'pause_after') or '') ~= '' then
  redis.call('HDEL', KEYS[1], 'pause_after')
  return {1, current}
end
return {0, current}
""".replace("PAUSE_FIELDS", _PAUSE_FIELDS)

# Pausing -> paused, begun at ARGV[2], only for the wait whose deadline is ARGV[1] (a
# settle decided on an older read never ends a newer pause). KEYS[1]=agent hash.
_SETTLE_LUA = """
if redis.call('HGET', KEYS[1], 'state') ~= 'pausing'
   or redis.call('HGET', KEYS[1], 'pause_deadline') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'paused', 'since', ARGV[2])
redis.call('HDEL', KEYS[1], PAUSE_FIELDS)
return 1
""".replace("PAUSE_FIELDS", _PAUSE_FIELDS)

# Set a state only when the current one is among the allowed ones (a '|' list);
# KEYS[1]=agent hash; ARGV: new state, now, reason, attempt_id ('' keeps), allowed.
# A pause kept for after the call (pause_after) stays through talking, wrap-up and
# no_audio (a leg lost in the call: the return from it takes the pause, see
# _OUT_OF_NO_AUDIO_LUA); a pausing wait ends with any move.
_TRANSITION_LUA = """
local current = redis.call('HGET', KEYS[1], 'state')
if not current then return {0, 'logged_out'} end
local allowed = '|' .. ARGV[5] .. '|'
if ARGV[5] ~= '*' and not string.find(allowed, '|' .. current .. '|', 1, true) then
  return {0, current}
end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'since', ARGV[2], 'reason', ARGV[3])
if ARGV[1] == 'no_audio' then
  redis.call('HDEL', KEYS[1], 'pause_mark', 'pause_deadline')
elseif ARGV[1] ~= 'talking' and ARGV[1] ~= 'wrap_up' then
  redis.call('HDEL', KEYS[1], PAUSE_FIELDS)
end
if ARGV[4] == '-' then
  redis.call('HSET', KEYS[1], 'attempt_id', '')
elseif ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'attempt_id', ARGV[4])
end
return {1, current}
""".replace("PAUSE_FIELDS", _PAUSE_FIELDS)

# Back from no_audio (the leg is up again), only from no_audio: to ARGV[1] (ready or
# paused with ARGV[3]); but paused with the pause kept for after the call when the leg
# was lost in one (pause_after): that call is over by now. KEYS[1]=agent hash;
# ARGV: state, now, reason. Returns {done, state before}.
_OUT_OF_NO_AUDIO_LUA = """
local current = redis.call('HGET', KEYS[1], 'state')
if not current then return {0, 'logged_out'} end
if current ~= 'no_audio' then return {0, current} end
local after = redis.call('HGET', KEYS[1], 'pause_after') or ''
if after ~= '' then
  redis.call('HSET', KEYS[1], 'state', 'paused', 'since', ARGV[2], 'reason', after)
elseif ARGV[1] == 'ready' then
  redis.call('HSET', KEYS[1], 'state', 'ready', 'since', ARGV[2], 'reason', '',
             'attempt_id', '')
else
  redis.call('HSET', KEYS[1], 'state', ARGV[1], 'since', ARGV[2], 'reason', ARGV[3])
end
redis.call('HDEL', KEYS[1], PAUSE_FIELDS)
return {1, current}
""".replace("PAUSE_FIELDS", _PAUSE_FIELDS)

# A reservation given back before any bridge (the debtor hung up while an agent was
# sought, a transfer Asterisk refused): the agent goes back where they were, ready,
# or paused with the pause kept for after the call (asked while pausing or while
# reserved, or a scheduled break). Only for the agent still reserved on this
# attempt. KEYS[1]=agent hash; ARGV: attempt_id, now. Returns 1 when given back.
_UNRESERVE_LUA = """
if redis.call('HGET', KEYS[1], 'state') ~= 'reserved'
   or redis.call('HGET', KEYS[1], 'attempt_id') ~= ARGV[1] then
  return 0
end
local after = redis.call('HGET', KEYS[1], 'pause_after') or ''
if after ~= '' then
  redis.call('HSET', KEYS[1], 'state', 'paused', 'since', ARGV[2], 'reason', after,
             'attempt_id', '')
else
  redis.call('HSET', KEYS[1], 'state', 'ready', 'since', ARGV[2], 'reason', '',
             'attempt_id', '')
end
redis.call('HDEL', KEYS[1], PAUSE_FIELDS)
return 1
""".replace("PAUSE_FIELDS", _PAUSE_FIELDS)

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
        AgentState.pausing,  # the Disponible button takes back a pause not begun
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
        self._pause = redis.register_script(_PAUSE_LUA)
        self._pause_after = redis.register_script(_PAUSE_AFTER_LUA)
        self._ready = redis.register_script(_READY_LUA)
        self._cancel_pause = redis.register_script(_CANCEL_PAUSE_LUA)
        self._settle = redis.register_script(_SETTLE_LUA)
        self._out_of_no_audio = redis.register_script(_OUT_OF_NO_AUDIO_LUA)
        self._unreserve = redis.register_script(_UNRESERVE_LUA)

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
        """Ready; but paused with its reason for an agent ending the wrap-up of a call
        given while they were pausing (``pause_after``)."""
        return (await self.set_ready_from(agent_id))[1]

    async def set_ready_from(self, agent_id: int) -> tuple[Left, AgentSnapshot]:
        """set_ready, with the state it took the agent out of (of two at once, only
        one leaves a wrap-up: the console counts its end once)."""
        allowed = "|".join(s.value for s in _FROM[AgentState.ready])
        done, current, attempt = await self._ready(
            keys=[agent_key(agent_id)], args=[repr(self._clock()), allowed]
        )
        after = await self._checked(agent_id, done, current, AgentState.ready)
        return _left(current, attempt), after

    async def pause(
        self, agent_id: int, reason: str, wait: PauseWait | None = None, *, break_mark: str = ""
    ) -> AgentSnapshot:
        """Paused now, or pausing when the agent is ready and `wait` says what the pause
        waits for (``pause_rule.ask``). A pause asked while pausing changes its reason.
        Pauses the agent did not ask for (a reconnect's) pass no wait: they hold now."""
        return (await self.pause_from(agent_id, reason, wait, break_mark=break_mark))[1]

    async def pause_from(
        self, agent_id: int, reason: str, wait: PauseWait | None = None, *, break_mark: str = ""
    ) -> tuple[Left, AgentSnapshot]:
        """pause, with the state it took the agent out of (as set_ready_from).
        `break_mark`: the scheduled break this pause is for, kept with it."""
        if not reason:
            raise AgentStateError("a pause needs a reason")
        mark, deadline = (repr(wait.mark), repr(wait.deadline)) if wait else ("", "")
        done, current, attempt = await self._pause(
            keys=[agent_key(agent_id)],
            args=[reason, repr(self._clock()), mark, deadline, break_mark],
        )
        after = await self._checked(agent_id, done, current, AgentState.paused)
        return _left(current, attempt), after

    async def pause_after_call(
        self, agent_id: int, reason: str, *, break_mark: str = ""
    ) -> AgentSnapshot:
        """A pause kept for after the agent's call or wrap-up: their wrap-up ends paused
        with `reason`. AgentStateError when the agent is in no call."""
        if not reason:
            raise AgentStateError("a pause needs a reason")
        done, current = await self._pause_after(
            keys=[agent_key(agent_id)], args=[reason, break_mark]
        )
        if not int(done):
            current = current.decode() if isinstance(current, bytes) else current
            raise AgentStateError(f"no call to pause after in {current}")
        return await self._changed(agent_id)

    async def cancel_pause(self, agent_id: int) -> AgentSnapshot:
        """The agent takes back a pause not begun: pausing goes ready, and one asked
        before a call is no longer taken after it."""
        done, current = await self._cancel_pause(
            keys=[agent_key(agent_id)], args=[repr(self._clock())]
        )
        if not int(done):
            current = current.decode() if isinstance(current, bytes) else current
            raise AgentStateError(f"no pause to take back in {current}")
        return await self._changed(agent_id)

    async def reserve(self, agent_id: int, attempt_id: int, *, pausing_too: bool = False) -> bool:
        """Atomically give a ready agent a call; False if the agent is not ready.
        `pausing_too`: a pausing agent may be given it as well (an answered debtor
        nobody ready can take, dialer/loop/answer.py); no other caller passes it."""
        done = await self._reserve(
            keys=[agent_key(agent_id)],
            args=[str(attempt_id), repr(self._clock()), "1" if pausing_too else "0"],
        )
        if int(done):
            await self._changed(agent_id)
        return bool(int(done))

    async def settle(self, snap: AgentSnapshot, began: float) -> AgentSnapshot:
        """A pausing agent's pause began at `began`: paused from then, unless the agent
        moved meanwhile (reserved, took it back, asked again)."""
        if snap.pause_wait is None:
            return snap
        done = await self._settle(
            keys=[agent_key(snap.agent_id)], args=[repr(snap.pause_wait.deadline), repr(began)]
        )
        if int(done):
            return await self._changed(snap.agent_id)
        return _snapshot(snap.agent_id, await self._redis.hgetall(agent_key(snap.agent_id)))

    async def settle_pausing(self, snaps: builtins.list[AgentSnapshot], in_flight: tuple[float, ...] | None,
                             now: float) -> builtins.list[AgentSnapshot]:  # fmt: skip
        """The dial loop's look each tick: pausing agents whose calls waited for are no
        longer in flight (`in_flight`: every dialer's, from the shared floor) are paused."""
        out = []
        for snap in snaps:
            if snap.state is AgentState.pausing and snap.pause_wait is not None:
                began = began_at(snap.pause_wait, in_flight, now)
                if began is not None:
                    snap = await self.settle(snap, began)
            out.append(snap)
        return out

    async def unreserve(self, agent_id: int, attempt_id: int) -> bool:
        """A reservation for `attempt_id` given back before any bridge: the agent is
        ready again, or paused with the pause kept for after the call. False (nothing
        changed) when the agent is no longer reserved on that attempt."""
        done = await self._unreserve(
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

    async def out_of_no_audio(self, agent_id: int, state: AgentState,
                              reason: str = "") -> AgentSnapshot:  # fmt: skip
        """Back from no_audio to ready, or to paused with `reason` (the leg is up again);
        paused with the pause kept for after the call instead when the leg was lost in
        one (``pause_after``). Only from no_audio, atomically: of two restores at once (an agent event and the
        leg's AMI event, or two dialers) one moves the agent, the other gets
        AgentStateError, and neither moves an agent who went on meanwhile."""
        if state is AgentState.ready:
            reason = ""
        elif not (state is AgentState.paused and reason):
            raise AgentStateError(f"no audio ends ready or paused with a reason, not {state.value}")
        done, current = await self._out_of_no_audio(
            keys=[agent_key(agent_id)], args=[state.value, repr(self._clock()), reason]
        )
        return await self._checked(agent_id, done, current, state)

    async def get(self, agent_id: int) -> AgentSnapshot:
        raw = await self._redis.hgetall(agent_key(agent_id))
        return (await self._overdue([_snapshot(agent_id, raw)]))[0]

    async def list(self, campaign: str) -> list[AgentSnapshot]:
        ids = sorted(int(x) for x in await self._redis.smembers(campaign_key(campaign)))
        if not ids:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for agent_id in ids:
            pipe.hgetall(agent_key(agent_id))
        rows = await pipe.execute()
        return await self._overdue(
            [_snapshot(agent_id, raw) for agent_id, raw in zip(ids, rows, strict=True)]
        )

    async def _overdue(self, snaps: builtins.list[AgentSnapshot]) -> builtins.list[AgentSnapshot]:
        """Every read settles a pausing agent past the deadline: bounded even when no
        dialer is left to see the calls end."""
        if not any(s.state is AgentState.pausing for s in snaps):
            return snaps
        return await self.settle_pausing(snaps, None, self._clock())

    async def _move(
        self, agent_id: int, state: AgentState, reason: str, attempt: str
    ) -> AgentSnapshot:
        allowed = "|".join(s.value for s in _FROM[state])
        done, current = await self._transition(
            keys=[agent_key(agent_id)],
            args=[state.value, repr(self._clock()), reason, attempt, allowed],
        )
        return await self._checked(agent_id, done, current, state)

    async def _checked(self, agent_id: int, done: Any, current: Any,
                       state: AgentState) -> AgentSnapshot:  # fmt: skip
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


def _left(state: Any, attempt: Any) -> Left:
    state = state.decode() if isinstance(state, bytes) else str(state)
    attempt = attempt.decode() if isinstance(attempt, bytes) else str(attempt or "")
    try:
        left = AgentState(state)
    except ValueError:
        left = AgentState.logged_out
    return Left(left, int(attempt) if attempt.isdigit() else None)


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
    since = float(_text(raw, "since") or 0.0)
    reason = _text(raw, "reason")
    wait = None
    if state is AgentState.pausing:
        try:
            wait = PauseWait(reason, since, float(_text(raw, "pause_mark")),
                             float(_text(raw, "pause_deadline")))  # fmt: skip
        except ValueError:
            # Unreadable: the wait is over (a pause must never stay pending unbounded).
            wait = PauseWait(reason, since, since, since)
    return AgentSnapshot(
        agent_id=agent_id,
        state=state,
        since=since,
        reason=reason,
        campaign=_text(raw, "campaign"),
        attempt_id=int(attempt) if attempt else None,
        pause_wait=wait,
        pause_after=_text(raw, "pause_after"),
        break_mark=_text(raw, "break_mark"),
    )
