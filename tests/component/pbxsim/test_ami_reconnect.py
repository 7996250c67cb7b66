"""AMIClient link failures against pbxsim: nothing is ever re-sent, live calls are offered."""

from __future__ import annotations

import asyncio
import random

import pytest
from support.polling import until

from dialer import channel_vars as cv
from dialer.ami import AMIActionError, AMIActionTimeout, AMIClient, AMIDisconnected
from metrics.definitions import REGISTRY
from pbxsim import scenario as sc
from pbxsim.scenario import NumberOverride
from pbxsim.testing import WAIT, EventRecorder, Rig

LONG_CALL = "5215550000177"


def long_human(rig: Rig) -> None:
    rig.pbx.scenario.numbers[LONG_CALL] = NumberOverride(sc.HUMAN, 0.5, 600.0)


async def test_given_the_link_drops_with_originate_in_flight_then_disconnected_and_never_resent(
    rig: Rig,
) -> None:
    long_human(rig)
    reconnects = REGISTRY.get_sample_value("cobrador_ami_reconnects_total") or 0.0
    rig.ami.drop_link_on["Originate"] = "drop"
    with pytest.raises(AMIDisconnected, match="NOT re-sent"):
        await rig.originate_debtor(81, LONG_CALL)
    rig.ami.drop_link_on.clear()
    await until(lambda: rig.reconnects)
    assert rig.client.connected
    # pbxsim got the Originate once and dialed; the client offers the live call.
    live = [c.get("Uniqueid") for c in rig.reconnects[0]]
    assert cv.originate_channel_id(81) in live
    await rig.client.send_action({"Action": "Ping"})
    assert len(rig.ami.actions_named("Originate")) == 1
    assert len(rig.ami.actions_named("CoreShowChannels")) == 1
    assert rig.client.reconnects == 1
    assert REGISTRY.get_sample_value("cobrador_ami_reconnects_total") == reconnects + 1
    assert REGISTRY.get_sample_value("cobrador_ami_up") == 1


async def test_given_a_dropped_link_when_an_action_is_sent_before_reconnect_then_fails_at_once(
    rig: Rig,
) -> None:
    await rig.ami.stop()  # nothing listens: the client cannot come back yet
    await until(lambda: not rig.client.connected)
    with pytest.raises(AMIDisconnected, match="not connected"):
        await rig.client.send_action({"Action": "Originate", "Channel": "Local/1@x"})
    await rig.ami.start("127.0.0.1", rig.client.port)
    await until(lambda: rig.reconnects)
    assert rig.ami.actions_named("Originate") == []  # queued nowhere, sent never


async def test_given_a_call_when_the_link_drops_then_events_resume_on_the_same_stream(
    rig: Rig,
) -> None:
    long_human(rig)
    await rig.login_agent(5)
    rig.ami.drop_connections()
    await until(lambda: rig.reconnects)
    assert [c.get("Uniqueid") for c in rig.reconnects[0]] == ["agent-leg-5"]
    rig.pbx.drop_agent(5)
    await rig.recorder.wait_for(lambda e: e.name == "Hangup" and e.get("Uniqueid") == "agent-leg-5")


async def test_given_no_response_when_the_timeout_passes_then_action_timeout_and_link_kept(
    rig: Rig,
) -> None:
    rig.ami.drop_link_on["Getvar"] = "silent"
    with pytest.raises(AMIActionTimeout, match="Getvar"):
        await rig.client.send_action({"Action": "Getvar", "Variable": "X"}, timeout=0.2)
    assert rig.client.connected
    pong = await rig.client.send_action({"Action": "Ping"})
    assert pong.get("Ping") == "Pong"


async def test_given_pings_go_unanswered_when_keepalive_runs_then_link_is_rebuilt(rig: Rig) -> None:
    reconnected: list[int] = []
    client = AMIClient(
        "127.0.0.1",
        rig.ami.port,
        "cobrador",
        "secret",
        action_timeout=0.2,
        keepalive_interval=0.1,
        reconnect_backoff=(0.05, 0.1),
        on_reconnect=lambda channels: reconnected.append(len(channels)),
    )
    await client.connect()
    rig.ami.drop_link_on["Ping"] = "silent"
    try:
        await until(lambda: client.reconnects >= 1)
    finally:
        rig.ami.drop_link_on.clear()
        await client.close()
    assert not client.connected


async def test_given_events_before_the_login_response_then_login_still_matches_by_action_id(
    rig: Rig,
) -> None:
    rig.ami.fully_booted_first = True
    client = AMIClient("127.0.0.1", rig.ami.port, "cobrador", "secret", keepalive_interval=None)
    events = client.events()
    await client.connect()
    first = await asyncio.wait_for(events.__anext__(), WAIT)
    assert first.name == "FullyBooted"
    await client.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(events.__anext__(), WAIT)


async def test_given_a_waiting_consumer_when_its_subscription_closes_then_iteration_ends(
    rig: Rig,
) -> None:
    subscription = rig.client.events()

    async def consume() -> list[str]:
        return [event.name async for event in subscription]

    consumer = asyncio.ensure_future(consume())
    await asyncio.sleep(0)
    subscription.close()
    assert await asyncio.wait_for(consumer, WAIT) == []


