"""An agent's nailed-up leg to a real SIP phone: pjsip.conf's agent templates
(tests/integration/asterisk/conf/cobrador-pjsip-local.conf defines agent-9001),
sipp answering as the softphone, and a debtor bridged to it."""

from __future__ import annotations

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

PHONE_PORT = 5071  # the contact of agent-9001


async def test_given_agent_softphone_when_nailed_up_then_debtor_is_bridged_to_it(
    ami: AMIClient, watcher: CallWatcher, agi: AGIRoutes
) -> None:
    agent_id = 9001
    agent_leg = f"cobrador-agent-{next_attempt_id()}"
    attempt = next_attempt_id()
    debtor = f"cobrador-{attempt}"

    async def bridge(session: AGISession) -> None:
        await session.set_variable("COBRADOR_ACTION", "bridge")
        await session.set_variable("COBRADOR_BRIDGE", f"agent-{agent_id}")

    agi.handler = bridge
    async with sipp_uas("carrier_answer.xml", PHONE_PORT):
        leg = originate_agent(agent_id, agent_leg)
        leg["Channel"] = "PJSIP/agent-9001"
        await ami.send_action(leg)
        await wait_until(
            lambda: watcher.has(agent_leg, "ConfbridgeJoin", Conference=f"agent-{agent_id}"),
            what="the softphone's leg in its bridge",
        )
        await ami.send_action(originate_debtor(attempt, "5215512340100"))
        await wait_until(
            lambda: watcher.has(debtor, "ConfbridgeJoin", Conference=f"agent-{agent_id}"),
            what="the debtor bridged to the softphone",
        )
        _, members = await ami.send_list_action(
            {"Action": "ConfbridgeList", "Conference": f"agent-{agent_id}"}
        )
        assert any((m.get("Channel") or "").startswith("PJSIP/agent-9001-") for m in members)
        assert {m.get("Uniqueid") for m in members} == {agent_leg, debtor}
        # The agent logs out: the phone's leg hangs up, and the debtor leaves with it.
        await ami.send_action({"Action": "Hangup", "Channel": agent_leg})
        await wait_until(lambda: watcher.ended(debtor), what="the debtor to leave")
