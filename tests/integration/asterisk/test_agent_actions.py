"""What the dialer does to live calls over AMI, on the real Asterisk 22:
move a bridged debtor to another agent's bridge (transfer), hang up a call
that is still ringing (cancel), and let a supervisor listen to an agent."""

from __future__ import annotations

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


async def nailed_up_agent(ami: AMIClient, watcher: CallWatcher) -> tuple[int, str]:
    agent_id = next_attempt_id()
    channel = f"cobrador-agent-{agent_id}"
    await ami.send_action(originate_agent(agent_id, channel))
    await wait_until(lambda: watcher.has(channel, "ConfbridgeJoin"), what=f"agent {agent_id}")
    return agent_id, channel


async def bridged_debtor(
    ami: AMIClient, watcher: CallWatcher, agi: AGIRoutes, agent_id: int
) -> str:
    async def bridge(session: AGISession) -> None:
        await session.set_variable("COBRADOR_ACTION", "bridge")
        await session.set_variable("COBRADOR_BRIDGE", f"agent-{agent_id}")

    agi.handler = bridge
    attempt = next_attempt_id()
    channel = f"cobrador-{attempt}"
    await ami.send_action(originate_debtor(attempt, "5215512340100"))
    await wait_until(
        lambda: watcher.has(channel, "ConfbridgeJoin", Conference=f"agent-{agent_id}"),
        what="the debtor bridged",
    )
    return channel


async def members(ami: AMIClient, conference: str) -> set[str]:
    _, items = await ami.send_list_action({"Action": "ConfbridgeList", "Conference": conference})
    return {item.get("Uniqueid") or "" for item in items}


async def test_given_bridged_debtor_when_setvar_and_redirect_then_debtor_moves_to_other_agent(
    ami: AMIClient, watcher: CallWatcher, agi: AGIRoutes
) -> None:
    first, first_leg = await nailed_up_agent(ami, watcher)
    second, second_leg = await nailed_up_agent(ami, watcher)
    debtor = await bridged_debtor(ami, watcher, agi, first)

    await ami.send_action(
        {
            "Action": "Setvar",
            "Channel": debtor,
            "Variable": "COBRADOR_BRIDGE",
            "Value": f"agent-{second}",
        }  # fmt: skip
    )
    await ami.send_action(
        {
            "Action": "Redirect",
            "Channel": debtor,
            "Context": "cobrador-answer",
            "Exten": "action-bridge",
            "Priority": "1",
        }  # fmt: skip
    )

    await wait_until(
        lambda: watcher.has(debtor, "ConfbridgeJoin", Conference=f"agent-{second}"),
        what="the debtor in the second agent's bridge",
    )
    assert await members(ami, f"agent-{second}") == {second_leg, debtor}
    assert await members(ami, f"agent-{first}") == {first_leg}


async def test_given_ringing_call_when_dialer_hangs_it_up_then_it_ends_before_answer(
    ami: AMIClient, watcher: CallWatcher, agi: AGIRoutes
) -> None:
    attempt = next_attempt_id()
    channel = f"cobrador-{attempt}"
    await ami.send_action(originate_debtor(attempt, "5215512340401", timeout_ms=30000))
    await wait_until(lambda: "ringing" in watcher.states(channel), what="ringing")

    await ami.send_action({"Action": "Hangup", "Channel": channel})

    await wait_until(lambda: watcher.ended(channel), what="the cancelled call to end")
    assert watcher.states(channel) == ["ringing", "ended"]
    # Asterisk 22 reports cause 0 for a Local channel hung up over AMI before answer.
    assert watcher.has(channel, "Hangup", Cause="0")
    assert watcher.has(channel, "OriginateResponse", Response="Failure")
    assert agi.sessions == []


async def test_given_agent_with_debtor_when_supervisor_joins_then_listens_muted(
    ami: AMIClient, watcher: CallWatcher, agi: AGIRoutes
) -> None:
    agent_id, agent_leg = await nailed_up_agent(ami, watcher)
    debtor = await bridged_debtor(ami, watcher, agi, agent_id)
    supervisor = f"cobrador-supervisor-{next_attempt_id()}"

    await ami.send_action(
        {
            "Action": "Originate",
            "Channel": "Local/900@sim-agents",
            "Context": "cobrador-supervisor",
            "Exten": "s",
            "Priority": "1",
            "Async": "true",
            "ChannelId": supervisor,
            "Variable": f"COBRADOR_SPY_AGENT_ID={agent_id}",
        }  # fmt: skip
    )

    await wait_until(
        lambda: watcher.has(supervisor, "ConfbridgeJoin", Conference=f"agent-{agent_id}"),
        what="the supervisor in the agent's bridge",
    )
    _, items = await ami.send_list_action(
        {"Action": "ConfbridgeList", "Conference": f"agent-{agent_id}"}
    )
    muted = {item.get("Uniqueid"): item.get("Muted") for item in items}
    assert muted == {agent_leg: "No", debtor: "No", supervisor: "Yes"}
