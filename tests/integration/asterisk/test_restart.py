"""Asterisk restarts (or crashes and comes back) under live calls: the AMI
client reconnects by itself, re-sends nothing, and the calls that died
meanwhile are absent from the channels it reports after reconnecting."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from asterisk_harness import (
    AGIRoutes,
    CallWatcher,
    ChrootAsterisk,
    connect_ami,
    next_attempt_id,
    originate_agent,
    originate_debtor,
    wait_until,
)
from dial_floor import DialFloor, attempts, results_by_number
from sqlalchemy import Engine

from dialer.ami import AMIActionError, AMIClient, AMIDisconnected, Message
from dialer.fastagi import AGISession

HOW = ["restart", "crash"]


def bounce(asterisk: ChrootAsterisk, how: str) -> None:
    """`restart`: core stop now + start (Asterisk reports the hangups first);
    `crash`: SIGKILL + start (nothing reported: the calls end while we are away)."""
    if how == "restart":
        asterisk.run("restart")
    else:
        asterisk.run("kill")
        asterisk.run("start")


async def live_channel_ids(ami: AMIClient) -> set[str]:
    _, channels = await ami.send_list_action({"Action": "CoreShowChannels"})
    return {c.get("Uniqueid") or "" for c in channels}


@pytest.mark.parametrize("how", HOW)
async def test_given_live_calls_when_asterisk_restarts_then_client_reconnects_and_reports_them_gone(
    asterisk: ChrootAsterisk, ami: AMIClient, watcher: CallWatcher, agi: AGIRoutes, how: str
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
    # An Originate in flight when the link drops: synchronous, so Asterisk
    # answers it only when the call is answered or fails (never, here). It
    # also blocks this session's events, so a second session watches for it.
    in_flight_attempt = next_attempt_id()
    in_flight = f"cobrador-{in_flight_attempt}"
    sync_originate = originate_debtor(in_flight_attempt, "5215512340402", timeout_ms=120_000)
    sync_originate["Async"] = "false"
    pending = asyncio.create_task(ami.send_action(sync_originate, timeout=120))
    observer = await connect_ami(keepalive_interval=None)
    try:
        for _ in range(200):
            if in_flight in await live_channel_ids(observer):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the in-flight Originate never created its channel")
    finally:
        await observer.close()
    ours = {agent_channel, talking, ringing, in_flight}
    seen_before = len(watcher.all_events)

    await asyncio.to_thread(bounce, asterisk, how)

    await wait_until(lambda: bool(reconnects), within=30, what="the client to reconnect")
    assert ami.connected
    # The in-flight Originate failed loudly (link lost, or Asterisk refused it
    # while stopping) and was not sent again: no channel of it after the restart.
    with pytest.raises((AMIDisconnected, AMIActionError)):
        await pending
    reported = {c.get("Uniqueid") for c in reconnects[0]}
    assert not reported & {agent_channel, talking, ringing}
    # Nothing was re-sent: no channel of ours was created after the restart.
    # Each of our channels was created once; none is alive again (a re-sent
    # Originate would be ringing now: these numbers ring for minutes).
    created = [e.get("Uniqueid") for e in watcher.all_events if e.name == "Newchannel"]
    assert all(created.count(channel) <= 1 for channel in ours)
    assert not ours & await live_channel_ids(ami)
    if how == "crash":
        # Truly ended while away: no Hangup of ours ever reached the client.
        after = watcher.all_events[seen_before:]
        assert not [e for e in after if e.name == "Hangup" and e.get("Uniqueid") in ours]


@pytest.mark.parametrize("how", HOW)
async def test_given_dial_loop_with_live_calls_when_asterisk_restarts_then_each_ends_once_and_none_is_redialed(
    how: str,
    asterisk: ChrootAsterisk,
    ami: AMIClient,
    watcher: CallWatcher,
    engine: Engine,
    redis_url: str,
    tmp_path: Path,
) -> None:
    # A person who talks 30 s (bridged) and two numbers that ring for a minute;
    # progressive mode places one call per idle agent, so three agents.
    numbers = ["+525510000105", "+525510000405", "+525510000406"]
    floor = await DialFloor.open(
        ami, engine, redis_url, tmp_path, numbers, agents=3, ring_timeout=60.0
    )
    try:
        await floor.run_until(
            lambda: (
                sorted(c.state.value for c in floor.dialer.calls.values())
                == ["bridged", "ringing", "ringing"]
            ),
            what="one debtor bridged and two ringing",
        )
        ours = {f"cobrador-{i}" for i in floor.dialer.calls}
        seen_before = len(watcher.all_events)

        await asyncio.to_thread(bounce, asterisk, how)

        await floor.run_until(
            lambda: ami.connected and floor.dialer.reconciled and not floor.dialer.calls,
            within=60,
            what="reconnect and reconciliation",
        )
        for _ in range(10):  # the loop keeps running: nothing may be dialed again
            await floor.dialer.tick()
            await asyncio.sleep(0.05)
    finally:
        await floor.close()

    assert {f"cobrador-{a.id}" for a in attempts(engine)} == ours
    results = results_by_number(engine)
    # The bridged call stays a contact. A call that was ringing ends as
    # `failed` when Asterisk reported its hangup before the link closed
    # (`core stop now` does: Cause 0 while ringing), and as `no_answer` when
    # only the reconciliation after reconnecting found it gone (a crash).
    assert results.pop("+525510000105") == "contact"
    expected = {"no_answer"} if how == "crash" else {"failed", "no_answer"}
    assert set(results.values()) <= expected
    after = watcher.all_events[seen_before:]
    assert not [e for e in after if e.name == "Newchannel" and e.get("Uniqueid") in ours]
