"""Names shared with the dialplan (asterisk-conf/extensions.conf and pbxsim): one place.

If a name changes here it must change in extensions.conf too; the real-Asterisk
tests and pbxsim's tests catch a mismatch.
"""

from __future__ import annotations

# Channel variables set by Originate and read/written by the FastAGI handler.
ATTEMPT_ID = "COBRADOR_ATTEMPT_ID"
CAMPAIGN = "COBRADOR_CAMPAIGN"
AGENT_ID = "COBRADOR_AGENT_ID"
ACTION = "COBRADOR_ACTION"
BRIDGE = "COBRADOR_BRIDGE"
AGI_HOST = "COBRADOR_AGI_HOST"
# Set per call by the dialer that placed it, so several dialers can share one Asterisk.
AGI_PORT = "COBRADOR_AGI_PORT"
AGI_ERROR = "COBRADOR_AGI_ERROR"
# Set by Asterisk's AMD() application.
AMD_STATUS = "AMDSTATUS"
AMD_CAUSE = "AMDCAUSE"

# Values of COBRADOR_ACTION.
ACTION_BRIDGE = "bridge"
ACTION_SAFE_HARBOR = "safe_harbor"
ACTION_HANGUP = "hangup"

# AMDSTATUS values.
AMD_HUMAN = "HUMAN"
AMD_MACHINE = "MACHINE"
AMD_NOTSURE = "NOTSURE"
AMD_HANGUP = "HANGUP"

# Dialplan contexts.
CONTEXT_OUTBOUND = "cobrador-outbound"
CONTEXT_ANSWER = "cobrador-answer"
CONTEXT_AGENT = "cobrador-agent"
CONTEXT_FAILURE = "cobrador-failure"
CONTEXT_SIM_CUSTOMERS = "sim-customers"

# FastAGI script names (agi://host:4573/<script>).
SCRIPT_ANSWER = "answer"
FASTAGI_PORT = 4573


def agent_bridge(agent_id: int | str) -> str:
    """ConfBridge name of an agent's nailed-up bridge (COBRADOR_BRIDGE value)."""
    return f"agent-{agent_id}"


def debtor_channel(e164_digits: str) -> str:
    """Originate Channel for a debtor number given as E.164 digits without '+'."""
    digits = e164_digits.lstrip("+")
    if not digits.isdigit():
        raise ValueError("the number must be E.164 digits")
    return f"Local/{digits}@{CONTEXT_OUTBOUND}"


# ChannelId prefix of the music on hold a console puts into an agent's bridge
# (console/phone/pbx.py, extensions.conf cobrador-hold): not a party to the call.
HOLD_CHANNEL_PREFIX = "phonehold-"


def originate_channel_id(attempt_id: int | str) -> str:
    """ChannelId (the Uniqueid Asterisk gives the channel) of an attempt's call."""
    return f"cobrador-{attempt_id}"


# Inbound calls (asterisk-conf: cobrador-inbound).
CONTEXT_INBOUND = "cobrador-inbound"
DID = "COBRADOR_DID"  # the dialed number, set by the inbound context
INBOUND_STATE = "COBRADOR_INBOUND_STATE"  # "bridged" once an agent took the call
SCRIPT_INBOUND = "inbound"
SCRIPT_INBOUND_END = "inbound_end"  # from the h extension: the call ended