async def test_given_a_consumer_that_never_reads_when_events_pile_up_then_oldest_are_dropped(
    rig: Rig,
) -> None:
    client = AMIClient(
        "127.0.0.1", rig.ami.port, "cobrador", "secret", keepalive_interval=None, event_buffer=3
    )
    await client.connect()
    idle = client.events()
    await rig.login_agent(21)
    await until(lambda: idle.dropped > 0)
    kept = [await asyncio.wait_for(idle.__anext__(), WAIT) for _ in range(3)]
    # The oldest event (FullyBooted, right after login) went first.
    assert "FullyBooted" not in [e.name for e in kept]
    assert client.connected  # a slow consumer never stalls the link
    await client.close()


async def test_given_an_event_filter_when_connected_and_reconnected_then_only_those_events_arrive(
    rig: Rig,
) -> None:
    reconnected: list[int] = []
    client = AMIClient(
        "127.0.0.1",
        rig.ami.port,
        "cobrador",
        "secret",
        keepalive_interval=None,
        reconnect_backoff=(0.05, 0.1),
        on_reconnect=lambda channels: reconnected.append(len(channels)),
        event_filter=["ConfbridgeJoin", "Hangup"],
    )
    await client.connect()
    recorder = EventRecorder(client)
    try:
        await rig.login_agent(40)
        await recorder.wait_for(lambda e: e.name == "ConfbridgeJoin")
        rig.ami.drop_connections()
        await until(lambda: reconnected)
        # The rig's client reconnects too; both sessions are new to pbxsim.
        assert len(rig.ami.actions_named("Filter")) == 4
        rig.pbx.drop_agent(40)
        await recorder.wait_for(lambda e: e.name == "Hangup")
        await rig.recorder.wait_for(
            lambda e: e.name == "Hangup" and e.get("Uniqueid") == "agent-leg-40"
        )
        # FullyBooted comes with the Login response, before the filters exist.
        assert {e.name for e in recorder.events} - {"FullyBooted"} == {"ConfbridgeJoin", "Hangup"}
        # List actions are answers, not events: filters do not touch them.
        _, channels = await client.send_list_action({"Action": "CoreShowChannels"})
        assert channels == []
    finally:
        await recorder.close()
        await client.close()


@pytest.mark.parametrize(
    ("fields", "kept", "gone"),
    [
        ({"Filter": "Event: ConfbridgeJoin"}, {"ConfbridgeJoin"}, None),
        ({"Filter": "!Event: (Newexten|VarSet)"}, None, {"Newexten", "VarSet"}),
        ({"MatchCriteria": "name(Newstate)"}, {"Newstate"}, None),
        ({"MatchCriteria": "action(exclude),name(Newexten)"}, None, {"Newexten"}),
        (
            {"MatchCriteria": "header(Conference)", "Filter": "agent-41"},
            {"ConfbridgeJoin", "ConfbridgeStart"},
            None,
        ),
    ],
)
async def test_given_pbxsim_session_filters_when_events_flow_then_they_apply(
    rig: Rig, fields: dict[str, str], kept: set[str] | None, gone: set[str] | None
) -> None:
    client = AMIClient("127.0.0.1", rig.ami.port, "cobrador", "secret", keepalive_interval=None)
    await client.connect()
    recorder = EventRecorder(client)
    try:
        await client.send_action({"Action": "Filter", "Operation": "Add", **fields})
        await rig.login_agent(41)
        await recorder.wait_for(lambda e: e.name in (kept or {"ConfbridgeJoin"}))
        await client.send_action({"Action": "Ping"})  # everything before it has arrived
        names = {e.name for e in recorder.events} - {"FullyBooted"}
        if kept is not None:
            assert names == kept
        if gone is not None:
            assert "ConfbridgeJoin" in names and not names & gone
    finally:
        await recorder.close()
        await client.close()


async def test_given_a_bad_filter_when_added_then_error(rig: Rig) -> None:
    with pytest.raises(AMIActionError, match="Bad filter"):
        await rig.client.send_action(
            {"Action": "Filter", "Operation": "Add", "MatchCriteria": "colour(red)"}
        )


async def test_given_random_link_failures_when_actions_keep_coming_then_none_is_ever_sent_twice(
    rig: Rig,
) -> None:
    rng = random.Random(11)
    outcomes: dict[str, int] = {}
    for i in range(40):
        mode = rng.choice(["ok", "ok", "drop", "silent", "cut_before"])
        rig.ami.drop_link_on.clear()
        if mode in ("drop", "silent"):
            rig.ami.drop_link_on["Getvar"] = mode
        if mode == "cut_before":
            rig.ami.drop_connections()
        action_id = f"chaos-{i}"
        try:
            await rig.client.send_action(
                {"Action": "Getvar", "Variable": "X", "ActionID": action_id}, timeout=0.2
            )
            outcome = "answered"
        except AMIDisconnected:
            outcome = "disconnected"
        except AMIActionTimeout:
            outcome = "timeout"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if mode != "ok" or outcome != "answered":
            await until(lambda: rig.client.connected)
    rig.ami.drop_link_on.clear()
    received = [a.action_id for a in rig.ami.actions_named("Getvar")]
    assert len(received) == len(set(received))  # never twice
    assert set(outcomes) == {"answered", "disconnected", "timeout"}
    assert (await rig.client.send_action({"Action": "Ping"})).get("Ping") == "Pong"
