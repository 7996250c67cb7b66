"""Helpers to drive pbxsim from tests and benchmarks: an event recorder that polls
for a condition (never a fixed sleep) and a rig bundling pbxsim, FastAGI and a client."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from dialer import channel_vars as cv
from dialer.ami import AMIClient, Message
from dialer.fastagi import AGISession, FastAGIServer
from pbxsim.ami_server import AMIServer
from pbxsim.pbx import PBX

WAIT = 10.0  # wall seconds before a poll gives up


class EventRecorder:
    """Collects every event of a client in the background; polls until a condition holds."""

    def __init__(self, client: AMIClient) -> None:
        self.events: list[Message] = []
        self._subscription = client.events()
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        async for event in self._subscription:
            self.events.append(event)

    async def wait_for(self, predicate: Callable[[Message], bool]) -> Message:
        async def poll() -> Message:
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                await asyncio.sleep(0.01)

        return await asyncio.wait_for(poll(), WAIT)

    def for_call(self, uniqueid: str) -> list[Message]:
        """Events of one call (both halves of its Local channel), by Linkedid or Uniqueid."""
        return [
            e
            for e in self.events
            if uniqueid in (e.get("Linkedid"), e.get("Uniqueid"), e.get("DestLinkedid"))
        ]

    async def close(self) -> None:
        self._subscription.close()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


@dataclass
class Rig:
    pbx: PBX
    ami: AMIServer
    agi: FastAGIServer
    client: AMIClient
    recorder: EventRecorder
    decisions: dict[str, Callable[[AGISession], Awaitable[None]]] = field(default_factory=dict)
    reconnects: list[list[Message]] = field(default_factory=list)
    agi_seen: list[dict[str, str | None]] = field(default_factory=list)

    async def originate_debtor(
        self, attempt_id: int, number: str, timeout_ms: int = 3000
    ) -> Message:
        return await self.client.send_action(
            {
                "Action": "Originate",
                "Channel": cv.debtor_channel(number),
                "Context": cv.CONTEXT_ANSWER,
                "Exten": "s",
                "Priority": 1,
                "Async": "true",
                "Timeout": timeout_ms,
                "ChannelId": cv.originate_channel_id(attempt_id),
                "CallerID": '"Cobrador" <5550001000>',
                "Variable": f"{cv.ATTEMPT_ID}={attempt_id},{cv.CAMPAIGN}=mx-test",
            }
        )

    async def login_agent(self, agent_id: int) -> Message:
        await self.client.send_action(
            {
                "Action": "Originate",
                "Channel": f"PJSIP/agent-{agent_id}",
                "Context": cv.CONTEXT_AGENT,
                "Exten": "s",
                "Priority": 1,
                "Async": "true",
                "ChannelId": f"agent-leg-{agent_id}",
                "Variable": f"{cv.AGENT_ID}={agent_id}",
            }
        )
        return await self.recorder.wait_for(
            lambda e: e.name == "ConfbridgeJoin" and e.get("Conference") == f"agent-{agent_id}"
        )


# -- comparing event sequences with recorded Asterisk traces -------------------

# Variables whose VarSet events belong to the call's skeleton (dialplan-driven).
SKELETON_VARS = {
    "COBRADOR_ATTEMPT_ID",
    "COBRADOR_CAMPAIGN",
    "COBRADOR_AGENT_ID",
    "AMDSTATUS",
    "AMDCAUSE",
    "AGISTATUS",
    "COBRADOR_ABANDONED",
    "COBRADOR_FAILED",
    "CONFBRIDGE_RESULT",
}
# Events whose order against the rest varies between runs of real Asterisk.
PROGRESS_EVENTS = {"OriginateResponse", "DialEnd", "DialState"}


def skeleton(events: list[Message], uniqueid: str) -> list[str]:
    """The ordered steps of one channel, without values that differ between runs."""
    steps: list[str] = []
    for event in events:
        if event.get("Uniqueid") != uniqueid or event.name in PROGRESS_EVENTS:
            continue
        name = event.name
        if name in ("Newchannel", "Newstate"):
            steps.append(f"{name} {event.get('ChannelStateDesc')}")
        elif name == "Newexten":
            app = event.get("Application") or ""
            data = "" if app == "AGI" else event.get("AppData") or ""
            where = f"{event.get('Context')},{event.get('Exten')},{event.get('Priority')}"
            steps.append(f"Newexten {where} {app}({data})")
        elif name == "VarSet" and event.get("Variable") in SKELETON_VARS:
            steps.append(f"VarSet {event.get('Variable')}={event.get('Value')}")
        elif name in ("ConfbridgeJoin", "ConfbridgeLeave"):
            steps.append(f"{name} {event.get('Conference')}")
        elif name in ("BridgeEnter", "BridgeLeave"):
            steps.append(name)
        elif name in ("Hangup", "HangupRequest"):
            steps.append(f"{name} {event.get('Cause')}")
        elif name == "SoftHangupRequest":
            steps.append(name)
    return steps


def progress(events: list[Message], uniqueid: str) -> list[str]:
    """Originate and dial outcome events of one channel, sorted (their order races)."""
    found = []
    for event in events:
        if event.name == "OriginateResponse" and event.get("Uniqueid") == uniqueid:
            found.append(f"OriginateResponse {event.get('Response')} {event.get('Reason')}")
        elif event.name in ("DialEnd", "DialState") and event.get("DestUniqueid") == uniqueid:
            found.append(f"{event.name} {event.get('DialStatus')}")
    return sorted(found)
