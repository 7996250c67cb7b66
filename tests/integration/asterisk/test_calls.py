"""Debtor calls through the real Asterisk 22 dialplan: each sim-customers
behaviour, the FastAGI route on answer, the agent bridge, safe-harbor."""

from __future__ import annotations

import pytest
from asterisk_harness import (
    AGIRoutes,
    CallWatcher,
    next_attempt_id,
    originate_agent,
    originate_debtor,
    wait_until,
)

from dialer.ami import AMIClient
from dialer.fastagi import AGISession

# Numbers: MX mobile-looking digits ending in the sim-customers suffix.
BEHAVIOURS = [
    ("5215512340301", "busy", ["ended"]),
    ("5215512340401", "no_answer", ["ringing", "ended"]),
    ("5215512340501", "failed", ["ended"]),
    ("5215512340601", "failed", ["ended"]),
    ("5215512340201", "machine", ["ringing", "answered", "machine", "ended"]),
    ("5215512340101", "human", ["ringing", "answered", "human", "ended"]),
]


@pytest.mark.parametrize(("number", "result", "states"), BEHAVIOURS)
async def test_given_sim_customer_when_originated_then_cause_and_amd_map_to_result(
    ami: AMIClient,
    watcher: CallWatcher,
    agi: AGIRoutes,
    number: str,
    result: str,
    states: list[str],
) -> None:
    attempt = next_attempt_id()
    channel = f"cobrador-{attempt}"

    response = await ami.send_action(originate_debtor(attempt, number, timeout_ms=2500))

    assert response.name == "Success"
    await wait_until(lambda: watcher.ended(channel), within=30, what=f"{channel} to end")
    assert watcher.result(channel) == result
    assert watcher.states(channel) == states


async def test_given_answer_when_fastagi_route_runs_then_attempt_id_is_readable(
    ami: AMIClient, watcher: CallWatcher, agi: AGIRoutes
) -> None:
    attempt = next_attempt_id()
    channel = f"cobrador-{attempt}"
    seen: dict[str, str | None] = {}

    async def handler(session: AGISession) -> None:
        seen["attempt"] = await session.get_variable("COBRADOR_ATTEMPT_ID")
        seen["campaign"] = await session.get_variable("COBRADOR_CAMPAIGN")
        seen["amd"] = await session.get_variable("AMDSTATUS")
        seen["uniqueid"] = session.uniqueid
        seen["script"] = session.script
        await session.set_variable("COBRADOR_ACTION", "hangup")

    agi.handler = handler
    await ami.send_action(originate_debtor(attempt, "5215512340100"))

    await wait_until(lambda: watcher.ended(channel), what=f"{channel} to end")
    assert seen == {
        "attempt": str(attempt),
        "campaign": "it",
        "amd": "HUMAN",
        "uniqueid": channel,
        "script": "answer",
    }
    assert watcher.has(channel, "VarSet", Variable="COBRADOR_ACTION", Value="hangup")


async def test_given_nailed_up_agent_when_human_answers_then_debtor_joins_agent_bridge(
    ami: AMIClient, watcher: CallWatcher, agi: AGIRoutes
) -> None:
    agent_id = next_attempt_id()
    agent_channel = f"cobrador-agent-{agent_id}"
    attempt = next_attempt_id()
    channel = f"cobrador-{attempt}"

    async def bridge(session: AGISession) -> None:
        await session.set_variable("COBRADOR_ACTION", "bridge")
        await session.set_variable("COBRADOR_BRIDGE", f"agent-{agent_id}")

    agi.handler = bridge
    await ami.send_action(originate_agent(agent_id, agent_channel))
    await wait_until(
        lambda: watcher.has(agent_channel, "ConfbridgeJoin", Conference=f"agent-{agent_id}"),
        what="the agent leg in its bridge",
    )

    await ami.send_action(originate_debtor(attempt, "5215512340100"))

    await wait_until(
        lambda: watcher.has(channel, "ConfbridgeJoin", Conference=f"agent-{agent_id}"),
        what="the debtor in the agent's bridge",
    )
    _, members = await ami.send_list_action(
        {"Action": "ConfbridgeList", "Conference": f"agent-{agent_id}"}
    )
    assert {m.get("Uniqueid") for m in members} == {agent_channel, channel}
    assert watcher.states(channel) == ["ringing", "answered", "human", "bridged"]

    await ami.send_action({"Action": "Hangup", "Channel": agent_channel})
    # The debtor's profile ends its stay when the agent (marked) leaves.
    await wait_until(lambda: watcher.ended(channel), what="the debtor to leave with the agent")
    assert watcher.result(channel) == "human"


async def test_given_forced_abandon_when_handler_says_safe_harbor_then_message_plays(
    ami: AMIClient, watcher: CallWatcher, agi: AGIRoutes
) -> None:
    attempt = next_attempt_id()
    channel = f"cobrador-{attempt}"

    async def abandon(session: AGISession) -> None:
        await session.set_variable("COBRADOR_ACTION", "safe_harbor")

    agi.handler = abandon
    await ami.send_action(originate_debtor(attempt, "5215512340100"))

    await wait_until(
        lambda: watcher.has(channel, "Newexten", Context="safe-harbor", Application="SayDigits"),
        what="the call-back number to be said",
    )
    assert watcher.has(channel, "VarSet", Variable="COBRADOR_ABANDONED", Value="1")
    assert watcher.has(channel, "Newexten", Context="safe-harbor", Application="SayAlpha")
    await wait_until(lambda: watcher.ended(channel), what="hang-up after the message")
    played = [
        e.get("AppData")
        for e in watcher.events(channel)
        if e.name == "Newexten" and e.get("Context") == "safe-harbor"
    ]
    assert "goodbye" in played
    assert watcher.states(channel) == ["ringing", "answered", "human", "safe_harbor", "ended"]


async def test_given_handler_failure_when_answered_then_call_goes_to_failure_and_safe_harbor(
    ami: AMIClient, watcher: CallWatcher, agi: AGIRoutes
) -> None:
    attempt = next_attempt_id()
    channel = f"cobrador-{attempt}"

    async def broken(session: AGISession) -> None:
        raise RuntimeError("handler bug")

    agi.handler = broken
    await ami.send_action(originate_debtor(attempt, "5215512340100"))

    await wait_until(
        lambda: watcher.has(channel, "Newexten", Context="safe-harbor"),
        what="the safe-harbor message after the failure",
    )
    assert watcher.has(channel, "Newexten", Context="cobrador-failure")
    assert watcher.has(channel, "VarSet", Variable="COBRADOR_FAILED", Value="1")


async def test_given_no_fastagi_server_when_answered_then_call_goes_to_failure(
    ami: AMIClient, watcher: CallWatcher
) -> None:
    attempt = next_attempt_id()
    channel = f"cobrador-{attempt}"
    # A port nobody listens on: the AGI cannot connect.
    await ami.send_action({"Action": "Setvar", "Variable": "COBRADOR_AGI_PORT", "Value": "9"})

    await ami.send_action(originate_debtor(attempt, "5215512340100"))

    await wait_until(
        lambda: watcher.has(channel, "Newexten", Context="cobrador-failure"),
        what="the failure context",
    )
    assert watcher.has(channel, "VarSet", Variable="AGISTATUS", Value="FAILURE")
