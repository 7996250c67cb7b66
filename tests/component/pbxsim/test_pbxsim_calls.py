"""AMIClient against pbxsim over real TCP: login, originate outcomes, bridge, failures."""

from __future__ import annotations

import asyncio

import pytest

from dialer import channel_vars as cv
from dialer.ami import AMIActionError, AMIAuthError, AMIClient, AMIConnectionError, Message
from dialer.fastagi import AGISession, FastAGIServer
from pbxsim import scenario as sc
from pbxsim.scenario import NumberOverride
from pbxsim.testing import Rig, progress, skeleton


def names(events: list[Message]) -> list[str]:
    return [e.name for e in events]


def on_the_line(rig: Rig, number: str) -> str:
    """`number` a person who answers and stays on the line until our dialplan hangs up.
    The rig's suffix rules have a human talk 4 simulated seconds, 0.2 s of wall time at
    SPEED: a loaded machine's FastAGI exchange took longer, the debtor had hung up
    before the failure context or the safe harbor ('could not send ... to the failure
    context: call ... hung up') and the test waited for a flag never set."""
    rig.pbx.scenario.numbers[number] = NumberOverride(sc.HUMAN, 1.0, 600.0)
    return number


def hangup_of(rig: Rig, uniqueid: str) -> Message:
    return next(
        e
        for e in rig.recorder.for_call(uniqueid)
        if e.name == "Hangup" and e.get("Uniqueid") == uniqueid
    )


async def test_given_right_credentials_when_connecting_then_logged_in_with_banner(rig: Rig) -> None:
    assert rig.client.connected
    assert rig.client.banner == "Asterisk Call Manager/11.0.0"
    pong = await rig.client.send_action({"Action": "Ping"})
    assert pong.get("Ping") == "Pong"


async def test_given_a_wrong_secret_when_connecting_then_auth_error(rig: Rig) -> None:
    client = AMIClient("127.0.0.1", rig.ami.port, "cobrador", "wrong", keepalive_interval=None)
    with pytest.raises(AMIAuthError, match="refused"):
        await client.connect()
    assert not client.connected
    await client.close()


async def test_given_nothing_listening_when_connecting_then_connection_error() -> None:
    client = AMIClient("127.0.0.1", 1, "u", "s", connect_timeout=1.0)
    with pytest.raises(AMIConnectionError, match="cannot connect"):
        await client.connect()


async def test_given_an_unknown_action_when_sent_then_action_error(rig: Rig) -> None:
    with pytest.raises(AMIActionError, match="Invalid/unknown command"):
        await rig.client.send_action({"Action": "NoSuchThing"})


@pytest.mark.parametrize(
    ("number", "cause", "reason", "dial_status"),
    [
        ("5215550000301", "17", "0", "BUSY"),
        ("5215550000401", "19", "3", None),
        ("5215550000501", "34", "0", "CONGESTION"),
        ("5215550000601", "1", "0", "NOANSWER"),
        ("5215550000801", "21", "0", "CHANUNAVAIL"),  # the debtor declines (603)
    ],
)
async def test_given_a_failing_number_when_originated_then_failure_with_cause_and_reason(
    rig: Rig, number: str, cause: str, reason: str, dial_status: str | None
) -> None:
    response = await rig.originate_debtor(11, number, timeout_ms=1000)
    assert response.get("Message") == "Originate successfully queued"
    result = await rig.recorder.wait_for(
        lambda e: e.name == "OriginateResponse" and e.get("Uniqueid") == "cobrador-11"
    )
    assert result.get("Response") == "Failure"
    assert result.get("Reason") == reason
    hangup = hangup_of(rig, "cobrador-11")
    assert hangup.get("Cause") == cause
    assert hangup.get("Cause-txt")
    assert hangup.variables()[cv.ATTEMPT_ID] == "11"
    dial_ends = [
        e.get("DialStatus") for e in rig.recorder.for_call("cobrador-11") if e.name == "DialEnd"
    ]
    assert dial_ends == ([dial_status] if dial_status else [])
    assert rig.agi_seen == []  # no answer, no FastAGI


