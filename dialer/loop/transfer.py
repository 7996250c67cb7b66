"""Transfer of a bridged debtor to another agent: Setvar + Redirect into the other
agent's bridge (as recorded on Asterisk 22); the first agent keeps their own leg."""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import replace

from dialer import channel_vars as cv
from dialer import messages as msg
from dialer.agent_state import AgentStateError
from dialer.ami.errors import AMIError
from dialer.call_state import CallState
from dialer.command_replies import ASTERISK, NO_AGENT, REFUSED, Reply
from dialer.loop.bridge_record import record_bridge
from dialer.loop.context import LoopContext

log = logging.getLogger(__name__)


class Transfer:
    def __init__(self, ctx: LoopContext) -> None:
        self.ctx = ctx

    async def transfer(
        self, attempt_id: int, from_agent: int, to_agent: int | None
    ) -> Reply | None:
        """None: not this loop's call (another dialer answers)."""
        ctx = self.ctx
        live = ctx.calls.get(attempt_id)
        if live is None:
            if ctx.recorder is not None and ctx.recorder.inbound_leg(attempt_id) is not None:
                # The caller's channel runs [cobrador-inbound-call], whose `h` extension
                # closes the attempt: a Redirect into another bridge would skip it. The
                # console refuses inbound transfers before they get here.
                log.warning("transfer of inbound attempt %s refused: inbound calls are not "
                            "transferred", attempt_id)  # fmt: skip
                return Reply(False, REFUSED)
            return None  # another dialer's call
        call = live.call
        if call.state is not CallState.bridged or call.agent_id != from_agent:
            log.warning("transfer of attempt %s refused: not a live call of agent %s",
                        attempt_id, from_agent)  # fmt: skip
            return Reply(False, REFUSED)
        candidates = [to_agent] if to_agent is not None else [
            a.agent_id for a in sorted(await ctx.agents.list(ctx.name), key=lambda a: a.since)
            if a.state.value == "ready" and a.agent_id != from_agent
        ]  # fmt: skip
        target = None
        for agent_id in candidates:
            if await ctx.agents.reserve(agent_id, attempt_id):
                target = agent_id
                break
        if target is None:
            log.info("transfer of attempt %s: no agent ready", attempt_id)
            return Reply(False, NO_AGENT)
        channel = cv.originate_channel_id(attempt_id)
        try:
            await ctx.ami.send_action({"Action": "Setvar", "Channel": channel, "Variable": cv.BRIDGE,
                                       "Value": cv.agent_bridge(target)})  # fmt: skip
            await ctx.ami.send_action({"Action": "Redirect", "Channel": channel, "Context": cv.CONTEXT_ANSWER,
                                       "Exten": "action-bridge", "Priority": 1})  # fmt: skip
        except AMIError as exc:
            log.warning("transfer of attempt %s failed: %s", attempt_id, exc)
            # The target back where they were: ready, or paused with a pause kept.
            await ctx.agents.unreserve(target, attempt_id)
            return Reply(False, ASTERISK)
        live.call = replace(live.call, agent_id=target)
        record_bridge(ctx.sql, attempt_id, target, None)
        with contextlib.suppress(AgentStateError):
            await ctx.agents.talking(target, attempt_id)
            await ctx.agents.wrap_up(from_agent)
        await ctx.notifier.send(msg.Pop(
            attempt_id=attempt_id, agent_id=target, account_id=call.account_id,
            campaign=ctx.name, transferred_from=from_agent, published_at=time.time(),
        ))  # fmt: skip
        return Reply(True)
