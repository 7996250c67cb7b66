"""The `trunk` route through pjsip.conf's carrier endpoint, with sipp playing
the carrier on 127.0.0.1:5070: a real SIP INVITE leaves Asterisk, and the
carrier's answer or 486 comes back as the call's state and hangup cause."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from asterisk_harness import (
    AGIRoutes,
    CallWatcher,
    next_attempt_id,
    originate_agent,
    originate_debtor,
    sipp_uas,
    wait_until,
)

from dialer.ami import AMIClient
from dialer.fastagi import AGISession

CARRIER_PORT = 5070  # pjsip.conf: the test carrier's contact


@asynccontextmanager
async def carrier(scenario: str) -> AsyncIterator[None]:
    async with sipp_uas(scenario, CARRIER_PORT):
        yield


@pytest.fixture
async def trunk_route(ami: AMIClient) -> AsyncIterator[None]:
    await ami.send_action(
        {"Action": "Setvar", "Variable": "COBRADOR_OUTBOUND_ROUTE", "Value": "trunk"}
    )
    yield
    await ami.send_action(
        {"Action": "Setvar", "Variable": "COBRADOR_OUTBOUND_ROUTE", "Value": "sim"}
    )


def originate_without_amd(attempt: int, number: str) -> dict[str, str]:
    # sipp sends no audio: AMD would only wait; the route is what is tested.
    action = originate_debtor(attempt, number, timeout_ms=10000)
    action["Variable"] += ",COBRADOR_AMD=off"
    return action


async def test_given_trunk_route_when_carrier_answers_then_call_is_answered_and_runs_fastagi(
    ami: AMIClient, watcher: CallWatcher, agi: AGIRoutes, trunk_route: None
) -> None:
    attempt = next_attempt_id()
    channel = f"cobrador-{attempt}"
    async with carrier("carrier_answer.xml"):
        await ami.send_action(originate_without_amd(attempt, "5215512345678"))
        await wait_until(lambda: watcher.ended(channel), what="the trunk call to end")

    assert watcher.states(channel) == ["ringing", "answered", "ended"]
    assert [s.env.get("agi_uniqueid") for s in agi.sessions] == [channel]
    dial = [
        e
        for e in watcher.all_events
        if e.name == "DialBegin" and "carrier" in (e.get("DialString") or "")
    ]
    assert [e.get("DialString") for e in dial] == ["5215512345678@carrier"]


async def test_given_trunk_route_when_carrier_says_busy_then_result_is_busy(
    ami: AMIClient, watcher: CallWatcher, agi: AGIRoutes, trunk_route: None
) -> None:
    attempt = next_attempt_id()
    channel = f"cobrador-{attempt}"
    async with carrier("carrier_busy.xml"):
        await ami.send_action(originate_without_amd(attempt, "5215512345678"))
        await wait_until(lambda: watcher.ended(channel), what="the busy call to end")

    assert watcher.result(channel) == "busy"
    assert agi.sessions == []


async def test_given_trunk_call_bridged_to_agent_when_audio_flows_then_local_pair_is_not_optimized_away(
    ami: AMIClient, watcher: CallWatcher, agi: AGIRoutes, trunk_route: None
) -> None:
    # If Asterisk optimized the Local pair out, the carrier channel would take
    # cobrador-<id>'s place in the bridge and the dialer would see its call
    # "hang up" while the debtor is still talking.
    agent_id = next_attempt_id()
    agent_leg = f"cobrador-agent-{agent_id}"
    attempt = next_attempt_id()
    channel = f"cobrador-{attempt}"

    async def bridge(session: AGISession) -> None:
        await session.set_variable("COBRADOR_ACTION", "bridge")
        await session.set_variable("COBRADOR_BRIDGE", f"agent-{agent_id}")

    agi.handler = bridge
    # An agent leg that plays audio into the bridge (a sim-customers person).
    leg = originate_agent(agent_id, agent_leg)
    leg["Channel"] = "Local/5215599999100@sim-customers"
    await ami.send_action(leg)
    await wait_until(lambda: watcher.has(agent_leg, "ConfbridgeJoin"), what="the agent leg")
    async with carrier("carrier_answer.xml"):
        await ami.send_action(originate_without_amd(attempt, "5215512345678"))
        await wait_until(lambda: watcher.has(channel, "ConfbridgeJoin"), what="debtor bridged")
        live_before = await live_channels(ami)
        # Not a timing assertion: Asterisk tries the swap while frames pass
        # through the Local pair, so let audio flow a moment first.
        await asyncio.sleep(2)
        live_after = await live_channels(ami)
        await ami.send_action({"Action": "Hangup", "Channel": channel})
        await wait_until(lambda: watcher.ended(channel), what="the call to end")

    assert not [e for e in watcher.all_events if e.name.startswith("LocalOptimization")]
    assert {channel, f"{channel};2"} <= live_before.keys() & live_after.keys()
    assert any(name.startswith("PJSIP/carrier-") for name in live_after.values())


async def live_channels(ami: AMIClient) -> dict[str, str]:
    """Uniqueid -> channel name of every live channel."""
    _, items = await ami.send_list_action({"Action": "CoreShowChannels"})
    return {item.get("Uniqueid") or "": item.get("Channel") or "" for item in items}