async def test_given_a_human_and_an_agent_when_handler_bridges_then_debtor_joins_agent_bridge(
    rig: Rig,
) -> None:
    await rig.login_agent(7)

    async def bridge(agi: AGISession) -> None:
        await agi.set_variable(cv.BRIDGE, cv.agent_bridge(7))
        await agi.set_variable(cv.ACTION, cv.ACTION_BRIDGE)

    rig.decisions["21"] = bridge
    await rig.originate_debtor(21, on_the_line(rig, "5215550000121"))
    join = await rig.recorder.wait_for(
        lambda e: e.name == "ConfbridgeJoin" and e.get("Uniqueid") == "cobrador-21"
    )
    assert join.get("Conference") == "agent-7"
    assert join.get("BridgeNumChannels") == "3"  # agent, debtor and ConfBridge's announcer
    assert rig.agi_seen[0]["attempt"] == "21"
    assert rig.agi_seen[0]["amd"] == cv.AMD_HUMAN
    # The debtor hangs up once bridged (not on the scenario's clock: see on_the_line).
    await rig.client.send_action({"Action": "Hangup", "Channel": "cobrador-21", "Cause": 16})
    await rig.recorder.wait_for(lambda e: e.name == "Hangup" and e.get("Uniqueid") == "cobrador-21")
    steps = [
        step
        for step in skeleton(rig.recorder.events, "cobrador-21")
        if step.split()[0]
        in ("Newchannel", "Newstate", "ConfbridgeJoin", "ConfbridgeLeave", "Hangup")
    ]
    assert steps == [
        "Newchannel Down",
        "Newstate Ringing",
        "Newstate Up",
        "ConfbridgeJoin agent-7",
        "ConfbridgeLeave agent-7",
        "Hangup 16",
    ]
    assert progress(rig.recorder.events, "cobrador-21") == [
        "DialEnd ANSWER",
        "DialState RINGING",
        "OriginateResponse Success 4",
    ]
    assert hangup_of(rig, "cobrador-21").get("Cause") == "16"
    # The agent stays in the bridge after the debtor leaves.
    _, channels = await rig.client.send_list_action({"Action": "CoreShowChannels"})
    assert [c.get("Uniqueid") for c in channels] == ["agent-leg-7"]


async def test_given_a_machine_when_answered_then_amd_machine_reaches_the_handler(rig: Rig) -> None:
    await rig.originate_debtor(31, "5215550000201")
    await rig.recorder.wait_for(lambda e: e.name == "Hangup" and e.get("Uniqueid") == "cobrador-31")
    assert rig.agi_seen[0]["amd"] == cv.AMD_MACHINE
    amd = [
        e
        for e in rig.recorder.for_call("cobrador-31")
        if e.name == "VarSet" and e.get("Variable") == cv.AMD_STATUS
    ]
    assert amd[0].get("Value") == cv.AMD_MACHINE


async def test_given_safe_harbor_when_chosen_then_abandoned_flag_and_normal_hangup(
    rig: Rig,
) -> None:
    async def safe_harbor(agi: AGISession) -> None:
        await agi.set_variable(cv.ACTION, cv.ACTION_SAFE_HARBOR)

    rig.decisions["41"] = safe_harbor
    await rig.originate_debtor(41, on_the_line(rig, "5215550000141"))
    await rig.recorder.wait_for(
        lambda e: (
            e.name == "VarSet"
            and e.get("Variable") == "COBRADOR_ABANDONED"
            and e.get("Uniqueid") == "cobrador-41"
        )
    )
    hangup = await rig.recorder.wait_for(
        lambda e: e.name == "Hangup" and e.get("Uniqueid") == "cobrador-41"
    )
    assert hangup.get("Cause") == "16"


