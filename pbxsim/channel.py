"""pbxsim's channels and bridges, and the AMI event headers Asterisk 22 gives them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from dialer.ami.codec import Header
from pbxsim.recording import MixMonitor

STATE_DOWN = 0
STATE_RINGING = 5
STATE_UP = 6
STATE_DESC = {STATE_DOWN: "Down", 4: "Ring", STATE_RINGING: "Ringing", STATE_UP: "Up"}

# Asterisk's ast_cause2str() texts for the causes pbxsim produces.
CAUSE_TEXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    3: "No route to destination",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    20: "Subscriber absent",
    21: "Call Rejected",
    28: "Invalid number format (addr incomplete)",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    41: "Temporary failure",
    42: "Switching equipment congestion",
}

# manager.conf channelvars of asterisk-conf: shown on every channel event.
CHANNEL_VARS = ("COBRADOR_ATTEMPT_ID", "COBRADOR_AGENT_ID")


@dataclass(eq=False)
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    priority: int = 1
    state: int = STATE_DOWN
    caller_num: str = ""
    caller_name: str = ""
    connected_num: str = ""
    connected_name: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    application: str = ""
    app_data: str = ""
    created: float = 0.0
    peer: Channel | None = None  # the other half of a Local channel
    bridge: str | None = None
    hungup: bool = False
    cause: int = 0
    # A hangup was asked for (AMI Hangup, the other Local half, the far end);
    # the channel's own task performs it, as Asterisk's PBX thread does.
    hangup_cause: int | None = None
    in_agi: bool = False
    owned: bool = False  # a task runs this channel's script and performs its hangup
    gone: asyncio.Event = field(default_factory=asyncio.Event)
    interrupt: asyncio.Event = field(default_factory=asyncio.Event)
    redirect: tuple[str, str, int] | None = None
    behaviour: str = ""  # pbxsim's plan for the far end (human, machine...)
    mixmonitor: MixMonitor | None = None
    kicked: bool = False  # ConfBridge ended it (end_marked): the dialplan goes on
    # A Redirect reports its target with the old application and Asterisk does
    # not report that first priority again: the location to stay quiet about.
    quiet_location: tuple[str, str, int] | None = None

    def snapshot(self, prefix: str = "") -> list[Header]:
        headers: list[Header] = [
            (f"{prefix}Channel", self.name),
            (f"{prefix}ChannelState", str(self.state)),
            (f"{prefix}ChannelStateDesc", STATE_DESC.get(self.state, "Unknown")),
            (f"{prefix}CallerIDNum", self.caller_num or "<unknown>"),
            (f"{prefix}CallerIDName", self.caller_name or "<unknown>"),
            (f"{prefix}ConnectedLineNum", self.connected_num or "<unknown>"),
            (f"{prefix}ConnectedLineName", self.connected_name or "<unknown>"),
            (f"{prefix}Language", "en"),
            (f"{prefix}AccountCode", ""),
            (f"{prefix}Context", self.context),
            (f"{prefix}Exten", self.exten),
            (f"{prefix}Priority", str(self.priority)),
            (f"{prefix}Uniqueid", self.uniqueid),
            (f"{prefix}Linkedid", self.linkedid),
        ]
        for name in CHANNEL_VARS:
            headers.append((f"{prefix}ChanVariable", f"{name}={self.variables.get(name, '')}"))
        return headers


@dataclass(eq=False)
class Bridge:
    """A ConfBridge. Asterisk counts its announcer channel (CBAnn) as a member."""

    name: str
    uniqueid: str
    members: list[Channel] = field(default_factory=list)
    # asterisk-conf's user profile of each member: agent (marked), debtor
    # (end_marked) or supervisor (end_marked, muted).
    profiles: dict[Channel, str] = field(default_factory=dict)
    joined: dict[Channel, float] = field(default_factory=dict)
    announcer: int = 0

    def marked(self) -> list[Channel]:
        return [c for c in self.members if self.profiles.get(c) == "agent"]

    def headers(self, conference: bool = True) -> list[Header]:
        count = len(self.members) + self.announcer
        head: list[Header] = [("Conference", self.name)] if conference else []
        return [
            *head,
            ("BridgeUniqueid", self.uniqueid),
            ("BridgeType", "base"),
            ("BridgeTechnology", "softmix"),
            ("BridgeCreator", "ConfBridge"),
            ("BridgeName", self.name),
            ("BridgeNumChannels", str(count)),
            ("BridgeVideoSourceMode", "none"),
        ]
