"""pbxsim's inbound calls: a caller dials a DID, as asterisk-conf's cobrador-inbound runs it.

The channel (`PJSIP/carrier-<n>`, answered, the caller's number as caller ID) runs
the FastAGI `inbound` route; `bridge` joins the agent's ConfBridge; when the
call ends the h extension runs `inbound_end` with the attempt and agent ids.
"""

from __future__ import annotations

import itertools

from dialer import channel_vars as cv
from pbxsim.agi_caller import run_agi
from pbxsim.channel import STATE_UP, Channel
from pbxsim.kernel import Kernel

CALL_CONTEXT = "cobrador-inbound-call"
_numbers = itertools.count(1)


def start_inbound_call(pbx: Kernel, did: str, caller: str) -> Channel:
    """A carrier call to `did` from `caller` ('' = withheld); runs in the background."""
    uniqueid = pbx.new_uniqueid()
    name = f"PJSIP/carrier-{next(_numbers):08x}"
    channel = pbx.new_channel(name, uniqueid, uniqueid, cv.CONTEXT_INBOUND, did or "s", 4)
    channel.owned = True
    pbx.set_callerid(channel, caller or "anonymous", "")
    pbx.spawn(_run(pbx, channel, did), f"pbxsim-inbound-{uniqueid}")
    return channel


async def _run(pbx: Kernel, channel: Channel, did: str) -> None:
    pbx.exten(channel, cv.CONTEXT_INBOUND, did or "s", 1, "Set", f"{cv.DID}={did}")
    pbx.set_var(channel, cv.DID, did)
    pbx.exten(channel, CALL_CONTEXT, "s", 1, "NoOp", f"cobrador-inbound did={did}")
    pbx.exten(channel, CALL_CONTEXT, "s", 2, "Answer")
    pbx.set_state(channel, STATE_UP)
    pbx.exten(channel, CALL_CONTEXT, "s", 3, "AGI", f"agi://{pbx.agi_host}/{cv.SCRIPT_INBOUND}")
    channel.in_agi = True
    try:
        status, _ = await run_agi(pbx, channel, cv.SCRIPT_INBOUND)
    finally:
        channel.in_agi = False
    if status == "SUCCESS" and pbx.get_var(channel, cv.ACTION) == cv.ACTION_BRIDGE:
        bridge = pbx.get_var(channel, cv.BRIDGE) or ""
        pbx.exten(channel, CALL_CONTEXT, "s", 8, "ConfBridge",
                   f"{bridge},cobrador_bridge,cobrador_debtor")  # fmt: skip
        await pbx.conference(channel, bridge, "debtor")
    elif status == "SUCCESS":
        pbx.exten(channel, CALL_CONTEXT, "s", 6, "Hangup", "16")
    if not channel.hungup:
        pbx.finish(channel, channel.hangup_cause if channel.hangup_cause is not None else 16)
    await _h_extension(pbx, channel)


async def _h_extension(pbx: Kernel, channel: Channel) -> None:
    if channel.variables.get(cv.INBOUND_STATE) != "bridged":
        return
    attempt = channel.variables.get(cv.ATTEMPT_ID, "")
    agent = channel.variables.get(cv.AGENT_ID, "")
    pbx.exten(channel, CALL_CONTEXT, "h", 2, "AGI", f"inbound_end,{attempt},{agent}")
    await run_agi(pbx, channel, cv.SCRIPT_INBOUND_END, args=(attempt, agent))