async def test_given_a_failing_handler_when_answered_then_failure_context_then_safe_harbor(
    rig: Rig,
) -> None:
    async def broken(agi: AGISession) -> None:
        raise RuntimeError("bug")

    rig.decisions["51"] = broken
    await rig.originate_debtor(51, on_the_line(rig, "5215550000151"))
    await rig.recorder.wait_for(
        lambda e: (
            e.name == "VarSet"
            and e.get("Variable") == "COBRADOR_FAILED"
            and e.get("Uniqueid") == "cobrador-51"
        )
    )
    await rig.recorder.wait_for(
        lambda e: (
            e.name == "VarSet"
            and e.get("Variable") == "COBRADOR_ABANDONED"
            and e.get("Uniqueid") == "cobrador-51"
        )
    )
    assert rig.agi.failures == 1


async def test_given_a_slow_handler_when_request_times_out_then_failure_context(rig: Rig) -> None:
    async def slow(agi: AGISession) -> None:
        await asyncio.sleep(5)

    rig.decisions["52"] = slow
    rig.pbx.scenario.numbers["5215550000152"] = NumberOverride(sc.HUMAN, 1.0, 600.0)
    await rig.originate_debtor(52, "5215550000152")
    error = await rig.recorder.wait_for(
        lambda e: (
            e.name == "VarSet"
            and e.get("Variable") == cv.AGI_ERROR
            and e.get("Uniqueid") == "cobrador-52"
        )
    )
    assert error.get("Value") == "timeout"
    await rig.recorder.wait_for(
        lambda e: (
            e.name == "VarSet"
            and e.get("Variable") == "COBRADOR_FAILED"
            and e.get("Uniqueid") == "cobrador-52"
        )
    )


async def test_given_no_fastagi_server_when_answered_then_failure_context(rig: Rig) -> None:
    await rig.agi.stop()
    await rig.originate_debtor(53, on_the_line(rig, "5215550000153"))
    status = await rig.recorder.wait_for(
        lambda e: (
            e.name == "VarSet"
            and e.get("Variable") == "AGISTATUS"
            and e.get("Uniqueid") == "cobrador-53"
        )
    )
    assert status.get("Value") == "FAILURE"
    await rig.recorder.wait_for(
        lambda e: (
            e.name == "VarSet"
            and e.get("Variable") == "COBRADOR_FAILED"
            and e.get("Uniqueid") == "cobrador-53"
        )
    )


async def test_given_a_bridged_call_when_the_agent_leg_drops_then_debtor_leaves_and_agent_can_return(
    rig: Rig,
) -> None:
    await rig.login_agent(8)

    async def bridge(agi: AGISession) -> None:
        await agi.set_variable(cv.BRIDGE, cv.agent_bridge(8))
        await agi.set_variable(cv.ACTION, cv.ACTION_BRIDGE)

    rig.decisions["61"] = bridge
    await rig.originate_debtor(61, "5215550000101")
    await rig.recorder.wait_for(
        lambda e: e.name == "ConfbridgeJoin" and e.get("Uniqueid") == "cobrador-61"
    )
    assert rig.pbx.drop_agent(8)
    await rig.recorder.wait_for(lambda e: e.name == "Hangup" and e.get("Uniqueid") == "agent-leg-8")
    await rig.recorder.wait_for(lambda e: e.name == "Hangup" and e.get("Uniqueid") == "cobrador-61")
    await rig.recorder.wait_for(
        lambda e: e.name == "ConfbridgeEnd" and e.get("Conference") == "agent-8"
    )
    rig.recorder.events.clear()
    await rig.login_agent(8)  # the agent's phone is called again and comes back


async def test_given_a_ringing_call_when_hung_up_by_ami_then_originate_fails(rig: Rig) -> None:
    await rig.originate_debtor(71, "5215550000401", timeout_ms=60000)
    ringing = await rig.recorder.wait_for(
        lambda e: (
            e.name == "Newstate"
            and e.get("Uniqueid") == "cobrador-71"
            and e.get("ChannelStateDesc") == "Ringing"
        )
    )
    reply = await rig.client.send_action(
        {"Action": "Hangup", "Channel": ringing["Channel"], "Cause": 16}
    )
    assert reply.get("Message") == "Channel Hungup"
    result = await rig.recorder.wait_for(
        lambda e: e.name == "OriginateResponse" and e.get("Uniqueid") == "cobrador-71"
    )
    assert result.get("Response") == "Failure"


