"""The FastAGI `answer` route: the debtor answered; a person gets the longest-idle
ready agent within the connect grace (callers waiting inbound come first), else an
agent still pausing (dialer/pause_rule.py: the call may have been placed for them),
and a machine or a person nobody could take gets hung up or the safe-harbor message."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from dialer import call_state as cs
from dialer import channel_vars as cv
from dialer import messages as msg
from dialer.agent_state import AgentState, AgentStateError
from dialer.call_state import CallState
from dialer.fastagi import AGISession
from dialer.fastagi.errors import AGIError
from dialer.inbound.routing import owes_inbound
from dialer.loop.bridge_record import record_bridge
from dialer.loop.context import LoopContext
from metrics import definitions as m

log = logging.getLogger(__name__)

RESERVE_RETRY_SECONDS = 0.05  # between looks for a ready agent inside the grace


class AnswerRoute:
    def __init__(self, ctx: LoopContext) -> None:
        self.ctx = ctx
        # Set by the service when it places agent legs (dialer.agent_legs): checked
        # right after reserving, so a debtor is never bridged to a dead leg.
        self.agent_check: Callable[[int], Awaitable[bool]] | None = None

    async def agi_answer(self, agi: AGISession) -> None:
        ctx = self.ctx
        raw_id = await agi.get_variable(cv.ATTEMPT_ID)
        attempt_id = int(raw_id) if raw_id and raw_id.isdigit() else None
        live = ctx.calls.get(attempt_id) if attempt_id is not None else None
        if attempt_id is None or live is None:
            # Not ours (or forgotten): a person may be on the line, so the
            # safe-harbor message plays rather than silence.
            await agi.set_variable(cv.ACTION, cv.ACTION_SAFE_HARBOR)
            return
        now = ctx.clock()
        amd = (await agi.get_variable(cv.AMD_STATUS) or "").upper()
        call = live.call
        if call.state in (CallState.queued, CallState.ringing):
            call = cs.on_answer(call, now)
        if amd == cv.AMD_MACHINE:
            live.call = cs.on_amd(call, False, now)
            await agi.set_variable(cv.ACTION, cv.ACTION_HANGUP)
            return
        # The 2 s run from the end of the greeting, which AMD heard end some silence
        # before its verdict (AMDCAUSE); without AMD, from now (the answer).
        cause = await agi.get_variable(cv.AMD_CAUSE) if amd else None
        screened_before = call.human_at is not None
        call = cs.on_amd(call, True, now, cs.greeting_end(cause, now),
                         ctx.options.connect_grace_seconds)  # fmt: skip
        live.call = call
        if live.local_hour is not None and not screened_before and call.human_at is not None:
            # A person answered (once per call, whatever an agent then does).
            m.LOCAL_HOUR_CONTACTS.labels(**live.local_hour).inc()
        deadline = call.connect_by if call.connect_by is not None else now
        agent_id = await self._reserve_agent(
            attempt_id, deadline, live.claim.payload.get("agent_id")
        )
        if attempt_id not in ctx.calls:
            # The debtor hung up while we looked for an agent (an early hang-up, or an
            # abandon if the grace had run out): the Hangup already ended the attempt.
            if agent_id is not None:
                # The Hangup's end put them in wrap-up (live.reserved); one still
                # reserved goes back ready, or paused with a pause kept for after the
                # call (set_ready refuses a reserved agent).
                await ctx.agents.unreserve(agent_id, attempt_id)
            return
        recorder = ctx.recorder
        if agent_id is None:
            live.call = cs.on_abandoned(live.call, ctx.clock())
            if recorder is not None:  # proves the message played
                await recorder.at_answer(agi, attempt_id, cv.ACTION_SAFE_HARBOR)
            await agi.set_variable(cv.ACTION, cv.ACTION_SAFE_HARBOR)
            log.info("attempt %s abandoned: no agent within %.1f s", attempt_id,
                     ctx.options.connect_grace_seconds)  # fmt: skip
            return
        try:
            if recorder is not None:
                await recorder.at_answer(agi, attempt_id, cv.ACTION_BRIDGE)
            await agi.set_variable(cv.BRIDGE, cv.agent_bridge(agent_id))
            await agi.set_variable(cv.ACTION, cv.ACTION_BRIDGE)
        except AGIError:
            # The debtor hung up (or the AGI link failed) between the reservation and
            # the bridge: the agent would stay reserved for a call that is gone, and
            # never get another. Released through wrap-up, as after any call.
            with contextlib.suppress(AgentStateError):
                await ctx.agents.wrap_up(agent_id)
            raise
        bridged_at = ctx.clock()
        live.call = cs.on_bridged(live.call, agent_id, bridged_at)
        record_bridge(ctx.sql, attempt_id, agent_id, bridged_at)
        m.ANSWER_TO_BRIDGE.labels(ctx.name).observe(max(0.0, bridged_at - (call.human_at or now)))
        with contextlib.suppress(AgentStateError):
            await ctx.agents.talking(agent_id, attempt_id)
        recording = recorder.pop_fields() if recorder else {}
        await ctx.notifier.send(msg.Pop(
            attempt_id=attempt_id, agent_id=agent_id, account_id=call.account_id,
            campaign=ctx.name, published_at=time.time(), recording=recording.get("recording"),
            recording_notice=recording.get("recording_notice"),
        ))  # fmt: skip

    async def _reserve_agent(self, attempt_id: int, deadline: float, preferred: Any) -> int | None:
        """The longest-idle ready agent (a personal callback's own agent first); when
        none can take it, a pausing agent (the one who asked last first: the others
        have waited longer for their break); retried until the connect grace runs out."""
        ctx = self.ctx
        while True:
            listed = await ctx.agents.list(ctx.name)
            agents = [a for a in listed if a.state is AgentState.ready]
            if agents:
                # Inbound callers an agent may take get the agent first; only an agent's
                # own call (preview, personal callback) still goes to them.
                owed = await self._owed_to_inbound([a.agent_id for a in agents])
                agents = [a for a in agents if a.agent_id not in owed
                          or (preferred is not None and a.agent_id == int(preferred))]  # fmt: skip
            agents.sort(key=lambda a: a.since)
            pausing = sorted((a for a in listed if a.state is AgentState.pausing),
                             key=lambda a: -a.since)  # fmt: skip
            if preferred is not None:
                agents.sort(key=lambda a: a.agent_id != int(preferred))
                pausing.sort(key=lambda a: a.agent_id != int(preferred))
            candidates = [(a, False) for a in agents] + [(a, True) for a in pausing]
            for agent, last_resort in candidates:
                live = ctx.calls.get(attempt_id)
                if live is None:
                    return None  # the debtor hung up meanwhile: nobody to reserve for
                # Remembered before asking: a reply lost with Redis may hide a reservation.
                live.reserved.add(agent.agent_id)
                if not await ctx.agents.reserve(
                    agent.agent_id, attempt_id, pausing_too=last_resort
                ):
                    continue
                if await self._still_usable(agent.agent_id, attempt_id):
                    if last_resort:
                        log.info("attempt %s given to agent %s, pausing: nobody ready",
                                 attempt_id, agent.agent_id)  # fmt: skip
                    return agent.agent_id
            if ctx.clock() >= deadline:
                return None
            await asyncio.sleep(RESERVE_RETRY_SECONDS)

    async def _owed_to_inbound(self, ready: list[int]) -> set[int]:
        """The ready agents an inbound caller waits for (dialer.inbound.routing.owes_inbound):
        this campaign's callers, a skill group's the agent is in, or an overflowed caller of
        any campaign. One Redis round trip; routing and groups from the cached directory."""
        ctx = self.ctx
        directory = ctx.directory
        campaigns = [ctx.name, *(c for c in directory.rules if c != ctx.name)]
        oldest = await ctx.inbound.oldest(campaigns)
        if not oldest:
            return set()
        now = ctx.clock()
        waits = {c: max(0.0, now - since) for c, since in oldest.items()}
        return {a for a in ready if owes_inbound(ctx.name, directory.skills_of(a), waits,
                                                 directory.rules)}  # fmt: skip

    async def _still_usable(self, agent_id: int, attempt_id: int) -> bool:
        """Reserved, and still so with a live leg: a leg that dropped meanwhile put
        the agent in no_audio, and the debtor is treated as having no agent."""
        if self.agent_check is not None and not await self.agent_check(agent_id):
            return False
        snap = await self.ctx.agents.get(agent_id)
        return snap.state.value == "reserved" and snap.attempt_id == attempt_id
