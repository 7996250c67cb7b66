"""A running pbxsim (AMI over TCP), our FastAGI server and an AMIClient, wired together."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from dialer import channel_vars as cv
from dialer.ami import AMIClient, Message
from dialer.fastagi import AGISession, FastAGIServer
from pbxsim.ami_server import AMIServer
from pbxsim.clock import ScaledClock
from pbxsim.pbx import PBX
from pbxsim.scenario import Scenario
from pbxsim.testing import EventRecorder, Rig

SPEED = 20.0  # simulated seconds per wall second


def scenario() -> Scenario:
    return Scenario(
        suffix_rules=True,
        suffix_talk_seconds=4.0,
        suffix_machine_seconds=3.0,
        amd_human_seconds=1.0,
        amd_machine_seconds=1.5,
        safe_harbor_seconds=2.0,
        agent_answer_seconds=0.2,
        seed=7,
    )


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    decisions: dict[str, Callable[[AGISession], Awaitable[None]]] = {}
    seen: list[dict[str, str | None]] = []

    async def answer(agi: AGISession) -> None:
        attempt = await agi.get_variable(cv.ATTEMPT_ID)
        amd = await agi.get_variable(cv.AMD_STATUS)
        seen.append({"attempt": attempt, "amd": amd, "channel": agi.channel})
        decide = decisions.get(attempt or "")
        if decide is not None:
            await decide(agi)
        else:
            await agi.set_variable(cv.ACTION, cv.ACTION_HANGUP)

    agi = FastAGIServer(routes={cv.SCRIPT_ANSWER: answer}, request_timeout=1.0)
    await agi.start("127.0.0.1", 0)
    pbx = PBX(scenario(), clock=ScaledClock(SPEED), agi_port=agi.port)
    ami = AMIServer(pbx, "cobrador", "secret")
    await ami.start("127.0.0.1", 0)
    reconnects: list[list[Message]] = []
    client = AMIClient(
        "127.0.0.1",
        ami.port,
        "cobrador",
        "secret",
        action_timeout=2.0,
        keepalive_interval=None,
        reconnect_backoff=(0.05, 0.2),
        on_reconnect=reconnects.append,
    )
    await client.connect()
    recorder = EventRecorder(client)
    rig = Rig(pbx, ami, agi, client, recorder, decisions, reconnects, seen)
    yield rig
    await recorder.close()
    await client.close()
    await ami.stop()
    await pbx.stop()
    await agi.stop()