async def test_given_setvar_and_getvar_when_sent_then_value_round_trips(rig: Rig) -> None:
    await rig.login_agent(9)
    _, channels = await rig.client.send_list_action({"Action": "CoreShowChannels"})
    name = channels[0]["Channel"]
    await rig.client.send_action(
        {"Action": "Setvar", "Channel": name, "Variable": "X", "Value": "y z"}
    )
    got = await rig.client.send_action({"Action": "Getvar", "Channel": name, "Variable": "X"})
    assert got.get("Value") == "y z"
    with pytest.raises(AMIActionError, match="No such channel"):
        await rig.client.send_action({"Action": "Getvar", "Channel": "PJSIP/nope", "Variable": "X"})


async def test_given_status_and_command_when_sent_then_lists_and_output(rig: Rig) -> None:
    await rig.login_agent(10)
    response, statuses = await rig.client.send_list_action({"Action": "Status"})
    assert response.get("EventList") == "start"
    assert [s.get("Uniqueid") for s in statuses] == ["agent-leg-10"]
    output = await rig.client.send_action({"Action": "Command", "Command": "core show channels"})
    assert output.output == ["1 active channel"]


@pytest.mark.parametrize(
    "action",
    [
        {"Action": "Originate", "Context": "x", "Exten": "s"},
        {"Action": "Originate", "Channel": "Local/1@cobrador-outbound"},
        {
            "Action": "Originate",
            "Channel": "Local/1@cobrador-outbound",
            "Context": "x",
            "Exten": "s",
            "Priority": "one",
        },
        {"Action": "Redirect", "Channel": "PJSIP/nope", "Context": "x", "Exten": "s"},
        {"Action": "Hangup", "Channel": "PJSIP/nope"},
        {"Action": "Setvar", "Channel": "PJSIP/nope"},
    ],
)
async def test_given_bad_actions_when_sent_then_action_error(rig: Rig, action: dict) -> None:
    with pytest.raises(AMIActionError):
        await rig.client.send_action(action)


async def test_given_a_bridged_call_when_redirected_to_another_agent_then_it_moves_and_a_supervisor_listens(
    rig: Rig,
) -> None:
    await rig.login_agent(13)
    await rig.login_agent(14)

    async def bridge(agi: AGISession) -> None:
        await agi.set_variable(cv.BRIDGE, cv.agent_bridge(13))
        await agi.set_variable(cv.ACTION, cv.ACTION_BRIDGE)

    rig.decisions["95"] = bridge
    rig.pbx.scenario.numbers["5215550000195"] = NumberOverride(sc.HUMAN, 0.5, 600.0)
    await rig.originate_debtor(95, "5215550000195")
    await rig.recorder.wait_for(
        lambda e: e.name == "ConfbridgeJoin" and e.get("Uniqueid") == "cobrador-95"
    )
    await rig.client.send_action(
        {"Action": "Setvar", "Channel": "cobrador-95", "Variable": cv.BRIDGE, "Value": "agent-14"}
    )
    await rig.client.send_action(
        {
            "Action": "Redirect",
            "Channel": "cobrador-95",
            "Context": cv.CONTEXT_ANSWER,
            "Exten": "action-bridge",
            "Priority": 1,
        }
    )
    moved = await rig.recorder.wait_for(
        lambda e: (
            e.name == "ConfbridgeJoin"
            and e.get("Uniqueid") == "cobrador-95"
            and e.get("Conference") == "agent-14"
        )
    )
    assert moved.get("BridgeNumChannels") == "3"
    await rig.client.send_action(
        {
            "Action": "Originate",
            "Channel": "Local/900@sim-agents",
            "Context": "cobrador-supervisor",
            "Exten": "s",
            "Async": "true",
            "ChannelId": "supervisor-1",
            "Variable": "COBRADOR_SPY_AGENT_ID=14",
        }
    )
    spy = await rig.recorder.wait_for(
        lambda e: e.name == "ConfbridgeJoin" and e.get("Uniqueid") == "supervisor-1"
    )
    assert spy.get("Muted") == "Yes"
    _, members = await rig.client.send_list_action(
        {"Action": "ConfbridgeList", "Conference": "agent-14"}
    )
    assert [(m["Uniqueid"], m["MarkedUser"], m["Muted"]) for m in members] == [
        ("agent-leg-14", "Yes", "No"),
        ("cobrador-95", "No", "No"),
        ("supervisor-1", "No", "Yes"),
    ]
    # The agent's phone drops: debtor and supervisor leave with it (end_marked).
    rig.pbx.drop_agent(14)
    for uniqueid in ("cobrador-95", "supervisor-1"):
        await rig.recorder.wait_for(
            lambda e, u=uniqueid: (
                e.name == "VarSet" and e.get("Uniqueid") == u and e.get("Value") == "ENDMARKED"
            )
        )
        await rig.recorder.wait_for(
            lambda e, u=uniqueid: e.name == "Hangup" and e.get("Uniqueid") == u
        )
    with pytest.raises(AMIActionError, match="No Conference"):
        await rig.client.send_list_action({"Action": "ConfbridgeList", "Conference": "agent-14"})


