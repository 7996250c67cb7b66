"""Which call of an agent's an AMI event is about: a late event of the agent's older
leg leaves the newer one alone. Real Redis; Asterisk's side is a fake of the AMI
protocol that answers every action and lists no channel, the events fed in as
Asterisk 22 sends them."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from dialer.agent_legs import DIALING, DOWN, UP, AgentLegs, leg_named
from dialer.agent_state import AgentState, AgentStates
from dialer.ami import Message

AGENT = 7
ENDPOINT = f"PJSIP/agent-{AGENT}"


class FakeAMI:
    """Accepts every action (an Originate is queued) and has no channel to list. Like
    the real client, it gives an action with no ActionID one of its own."""

    def __init__(self) -> None:
        self.originates: list[dict[str, Any]] = []
        self.sent = 0

    async def send_action(self, action: dict[str, Any], timeout: float | None = None) -> Message:  # noqa: ASYNC109
        self.sent += 1
        action = {"ActionID": f"client-{self.sent}", **action}
        if action.get("Action") == "Originate":
            self.originates.append(action)
        return Message([("Response", "Success"), ("ActionID", str(action["ActionID"]))])

    async def send_list_action(self, action: dict[str, Any], timeout: float | None = None) -> Any:  # noqa: ASYNC109
        return Message([("Response", "Success")]), []


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def logged_in(aredis: aioredis.Redis) -> tuple[AgentLegs, FakeAMI, AgentStates]:
    """The agent logged in: the dialer called their phone once (leg dialing)."""
    clock = Clock()
    states = AgentStates(aredis, clock=clock)
    ami = FakeAMI()

    async def phone_of(_agent: int) -> str:
        return ENDPOINT

    legs = AgentLegs(redis=aredis, ami=ami, states=states, phone_of=phone_of,  # type: ignore[arg-type]
                     campaigns={"mx-test"}, owner="d1", clock=clock, pbx="pbx-1")  # fmt: skip
    snap = await states.login(AGENT, "mx-test")
    await legs.on_agent_event(snap.as_dict())
    return legs, ami, states


def hangup(channel_id: str) -> Message:
    return Message([("Event", "Hangup"), ("Channel", f"{ENDPOINT}-00000001"),
                    ("Uniqueid", channel_id), ("Cause", "21")])  # fmt: skip


def originate_failed(action_id: str) -> Message:
    """Asterisk 22's OriginateResponse when the phone's channel never came up: the
    channel named <null>, the call known only by the Originate's ActionID."""
    return Message([("Event", "OriginateResponse"), ("ActionID", action_id),
                    ("Response", "Failure"), ("Channel", ENDPOINT), ("Context", "cobrador-agent"),
                    ("Exten", "s"), ("Reason", "0"), ("Uniqueid", "<null>")])  # fmt: skip


def newstate_up(channel_id: str) -> Message:
    return Message([("Event", "Newstate"), ("Channel", f"{ENDPOINT}-00000002"),
                    ("ChannelState", "6"), ("Uniqueid", channel_id)])  # fmt: skip


async def test_given_old_legs_failure_comes_after_the_new_leg_is_placed_then_new_leg_kept(
    aredis: aioredis.Redis,
) -> None:
    """The first call's channel hangs up, the agent reconnects (a second call rings),
    then the first call's OriginateResponse Failure arrives. Before, it was matched to
    the agent by the phone's endpoint and dropped the second call: the agent lost the
    leg that was about to answer and sat in no_audio."""
    legs, ami, states = await logged_in(aredis)
    first = ami.originates[0]
    await legs.on_ami_event(hangup(first["ChannelId"]))
    assert (await states.get(AGENT)).state is AgentState.no_audio
    assert await legs.reconnect(AGENT)
    second = ami.originates[1]["ChannelId"]
    assert second != first["ChannelId"]

    await legs.on_ami_event(originate_failed(first["ActionID"]))

    leg = await legs.get(AGENT)
    assert leg is not None and (leg.channel_id, leg.status) == (second, DIALING)
    await legs.on_ami_event(newstate_up(second))
    leg = await legs.get(AGENT)
    assert leg is not None and leg.status == UP
    snap = await states.get(AGENT)
    assert (snap.state, snap.reason) == (AgentState.paused, "login")
    assert len(ami.originates) == 2


