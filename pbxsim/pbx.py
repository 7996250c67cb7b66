"""The simulated PBX: the kernel (pbxsim/kernel.py) with the cobrador dialplan of
asterisk-conf (pbxsim/dialplan.py and its applications in pbxsim/apps/), Originate
(pbxsim/originate.py) and inbound calls (pbxsim/inbound.py).

Follows the dialplan contract in CONTRACTS.md and asterisk-conf/extensions.conf:
debtor calls are Local channels into cobrador-outbound (the `;2` half runs
sim-customers, the `;1` half runs cobrador-answer once answered: AMD, the
FastAGI `answer` route, then ConfBridge / safe-harbor / hangup / failure);
agent legs run cobrador-agent and stay in their ConfBridge.
"""

from __future__ import annotations

from collections.abc import Callable

from dialer import channel_vars as cv
from pbxsim.apps.names import (
    CONTEXT_SPY,
    CONTEXT_SUPERVISOR,
    SAFE_HARBOR,
    SIM_AGENTS,
    SPY_AGENT_ID,
    SPY_MODE,
    SPY_OPTIONS,
)
from pbxsim.channel import Channel
from pbxsim.inbound import start_inbound_call
from pbxsim.kernel import EventSink, Kernel, LocationT
from pbxsim.originate import (
    DEFAULT_ORIGINATE_TIMEOUT,
    REASON_ANSWERED,
    REASON_FAILED,
    REASON_RINGING,
    OriginateError,
    OriginateRequest,
    plan_exten,
    start_originate,
)


class PBX(Kernel):
    def originate(
        self, request: OriginateRequest, done: Callable[[bool], None] | None = None
    ) -> None:
        """Start an Originate in the background (the action's reply is the caller's job)."""
        self.calls_placed += 1
        start_originate(self, request, done)

    # -- operator and test hooks -------------------------------------------------

    def drop_agent(self, agent_id: int | str) -> bool:
        """The agent's phone hangs up (the nailed-up leg drops). It comes back the
        way it came: a new Originate to the phone (the dialer's reconnect); while
        its endpoint is in `unavailable_endpoints` that Originate fails instead."""
        for channel in list(self.channels.values()):
            if channel.variables.get(cv.AGENT_ID) == str(agent_id) and channel.bridge:
                far_end = channel.peer or channel
                self.request_hangup(far_end, 16)
                return True
        return False

    def inbound_call(self, did: str, caller: str) -> Channel:
        """A carrier call to `did` from `caller` ('' withheld): see pbxsim/inbound.py."""
        return start_inbound_call(self, did, caller)


__all__ = [
    "CONTEXT_SPY",
    "CONTEXT_SUPERVISOR",
    "DEFAULT_ORIGINATE_TIMEOUT",
    "PBX",
    "REASON_ANSWERED",
    "REASON_FAILED",
    "REASON_RINGING",
    "SAFE_HARBOR",
    "SIM_AGENTS",
    "SPY_AGENT_ID",
    "SPY_MODE",
    "SPY_OPTIONS",
    "EventSink",
    "LocationT",
    "OriginateError",
    "OriginateRequest",
    "plan_exten",
]