async def test_given_an_unavailable_agent_phone_when_called_then_failure_until_it_comes_back(
    rig: Rig,
) -> None:
    rig.pbx.unavailable_endpoints.add("PJSIP/agent-30")
    await rig.client.send_action(
        {
            "Action": "Originate",
            "Channel": "PJSIP/agent-30",
            "Context": cv.CONTEXT_AGENT,
            "Exten": "s",
            "Async": "true",
            "ChannelId": "agent-leg-30",
            "Variable": f"{cv.AGENT_ID}=30",
        }
    )
    result = await rig.recorder.wait_for(
        lambda e: e.name == "OriginateResponse" and e.get("Uniqueid") == "agent-leg-30"
    )
    assert (result.get("Response"), result.get("Reason")) == ("Failure", "0")
    assert hangup_of(rig, "agent-leg-30").get("Cause") == "20"
    rig.pbx.unavailable_endpoints.clear()
    rig.recorder.events.clear()
    join = await rig.login_agent(30)
    assert join.get("Uniqueid") == "agent-leg-30"


async def test_given_a_non_numeric_agent_id_when_the_leg_answers_then_it_is_rejected(
    rig: Rig,
) -> None:
    await rig.client.send_action(
        {
            "Action": "Originate",
            "Channel": "PJSIP/agent-x",
            "Context": cv.CONTEXT_AGENT,
            "Exten": "s",
            "Async": "true",
            "ChannelId": "agent-leg-x",
            "Variable": f"{cv.AGENT_ID}=x",
        }
    )
    hangup = await rig.recorder.wait_for(
        lambda e: e.name == "Hangup" and e.get("Uniqueid") == "agent-leg-x"
    )
    assert hangup.get("Cause") == "21"
    assert not any(e.name == "ConfbridgeJoin" for e in rig.recorder.events)


async def test_given_the_call_names_its_fastagi_port_when_answered_then_that_server_is_asked(
    rig: Rig,
) -> None:
    asked: list[str] = []

    async def other(agi: AGISession) -> None:
        asked.append(agi.env["agi_request"])
        await agi.set_variable(cv.ACTION, cv.ACTION_HANGUP)

    second = FastAGIServer(routes={cv.SCRIPT_ANSWER: other})
    await second.start("127.0.0.1", 0)
    port = second.port
    try:
        await rig.client.send_action(
            {
                "Action": "Originate",
                "Channel": cv.debtor_channel("5215550000101"),
                "Context": cv.CONTEXT_ANSWER,
                "Exten": "s",
                "Async": "true",
                "ChannelId": cv.originate_channel_id(97),
                "Variable": [f"{cv.ATTEMPT_ID}=97", f"{cv.AGI_PORT}={port}"],
            }
        )
        await rig.recorder.wait_for(
            lambda e: e.name == "Hangup" and e.get("Uniqueid") == "cobrador-97"
        )
    finally:
        await second.stop()
    assert asked == [f"agi://127.0.0.1:{port}/answer"]
    assert rig.agi_seen == []  # the rig's own FastAGI server was not asked