async def test_given_the_legs_own_failure_named_by_its_action_id_then_dropped(
    aredis: aioredis.Redis,
) -> None:
    """The phone is not registered: the only event is the OriginateResponse naming no
    channel. Known by its ActionID, it drops the leg, so a reconnect calls again."""
    legs, ami, states = await logged_in(aredis)
    only = ami.originates[0]

    await legs.on_ami_event(originate_failed(only["ActionID"]))

    leg = await legs.get(AGENT)
    assert leg is not None and (leg.channel_id, leg.status) == (only["ChannelId"], DOWN)
    assert (await states.get(AGENT)).state is AgentState.no_audio
    assert await legs.reconnect(AGENT)
    assert len(ami.originates) == 2


async def test_given_old_legs_late_answer_then_new_leg_not_marked_up(
    aredis: aioredis.Redis,
) -> None:
    """A Newstate Up of the older call read just before the newer call was written
    (its leg read, then the reconnect) must not mark the newer, still ringing, call up."""
    legs, ami, states = await logged_in(aredis)
    old = await legs.get(AGENT)
    await legs.on_ami_event(hangup(ami.originates[0]["ChannelId"]))
    assert await legs.reconnect(AGENT)

    assert old is not None
    await legs._up(old)  # the event's handler, past its read of the leg

    leg = await legs.get(AGENT)
    second = ami.originates[1]["ChannelId"]
    assert leg is not None and (leg.channel_id, leg.status) == (second, DIALING)
    assert (await states.get(AGENT)).state is AgentState.no_audio


async def test_given_two_dialers_handle_the_old_legs_hangup_when_the_new_leg_is_placed_between_then_kept(
    aredis: aioredis.Redis,
) -> None:
    """Every dialer on the Asterisk gets the leg's Hangup (Asterisk 22 names it by the
    leg's ChannelId). One drops the leg, the agent's reconnect places the next call,
    then the other, which read the leg before, handles it: it wrote DOWN on the agent,
    not on that call, so the new call was dropped and its lock freed (a second reconnect
    rang the phone twice)."""
    legs, ami, states = await logged_in(aredis)
    first = ami.originates[0]["ChannelId"]
    await legs.on_ami_event(newstate_up(first))
    other = AgentLegs(redis=aredis, ami=FakeAMI(), states=states,  # type: ignore[arg-type]
                      phone_of=legs.phone_of, campaigns={"mx-test"}, owner="d2",
                      clock=legs.clock, pbx="pbx-1")  # fmt: skip
    read_before = await other.get(AGENT)
    await legs.on_ami_event(hangup(first))
    assert await legs.reconnect(AGENT)
    second = ami.originates[1]["ChannelId"]

    async def as_read_before(_agent: int) -> Any:
        return read_before

    other.get = as_read_before  # type: ignore[method-assign]
    await other.on_ami_event(hangup(first))

    leg = await AgentLegs.get(legs, AGENT)
    assert leg is not None and (leg.channel_id, leg.status) == (second, DIALING)
    assert await aredis.exists(f"cobrador:agent-leg-call:{{{AGENT}}}")  # its call lock kept
    assert len(ami.originates) == 2


def test_given_events_then_the_leg_they_name() -> None:
    leg = "cobrador-leg-7-abc"
    assert leg_named(Message([("Event", "Hangup"), ("Uniqueid", leg)])) == leg
    assert leg_named(originate_failed(leg)) == leg
    # Only an OriginateResponse is known by its ActionID; other ids name no leg.
    assert (
        leg_named(Message([("Event", "Hangup"), ("Uniqueid", "<null>"), ("ActionID", leg)])) == ""
    )
    assert leg_named(originate_failed("ami-12")) == ""
    assert leg_named(Message([("Event", "Hangup"), ("Uniqueid", f"{leg};1")])) == ""
    assert leg_named(Message([("Event", "Newstate")])) == ""
