"""cobrador-agent, cobrador-supervisor and cobrador-spy: the legs that sit in an
agent's ConfBridge (the agent's own, a supervisor listening) or spy on it."""

from __future__ import annotations

import asyncio

from dialer import channel_vars as cv
from pbxsim.apps.names import CONTEXT_SPY, CONTEXT_SUPERVISOR, SPY_AGENT_ID, SPY_MODE, SPY_OPTIONS
from pbxsim.channel import Channel
from pbxsim.kernel import Kernel, LocationT


async def agent(pbx: Kernel, channel: Channel) -> LocationT | None:
    """cobrador-agent: the agent's nailed-up leg waits in its own ConfBridge."""
    ctx = cv.CONTEXT_AGENT
    agent_id = pbx.get_var(channel, cv.AGENT_ID) or ""
    pbx.exten(channel, ctx, "s", 1, "NoOp", f"cobrador-agent agent={agent_id}")
    valid = agent_id.isdigit()
    pbx.exten(channel, ctx, "s", 2, "GotoIf", f"{int(valid)}?:bad")
    if not valid:
        pbx.dialplan_hangup(channel, 21, (ctx, "s", 6))
        return None
    pbx.exten(channel, ctx, "s", 3, "Answer")
    bridge = cv.agent_bridge(agent_id)
    pbx.exten(channel, ctx, "s", 4, "ConfBridge", f"{bridge},cobrador_bridge,cobrador_agent")
    await pbx.conference(channel, bridge, "agent")
    if channel.hangup_cause is None and channel.redirect is None:
        pbx.dialplan_hangup(channel, 16, (ctx, "s", 5))
    return None


async def supervisor(pbx: Kernel, channel: Channel) -> LocationT | None:
    """A supervisor listens to an agent: joins agent-<id> muted, leaves with the agent."""
    ctx = CONTEXT_SUPERVISOR
    agent_id = pbx.get_var(channel, SPY_AGENT_ID) or ""
    pbx.exten(channel, ctx, "s", 1, "NoOp", f"cobrador-supervisor agent={agent_id}")
    valid = agent_id.isdigit()
    pbx.exten(channel, ctx, "s", 2, "GotoIf", f"{int(valid)}?:bad")
    if not valid:
        pbx.dialplan_hangup(channel, 21, (ctx, "s", 6))
        return None
    pbx.exten(channel, ctx, "s", 3, "Answer")
    bridge = cv.agent_bridge(agent_id)
    pbx.exten(channel, ctx, "s", 4, "ConfBridge", f"{bridge},cobrador_bridge,cobrador_supervisor")
    await pbx.conference(channel, bridge, "supervisor")
    if channel.hangup_cause is None and channel.redirect is None:
        pbx.dialplan_hangup(channel, 16, (ctx, "s", 5))
    return None


async def spy(pbx: Kernel, channel: Channel) -> LocationT | None:
    """ChanSpy on the agent's bridged leg (SPYGROUP agent<id>); no audio is
    simulated, only the channel's life: it ends when either side hangs up."""
    ctx = CONTEXT_SPY
    agent_id = pbx.get_var(channel, SPY_AGENT_ID) or ""
    mode = pbx.get_var(channel, SPY_MODE) or ""
    pbx.exten(channel, ctx, "s", 1, "NoOp", f"cobrador-spy agent={agent_id} mode={mode}")
    valid = agent_id.isdigit() and mode in SPY_OPTIONS
    pbx.exten(channel, ctx, "s", 2, "GotoIf", f"{int(agent_id.isdigit())}?:bad")
    if agent_id.isdigit():
        pbx.exten(channel, ctx, "s", 3, "GotoIf", f"{int(valid)}?:bad")
    if not valid:
        pbx.dialplan_hangup(channel, 21, (ctx, "s", 6))
        return None
    pbx.exten(channel, ctx, "s", 4, "Answer")
    pbx.exten(channel, ctx, "s", 5, "Goto", f"mode-{mode},1")
    group = f"agent{agent_id}"
    pbx.exten(channel, ctx, f"mode-{mode}", 1, "ChanSpy", f",{SPY_OPTIONS[mode]}g({group})")
    target = next((c for c in pbx.channels.values()
                   if c.variables.get("SPYGROUP") == group and c.bridge), None)  # fmt: skip
    if target is not None:
        pbx.spied[channel.uniqueid] = target.uniqueid
        stop = asyncio.ensure_future(channel.interrupt.wait())
        gone = asyncio.ensure_future(target.gone.wait())
        try:
            await asyncio.wait({stop, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            gone.cancel()
            pbx.spied.pop(channel.uniqueid, None)
    if channel.hangup_cause is None and channel.redirect is None:
        pbx.dialplan_hangup(channel, 16, (ctx, f"mode-{mode}", 2))
    return None
