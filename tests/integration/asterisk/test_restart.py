"""Asterisk restarts under live calls: the AMI client reconnects by itself,
re-sends nothing, and the calls that died meanwhile are absent from the
channels it reports after reconnecting."""

from __future__ import annotations

import asyncio

from asterisk_harness import (
    AGIRoutes,
    CallWatcher,
    ChrootAsterisk,
    next_attempt_id,
    originate_agent,
    originate_debtor,
    wait_until,
)

from dialer.ami import AMIClient, Message
from dialer.fastagi import AGISession


async def live_channel_ids(ami: AMIClient) -> set[str]:
    _, channels = await ami.send_list_action({"Action": "CoreShowChannels"})
    return {c.get("Uniqueid") or "" for c in channels}


async def test_given_live_calls_when_asterisk_restarts_then_client_reconnects_and_reports_them_gone(
    asterisk: ChrootAsterisk, ami: AMIClient, watcher: CallWatcher, agi: AGIRoutes
) -> None:
    reconnects: list[list[Message]] = []
    ami.on_reconnect = reconnects.append
    agent_id = next_attempt_id()
    agent_channel = f"cobrador-agent-{agent_id}"
    talking = f"cobrador-{next_attempt_id()}"
    ringing = f"cobrador-{next_attempt_id()}"

    async def bridge(session: AGISession) -> None:
        await session.set_variable("COBRADOR_ACTION", "bridge")
        await session.set_variable("COBRADOR_BRIDGE", f"agent-{agent_id}")

    agi.handler = bridge
    await ami.send_action(originate_agent(agent_id, agent_channel))
    await wait_until(lambda: watcher.has(agent_channel, "ConfbridgeJoin"), what="agent leg")
    await ami.send_action(originate_debtor(int(talking.split("-")[1]), "5215512340100"))
    await ami.send_action(
        originate_debtor(int(ringing.split("-")[1]), "5215512340401", timeout_ms=120_000)
    )
    await wait_until(lambda: watcher.has(talking, "ConfbridgeJoin"), what="debtor bridged")
    await wait_until(lambda: "ringing" in watcher.states(ringing), what="second call ringing")
    assert {agent_channel, talking, ringing} <= await live_channel_ids(ami)
    originates_before = sum(1 for e in watcher.all_events if e.name == "Newchannel")

    await asyncio.to_thread(asterisk.run, "restart")

    await wait_until(lambda: bool(reconnects), within=30, what="the client to reconnect")
    assert ami.connected
    reported = {c.get("Uniqueid") for c in reconnects[0]}
    assert not reported & {agent_channel, talking, ringing}
    # Nothing was re-sent: no channel of ours was created after the restart.
    assert sum(1 for e in watcher.all_events if e.name == "Newchannel") == originates_before
    assert not {agent_channel, talking, ringing} & await live_channel_ids(ami)
