"""cobrador-answer and cobrador-failure: what the ;1 half of a debtor's call runs once
answered (AMD, the FastAGI `answer` route, then the action it chose)."""

from __future__ import annotations

from dialer import channel_vars as cv
from pbxsim import scenario as sc
from pbxsim.agi_caller import agi_address, run_agi
from pbxsim.apps.names import AGENT_BRIDGE, SAFE_HARBOR
from pbxsim.channel import Channel
from pbxsim.kernel import Kernel, LocationT


async def answer(pbx: Kernel, channel: Channel) -> LocationT | None:
    """cobrador-answer,s: AMD, then the FastAGI `answer` route, then its action."""
    ctx = cv.CONTEXT_ANSWER
    attempt = pbx.get_var(channel, cv.ATTEMPT_ID) or ""
    pbx.exten(channel, ctx, "s", 1, "NoOp", f"cobrador-answer attempt={attempt}")
    amd_off = pbx.get_var(channel, "COBRADOR_AMD") == "off"
    pbx.exten(channel, ctx, "s", 2, "GotoIf", f"{int(amd_off)}?agi")
    if not amd_off:
        pbx.exten(channel, ctx, "s", 3, "AMD")
        machine = channel.behaviour == sc.MACHINE
        seconds = pbx.scenario.amd_machine_seconds if machine else pbx.scenario.amd_human_seconds
        if not await pbx.wait(channel, seconds):
            if channel.hangup_cause is None:
                return None  # redirected
            pbx.set_var(channel, cv.AMD_STATUS, cv.AMD_HANGUP)
            pbx.set_var(channel, cv.AMD_CAUSE, "HANGUP-0")
            pbx.exten(channel, ctx, "s", 4, "GotoIf", "1?gone")
            return None
        pbx.set_var(channel, cv.AMD_STATUS, cv.AMD_MACHINE if machine else cv.AMD_HUMAN)
        # As Asterisk says it (800 ms of silence heard after the greeting), whatever
        # the clock's speed: a scaled pbxsim leaves the dialer less of its 2 s.
        cause = "LONGGREETING-1500-1500" if machine else "HUMAN-800-800"
        pbx.set_var(channel, cv.AMD_CAUSE, cause)
        pbx.exten(channel, ctx, "s", 4, "GotoIf", "0?gone")
    host, port = agi_address(pbx, channel)
    pbx.exten(channel, ctx, "s", 5, "AGI", f"agi://{host}:{port}/{cv.SCRIPT_ANSWER}")
    channel.in_agi = True
    try:
        status, goto = await run_agi(pbx, channel, cv.SCRIPT_ANSWER)
    finally:
        channel.in_agi = False
    pbx.set_var(channel, "AGISTATUS", status)
    if status == "HANGUP":
        # Hung up while the AGI ran: Asterisk reports cause 0 for this half.
        pbx.soft_hangup(channel)
        pbx.hangup(channel, 0)
        return None
    if goto is not None:
        return goto
    failed = status != "SUCCESS"
    pbx.exten(channel, ctx, "s", 6, "GotoIf", f"{int(failed)}?cobrador-failure,s,1")
    if failed:
        return (cv.CONTEXT_FAILURE, "s", 1)
    action = pbx.get_var(channel, cv.ACTION) or ""
    known = action in (cv.ACTION_BRIDGE, cv.ACTION_SAFE_HARBOR, cv.ACTION_HANGUP)
    pbx.exten(channel, ctx, "s", 7, "GotoIf", f"{int(known)}?action-{action},1")
    if known:
        return (ctx, f"action-{action}", 1)
    pbx.exten(channel, ctx, "s", 8, "Goto", "cobrador-failure,s,1")
    return (cv.CONTEXT_FAILURE, "s", 1)


async def action(pbx: Kernel, channel: Channel, exten: str) -> LocationT | None:
    """cobrador-answer,action-*: ConfBridge with the agent, safe-harbor or Hangup."""
    ctx = cv.CONTEXT_ANSWER
    if exten == f"action-{cv.ACTION_BRIDGE}":
        bridge = pbx.get_var(channel, cv.BRIDGE) or ""
        valid = bool(AGENT_BRIDGE.match(bridge))
        pbx.exten(channel, ctx, exten, 1, "GotoIf", f"{int(valid)}?:cobrador-failure,s,1")
        if not valid:
            return (cv.CONTEXT_FAILURE, "s", 1)
        pbx.exten(channel, ctx, exten, 2, "ConfBridge", f"{bridge},cobrador_bridge,cobrador_debtor")
        await pbx.conference(channel, bridge, "debtor")
        if channel.hangup_cause is None and channel.redirect is None:
            pbx.dialplan_hangup(channel, 16, (ctx, exten, 3))
        return None
    if exten == f"action-{cv.ACTION_SAFE_HARBOR}":
        pbx.exten(channel, ctx, exten, 1, "Goto", f"{SAFE_HARBOR},s,1")
        return (SAFE_HARBOR, "s", 1)
    if exten == f"action-{cv.ACTION_HANGUP}":
        pbx.dialplan_hangup(channel, 16, (ctx, exten, 1))
        return None
    return (cv.CONTEXT_FAILURE, "s", 1)


def failure(pbx: Kernel, channel: Channel) -> LocationT | None:
    """cobrador-failure: a machine is hung up, a person hears the safe-harbor message."""
    ctx = cv.CONTEXT_FAILURE
    attempt = pbx.get_var(channel, cv.ATTEMPT_ID) or ""
    agi = pbx.get_var(channel, "AGISTATUS") or ""
    action = pbx.get_var(channel, cv.ACTION) or ""
    pbx.exten(
        channel,
        ctx,
        "s",
        1,
        "NoOp",
        f"cobrador-failure attempt={attempt} agi={agi} action={action}",
    )
    pbx.exten(channel, ctx, "s", 2, "Set", "COBRADOR_FAILED=1")
    pbx.set_var(channel, "COBRADOR_FAILED", "1")
    machine = pbx.get_var(channel, cv.AMD_STATUS) == cv.AMD_MACHINE
    pbx.exten(channel, ctx, "s", 3, "GotoIf", f"{int(machine)}?machine")
    if machine:
        pbx.dialplan_hangup(channel, 16, (ctx, "s", 5))
        return None
    pbx.exten(channel, ctx, "s", 4, "Goto", f"{SAFE_HARBOR},s,1")
    return (SAFE_HARBOR, "s", 1)
