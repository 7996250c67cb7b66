"""Nailed-up agent legs and supervisor monitoring on pbxsim, with the real dial
loop, Redis and SQL: a dropped leg puts the agent in no_audio (never reserved,
never bridged to), a reconnect brings the agent back; monitoring originates
ChanSpy only for a supervisor on a talking agent and leaves evidence."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from support.polling import until
from test_store_outages import RedisProcess

from dialer.agent_legs import DOWN, UP, AgentLegs
from dialer.agent_state import AgentState, AgentStates
from dialer.call_state import CallState
from dialer.messages import COMMANDS_CHANNEL
from dialer.monitoring import Monitoring, MonitorRefused
from dialer.phone_service import PhoneService
from dialer.user_phones import PhoneUser, endpoint, load_user
from pbxsim.scenario import Dist, Scenario
from store.db import transaction
from store.models import CallAttempt, User

TEMPLATE = "PJSIP/agent-{user_id}"


@dataclass
class Phones:
    service: PhoneService
    legs: AgentLegs
    monitoring: Monitoring
    audit: list[tuple[str, dict[str, Any], str, str]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None


def humans_only(floor: Any) -> None:
    """Every debtor answers in person and talks long enough to be bridged."""
    floor.pbx.scenario = Scenario(p_human=1.0, p_machine=0.0, p_busy=0.0, p_congestion=0.0,
                                  p_unallocated=0.0, ring_seconds=Dist("constant", 1.0),
                                  talk_seconds=Dist("constant", 600.0), amd_human_seconds=0.5,
                                  safe_harbor_seconds=1.0, agent_answer_seconds=0.1, seed=3)  # fmt: skip


def add_user(engine: Engine, username: str, role: str) -> int:
    with transaction(engine) as s:
        user = User(username=username, role=role, password_hash="-")
        s.add(user)
        s.flush()
        return user.id


@pytest.fixture
async def phones_for(engine: Engine) -> AsyncIterator[Callable[..., Any]]:
    started: list[Phones] = []

    async def start(floor: Any, **legs_options: Any) -> Phones:
        states = AgentStates(floor.redis, clock=floor.clock)

        async def user_of(user_id: int) -> PhoneUser | None:
            return await asyncio.to_thread(load_user, engine, user_id)

        async def phone_of(agent_id: int) -> str | None:
            user = await user_of(agent_id)
            return endpoint(TEMPLATE, user) if user else None

        audit: list[tuple[str, dict[str, Any], str, str]] = []

        async def write(kind: str, payload: dict[str, Any], actor: str, subject: str) -> None:
            audit.append((kind, payload, actor, subject))

        legs = AgentLegs(redis=floor.redis, ami=floor.ami, states=states, phone_of=phone_of,
                         campaigns={"mx-test"}, owner="d1", clock=floor.clock,
                         **legs_options)  # fmt: skip
        monitoring = Monitoring(redis=floor.redis, ami=floor.ami, states=states, user_of=user_of,
                                phone_for=lambda u: endpoint(TEMPLATE, u), audit=write,
                                campaigns={"mx-test"}, owner="d1", clock=floor.clock)  # fmt: skip
        service = PhoneService(redis=floor.redis, ami=floor.ami, legs=legs, monitoring=monitoring)
        floor.dialer.agent_check = legs.usable
        dialer_reconcile = floor.dialer.reconcile

        async def reconcile_all(channels: list[Any]) -> None:
            await dialer_reconcile(channels)
            await service.reconcile(channels)

        floor.ami.on_reconnect = reconcile_all
        phones = Phones(service, legs, monitoring, audit)
        phones.task = asyncio.create_task(service.run())
        started.append(phones)
        return phones

    yield start
    for phones in started:
        phones.service.request_stop()
        assert phones.task is not None
        await asyncio.wait_for(phones.task, 10)


async def leg_up(phones: Phones, agent_id: int) -> None:
    """The leg is up and the agent is back out of no_audio: the leg's status is
    written before the agent's state is restored, and a test that drops the leg
    in between would see the old no_audio and reconnect a leg that is still up."""

    async def up() -> bool:
        leg = await phones.legs.get(agent_id)
        if leg is None or leg.status != UP:
            return False
        return (await phones.legs.states.get(agent_id)).state is not AgentState.no_audio

    await until(up, f"agent {agent_id}'s leg up and the agent out of no_audio")


async def state_of(floor: Any, agent_id: int) -> AgentState:
    return (await floor.agents.get(agent_id)).state


async def state_of_snap(floor: Any, agent_id: int) -> Any:
    return await floor.agents.get(agent_id)


def bridged(floor: Any) -> list[int]:
    """Agents of the calls the dial loop has bridged right now."""
    return [c.agent_id for c in floor.dialer.calls.values() if c.state is CallState.bridged]


async def in_state(floor: Any, agent_id: int, state: AgentState) -> bool:
    return await state_of(floor, agent_id) == state


def attempts(engine: Engine) -> list[CallAttempt]:
    with Session(engine) as s:
        return list(s.scalars(select(CallAttempt).order_by(CallAttempt.id)))


async def test_given_ready_agent_without_leg_when_dialer_starts_then_phone_called_and_ready_once_up(
    make_floor: Any, phones_for: Any
) -> None:
    floor = await make_floor(accounts=2, agents=1)
    agent = floor.agent_ids[0]
    phones = await phones_for(floor)
    await leg_up(phones, agent)
    await until(lambda: in_state(floor, agent, AgentState.ready), "agent ready again")
    bridge = floor.pbx.bridges[f"agent-{agent}"]
    assert [c.name.rsplit("-", 1)[0] for c in bridge.members] == [f"PJSIP/agent-{agent}"]
    assert floor.pbx.calls_placed == 1  # one leg, once


async def test_given_leg_drops_when_next_tick_then_agent_no_audio_and_nothing_dialed(
    make_floor: Any, phones_for: Any
) -> None:
    floor = await make_floor(accounts=5, agents=1)
    agent = floor.agent_ids[0]
    phones = await phones_for(floor)
    await leg_up(phones, agent)
    await until(lambda: in_state(floor, agent, AgentState.ready))
    assert floor.pbx.drop_agent(agent)
    await until(lambda: in_state(floor, agent, AgentState.no_audio), "no_audio")
    placed_before = floor.pbx.calls_placed
    assert await floor.dialer.tick() == 0  # progressive: no ready agent, no call
    snapshot = await floor.dialer.snapshot(floor.clock())
    assert snapshot.count("ready") == 0
    assert floor.pbx.calls_placed == placed_before and attempts(floor.engine) == []
    assert not await floor.agents.reserve(agent, 1)
    assert (await phones.legs.get(agent)).status == DOWN  # type: ignore[union-attr]


async def test_given_leg_drops_while_debtor_answers_then_not_bridged_and_abandoned(
    make_floor: Any, phones_for: Any
) -> None:
    floor = await make_floor(accounts=1, agents=1)
    humans_only(floor)
    agent = floor.agent_ids[0]
    phones = await phones_for(floor)
    await leg_up(phones, agent)
    await until(lambda: in_state(floor, agent, AgentState.ready))
    real_reserve = floor.dialer.agents.reserve
    dropped: list[int] = []

    async def reserve_then_drop(
        agent_id: int, attempt_id: int, *, pausing_too: bool = False
    ) -> bool:
        reserved = await real_reserve(agent_id, attempt_id, pausing_too=pausing_too)
        if reserved and not dropped:  # the tab closes right after the reservation
            dropped.append(attempt_id)
            floor.pbx.drop_agent(agent_id)
            await until(lambda: in_state(floor, agent_id, AgentState.no_audio))
        return reserved

    floor.dialer.agents.reserve = reserve_then_drop
    await floor.run_until(lambda: len(attempts(floor.engine)) == 1
                          and attempts(floor.engine)[0].result is not None)  # fmt: skip
    (attempt,) = attempts(floor.engine)
    assert dropped == [attempt.id]
    assert (attempt.result, attempt.agent_id, attempt.bridged_at) == ("abandoned", None, None)
    assert f"agent-{agent}" not in floor.pbx.bridges  # nobody joined the dead bridge
    assert await state_of(floor, agent) == AgentState.no_audio


@pytest.mark.parametrize("before", ["ready", "paused"])
async def test_given_dropped_leg_when_agent_reconnects_then_previous_state_and_reserved_again(
    make_floor: Any, phones_for: Any, before: str
) -> None:
    floor = await make_floor(accounts=1, agents=1)
    agent = floor.agent_ids[0]
    phones = await phones_for(floor)
    await leg_up(phones, agent)
    await until(lambda: in_state(floor, agent, AgentState.ready))
    if before == "paused":
        await floor.agents.pause(agent, "almuerzo")
    floor.pbx.drop_agent(agent)
    await until(lambda: in_state(floor, agent, AgentState.no_audio))
    # The console's reconnect button publishes this; the dialer calls the phone again.
    await floor.redis.publish(COMMANDS_CHANNEL, json.dumps({"type": "agent_leg_reconnect",
                                                            "agent_id": agent}))  # fmt: skip
    await until(lambda: in_state(floor, agent, AgentState(before)), f"back {before}")
    await leg_up(phones, agent)
    snap = await floor.agents.get(agent)
    assert snap.reason == ("almuerzo" if before == "paused" else "")
    if before == "paused":
        await floor.agents.set_ready(agent)
    humans_only(floor)
    await floor.run_until(lambda: bridged(floor))
    assert bridged(floor) == [agent]
    assert floor.pbx.calls_placed == 3  # leg, leg again, debtor


async def test_given_phone_unreachable_when_reconnecting_then_still_no_audio_until_it_answers(
    make_floor: Any, phones_for: Any
) -> None:
    floor = await make_floor(accounts=1, agents=1)
    agent = floor.agent_ids[0]
    phones = await phones_for(floor)
    await leg_up(phones, agent)
    floor.pbx.unavailable_endpoints.add(f"PJSIP/agent-{agent}")
    floor.pbx.drop_agent(agent)
    await until(lambda: in_state(floor, agent, AgentState.no_audio))
    assert await phones.legs.reconnect(agent)

    async def failed_again() -> bool:
        leg = await phones.legs.get(agent)
        return floor.pbx.calls_placed == 2 and leg is not None and leg.status == DOWN

    await until(failed_again, "the second call to fail")
    assert await state_of(floor, agent) == AgentState.no_audio
    floor.pbx.unavailable_endpoints.clear()
    assert await phones.legs.reconnect(agent)
    await until(lambda: in_state(floor, agent, AgentState.ready))


async def test_given_unknown_agent_or_logged_out_when_reconnect_asked_then_nothing_dialed(
    make_floor: Any, phones_for: Any
) -> None:
    floor = await make_floor(accounts=1, agents=1)
    agent = floor.agent_ids[0]
    phones = await phones_for(floor)
    await leg_up(phones, agent)
    placed = floor.pbx.calls_placed
    assert not await phones.legs.reconnect(987654)
    await floor.agents.logout(agent)
    await until(lambda: f"agent-{agent}" not in floor.pbx.bridges, "the leg hung up at logout")
    assert await phones.legs.get(agent) is None
    assert not await phones.legs.reconnect(agent)
    assert floor.pbx.calls_placed == placed


# -- monitoring ----------------------------------------------------------------------


async def talking(floor: Any, phones: Phones) -> int:
    agent = floor.agent_ids[0]
    await leg_up(phones, agent)
    await until(lambda: in_state(floor, agent, AgentState.ready))
    humans_only(floor)
    await floor.run_until(lambda: bridged(floor))
    assert await state_of(floor, agent) == AgentState.talking
    return agent


async def test_given_supervisor_when_listening_then_spy_leg_on_agent_and_session_audited(
    make_floor: Any, phones_for: Any
) -> None:
    floor = await make_floor(accounts=1, agents=1)
    phones = await phones_for(floor)
    agent = await talking(floor, phones)
    sofia = add_user(floor.engine, "sofia", "supervisor")
    await floor.redis.publish(COMMANDS_CHANNEL, json.dumps({"type": "monitor",
                              "monitor_id": "a1" * 8, "supervisor_id": sofia, "agent_id": agent,
                              "mode": "listen"}))  # fmt: skip
    await until(lambda: floor.pbx.spied, "ChanSpy on the agent's leg")
    ((spy, spied),) = floor.pbx.spied.items()
    assert spy == "cobrador-spy-" + "a1" * 8
    assert spied.startswith(f"cobrador-leg-{agent}-")
    await until(lambda: [a for a in phones.audit if a[0] == "monitor_start"])
    # Another supervisor (another campaign's) cannot end it: the console names the
    # supervisor asking (dialer_phone_views.monitor_stop) and only hers are ended.
    pablo = add_user(floor.engine, "pablo", "supervisor")
    assert not await phones.monitoring.stop({"monitor_id": "a1" * 8, "supervisor_id": pablo})
    assert spy in floor.pbx.spied and not [a for a in phones.audit if a[0] == "monitor_session"]
    await floor.ami.send_action({"Action": "Hangup", "Channel": spy})  # she hangs up
    await until(lambda: [a for a in phones.audit if a[0] == "monitor_session"])
    kinds = [a[0] for a in phones.audit]
    assert kinds == ["monitor_start", "monitor_session"]
    _, session, actor, subject = phones.audit[1]
    assert (actor, subject) == ("user:sofia", f"agent:{agent}")
    assert session["mode"] == "listen" and session["supervisor_id"] == sofia
    assert session["started_at"] <= session["ended_at"]
    assert await state_of(floor, agent) == AgentState.talking  # the agent's call goes on


async def test_given_her_phone_never_came_up_when_asterisk_names_no_channel_then_the_session_ends(
    make_floor: Any, phones_for: Any
) -> None:
    """Asterisk 22 reports a failed Originate whose channel never came up (her phone not
    registered) with Uniqueid <null>: known by its ActionID, the session ends as not
    answered, with its evidence. Before, nothing matched that report: the session stayed
    listed, never ended nor audited."""
    from dialer.ami import Message

    floor = await make_floor(accounts=1, agents=1)
    phones = await phones_for(floor)
    agent = await talking(floor, phones)
    sofia = add_user(floor.engine, "sofia", "supervisor")
    floor.pbx_clock.hold()  # her phone rings on in pbxsim: the report is Asterisk's below
    try:
        await phones.monitoring.start({"monitor_id": "c3" * 8, "supervisor_id": sofia,
                                       "agent_id": agent, "mode": "listen"})  # fmt: skip
        [spy] = [a for a in floor.ami_server.actions_named("Originate")
                 if (a.get("ChannelId") or "").startswith("cobrador-spy-")]  # fmt: skip
        assert list(phones.monitoring.sessions) == [spy.get("ChannelId")]
        await phones.monitoring.on_ami_event(Message([
            ("Event", "OriginateResponse"), ("ActionID", spy.get("ActionID") or ""),
            ("Response", "Failure"), ("Channel", spy.get("Channel") or ""),
            ("Context", "cobrador-spy"), ("Exten", "s"), ("Reason", "0"), ("Uniqueid", "<null>"),
        ]))  # fmt: skip
        assert phones.monitoring.sessions == {}
        [(_, session, actor, _)] = [a for a in phones.audit if a[0] == "monitor_session"]
        assert session["how"] == "not answered" and actor == "user:sofia"
        assert "started_at" not in session or session["started_at"] is None
    finally:
        floor.pbx_clock.release()


async def test_given_a_session_on_a_call_when_the_call_ends_then_her_leg_is_hung_up(
    make_floor: Any, phones_for: Any
) -> None:
    """ChanSpy follows the agent's leg, which outlives the call: she went on hearing
    the agent's next call, which may be another campaign's (an inbound overflow)."""
    floor = await make_floor(accounts=1, agents=1)
    phones = await phones_for(floor)
    agent = await talking(floor, phones)
    attempt = (await state_of_snap(floor, agent)).attempt_id
    sofia = add_user(floor.engine, "sofia", "supervisor")
    await phones.monitoring.start({"monitor_id": "e5" * 8, "supervisor_id": sofia,
                                   "agent_id": agent, "mode": "listen",
                                   "attempt_id": attempt})  # fmt: skip
    await until(lambda: [a for a in phones.audit if a[0] == "monitor_start"])
    assert phones.audit[0][1]["attempt_id"] == attempt
    (debtor,) = [c.channel for c in floor.dialer.calls.values() if c.agent_id == agent]
    assert debtor is not None
    channel = floor.pbx.find_channel(debtor)
    assert channel is not None
    floor.pbx.request_hangup(channel, 16)  # the debtor hangs up: the call is over
    await until(lambda: [a for a in phones.audit if a[0] == "monitor_session"])
    session = phones.audit[-1][1]
    assert session["how"] == "the agent's call ended" and session["attempt_id"] == attempt
    assert not floor.pbx.spied and phones.monitoring.sessions == {}


async def test_given_the_agents_event_is_lost_when_the_call_ends_then_the_check_hangs_her_up(
    make_floor: Any, phones_for: Any
) -> None:
    """The agent's events are pub/sub: one lost in a Redis blip left her listening on
    into the agent's next call. The periodic check reads the agent's state itself."""
    floor = await make_floor(accounts=1, agents=1)
    phones = await phones_for(floor)
    agent = await talking(floor, phones)
    attempt = (await state_of_snap(floor, agent)).attempt_id
    sofia = add_user(floor.engine, "sofia", "supervisor")
    await phones.monitoring.start({"monitor_id": "e6" * 8, "supervisor_id": sofia,
                                   "agent_id": agent, "mode": "listen",
                                   "attempt_id": attempt})  # fmt: skip
    await until(lambda: [a for a in phones.audit if a[0] == "monitor_start"])
    lost: list[Any] = []

    async def lose(event: Any) -> None:  # every agent event from now on is lost
        lost.append(event)

    phones.monitoring.on_agent_event = lose  # type: ignore[method-assign]

    async def unfollowed(event: Any) -> None:  # the check alone: nor AMI's word on the call
        return None

    phones.monitoring._follow_call = unfollowed  # type: ignore[method-assign]
    (debtor,) = [c.channel for c in floor.dialer.calls.values() if c.agent_id == agent]
    channel = floor.pbx.find_channel(debtor or "")
    assert channel is not None
    floor.pbx.request_hangup(channel, 16)  # the debtor hangs up: the call is over
    await until(lambda: [a for a in phones.audit if a[0] == "monitor_session"],
                "the session ended without the agent's event")  # fmt: skip
    assert lost, "the agent's event was published, and lost"
    session = phones.audit[-1][1]
    assert session["how"].startswith("the agent's call ended (found by the periodic check")
    assert session["attempt_id"] == attempt
    assert not floor.pbx.spied and phones.monitoring.sessions == {}


async def test_given_redis_down_when_the_monitored_call_ends_then_asterisks_events_hang_her_up(
    make_floor: Any, phones_for: Any, tmp_path: Path
) -> None:
    """The agent's events and states are in Redis: with Redis down neither the event
    nor the periodic check could say the call was over, and ChanSpy, which follows
    the agent's leg, went on into the agent's next call (another debtor). The
    debtor's channel leaving the agent's bridge, seen on AMI, ends the session."""
    server = RedisProcess(tmp_path / "redis-fault")
    server.start()
    try:
        floor = await make_floor(accounts=2, agents=1, redis_at=server.url)
        phones = await phones_for(floor)
        agent = await talking(floor, phones)
        attempt = (await state_of_snap(floor, agent)).attempt_id
        sofia = add_user(floor.engine, "sofia", "supervisor")
        await phones.monitoring.start({"monitor_id": "e7" * 8, "supervisor_id": sofia,
                                       "agent_id": agent, "mode": "listen",
                                       "attempt_id": attempt})  # fmt: skip
        await until(lambda: [a for a in phones.audit if a[0] == "monitor_start"])
        (debtor,) = [c.channel for c in floor.dialer.calls.values() if c.agent_id == agent]
        channel = floor.pbx.find_channel(debtor or "")
        assert channel is not None and floor.pbx.spied
        server.kill()  # SIGKILL: no pub/sub, no agent state, until it is back
        floor.pbx.request_hangup(channel, 16)  # the debtor hangs up: the call is over
        await until(lambda: [a for a in phones.audit if a[0] == "monitor_session"],
                    "the session ended with Redis down")  # fmt: skip
        session = phones.audit[-1][1]
        assert session["how"] == "the agent's call ended" and session["attempt_id"] == attempt
        assert not floor.pbx.spied and phones.monitoring.sessions == {}
        server.start()  # the floor stops cleanly with its Redis
    finally:
        server.kill()


async def test_given_the_agent_on_another_call_than_allowed_then_refused_and_no_originate(
    make_floor: Any, phones_for: Any
) -> None:
    floor = await make_floor(accounts=1, agents=1)
    phones = await phones_for(floor)
    agent = await talking(floor, phones)
    attempt = (await state_of_snap(floor, agent)).attempt_id
    assert attempt is not None
    sofia = add_user(floor.engine, "sofia", "supervisor")
    originates = len(floor.ami_server.actions_named("Originate"))
    with pytest.raises(MonitorRefused, match="call_changed"):
        await phones.monitoring.start({"monitor_id": "f6" * 8, "supervisor_id": sofia,
                                       "agent_id": agent, "mode": "barge",
                                       "attempt_id": attempt + 1})  # fmt: skip
    for bad in ("1", True, 0, -3, 1.5):
        assert await phones.monitoring.start({"monitor_id": "a7" * 8, "supervisor_id": sofia,
                                              "agent_id": agent, "mode": "listen",
                                              "attempt_id": bad}) is None  # fmt: skip
    assert len(floor.ami_server.actions_named("Originate")) == originates
    assert [a[1]["reason"] for a in phones.audit] == ["call_changed"]


@pytest.mark.parametrize(
    ("who", "reason"),
    [("agent", "role_not_allowed"), ("auditor", "role_not_allowed"), ("nobody", "role_not_allowed"),
     ("idle", "agent_not_talking"), ("unknown", "unknown_agent")],
)  # fmt: skip
async def test_given_bad_monitor_request_when_reaching_dialer_then_refused_and_no_originate(
    make_floor: Any, phones_for: Any, who: str, reason: str
) -> None:
    floor = await make_floor(accounts=1, agents=2)
    phones = await phones_for(floor)
    agent = await talking(floor, phones)
    idle = floor.agent_ids[1]
    requester = {"agent": idle, "auditor": add_user(floor.engine, "raul", "auditor"),
                 "nobody": 424242}.get(who, add_user(floor.engine, "sofia", "supervisor"))  # fmt: skip
    target = {"idle": idle, "unknown": 515151}.get(who, agent)
    originates = len(floor.ami_server.actions_named("Originate"))
    with pytest.raises(MonitorRefused, match=reason):
        await phones.monitoring.start({"monitor_id": "b2" * 8, "supervisor_id": requester,
                                       "agent_id": target, "mode": "barge"})  # fmt: skip
    assert len(floor.ami_server.actions_named("Originate")) == originates
    assert [a[0] for a in phones.audit] == ["monitor_refused"]
    assert phones.audit[0][1]["reason"] == reason


async def test_given_malformed_or_replayed_monitor_command_then_ignored(
    make_floor: Any, phones_for: Any
) -> None:
    floor = await make_floor(accounts=1, agents=1)
    phones = await phones_for(floor)
    agent = await talking(floor, phones)
    sofia = add_user(floor.engine, "sofia", "supervisor")
    good = {"monitor_id": "c3" * 8, "supervisor_id": sofia, "agent_id": agent, "mode": "listen"}
    for bad in ({**good, "mode": "record"}, {**good, "monitor_id": "../etc"},
                {**good, "agent_id": "7,SPYGROUP=x"}):  # fmt: skip
        assert await phones.monitoring.start(bad) is None
    assert await phones.monitoring.start(good) is not None
    assert await phones.monitoring.start(good) is None  # the same request twice: once
    await until(lambda: floor.pbx.spied)
    assert len(floor.ami_server.actions_named("Originate")) == 3  # leg, debtor, one spy


async def test_given_ami_drops_mid_spy_when_link_returns_then_session_end_audited(
    make_floor: Any, phones_for: Any
) -> None:
    floor = await make_floor(accounts=1, agents=1)
    phones = await phones_for(floor)
    agent = await talking(floor, phones)
    sofia = add_user(floor.engine, "sofia", "supervisor")
    await phones.monitoring.start({"monitor_id": "d4" * 8, "supervisor_id": sofia,
                                   "agent_id": agent, "mode": "whisper"})  # fmt: skip
    await until(lambda: [a for a in phones.audit if a[0] == "monitor_start"])
    reconnects = floor.ami.reconnects
    floor.ami_server.drop_connections()
    # While the link is down her phone hangs up: no Hangup event reaches the dialer.
    spy = floor.pbx.find_channel("cobrador-spy-" + "d4" * 8)
    assert spy is not None
    floor.pbx.request_hangup(spy, 16)
    await until(lambda: floor.ami.reconnects > reconnects, "AMI back")
    await until(lambda: [a for a in phones.audit if a[0] == "monitor_session"])
    session = phones.audit[-1][1]
    assert session["how"] == "ended while AMI was away" and session["mode"] == "whisper"
    assert phones.monitoring.sessions == {}


async def test_given_phone_unregisters_with_leg_up_then_dialer_hangs_leg_up_and_agent_no_audio(
    make_floor: Any, phones_for: Any
) -> None:
    """A closed browser tab: Asterisk removes the contact but keeps the call."""
    from dialer.ami import Message

    floor = await make_floor(accounts=1, agents=1)
    agent = floor.agent_ids[0]
    phones = await phones_for(floor)
    await leg_up(phones, agent)
    other = Message(
        [("Event", "ContactStatus"), ("AOR", "agent-999"), ("ContactStatus", "Removed")]
    )
    await phones.legs.on_ami_event(other)  # somebody else's phone: nothing
    await phones.legs.on_ami_event(Message([("Event", "ContactStatus"), ("AOR", f"agent-{agent}"),
                                            ("ContactStatus", "Reachable")]))  # fmt: skip
    assert f"agent-{agent}" in floor.pbx.bridges
    await phones.legs.on_ami_event(Message([("Event", "ContactStatus"), ("AOR", f"agent-{agent}"),
                                            ("ContactStatus", "Removed")]))  # fmt: skip
    await until(lambda: in_state(floor, agent, AgentState.no_audio), "no_audio")
    assert f"agent-{agent}" not in floor.pbx.bridges


async def test_given_asterisk_restarts_when_phones_are_back_then_agents_as_before_and_dialing_resumes(
    make_floor: Any, phones_for: Any
) -> None:
    from pbxsim.ami_server import AMIServer
    from pbxsim.clock import ScaledClock
    from pbxsim.pbx import PBX

    floor = await make_floor(accounts=10, agents=2)
    ready, paused = floor.agent_ids
    phones = await phones_for(floor)
    for agent in floor.agent_ids:
        await leg_up(phones, agent)
        await until(lambda agent=agent: in_state(floor, agent, AgentState.ready))
    await floor.agents.pause(paused, "almuerzo")
    # Asterisk restarts: every AMI link cut, every channel gone, a new PBX on the port.
    port, scenario = floor.ami_server.port, floor.pbx.scenario
    await floor.ami_server.stop()
    await floor.pbx.stop()
    floor.pbx = PBX(scenario, clock=ScaledClock(20.0), agi_port=floor.agi.port)
    floor.ami_server = AMIServer(floor.pbx, "cobrador", "secret")
    await floor.ami_server.start("127.0.0.1", port)

    # The dialer calls the phones again by itself; each agent is back where they were.
    async def back(agent: int, state: AgentState, reason: str) -> bool:
        snap = await floor.agents.get(agent)
        leg = await phones.legs.get(agent)
        return (snap.state, snap.reason) == (state, reason) and leg is not None and \
            leg.status == UP and f"agent-{agent}" in floor.pbx.bridges  # fmt: skip

    await until(lambda: back(ready, AgentState.ready, ""), "the ready agent ready again")
    await until(lambda: back(paused, AgentState.paused, "almuerzo"), "the paused one paused")
    # And dialing resumes: a debtor reaches the ready agent on the new PBX.
    humans_only(floor)
    await floor.run_until(lambda: ready in bridged(floor))


async def test_given_stale_leg_of_agent_who_logged_out_while_no_dialer_ran_when_agent_logs_in_then_phone_called_again(
    make_floor: Any, phones_for: Any
) -> None:
    """A dialer stopped with an agent's leg up; the agent logged out while no dialer
    ran (the logout's event reached nobody) and the phone hung up (its Hangup reached
    nobody). The leg left in Redis names a channel Asterisk no longer has: trusted, it
    would make the agent ready with no phone and bridge debtors into an empty
    conference, recorded as talked to."""
    from dialer.agent_legs import leg_channel_id, leg_key

    floor = await make_floor(accounts=3, agents=1)
    agent = floor.agent_ids[0]
    await floor.agents.logout(agent)
    stale = leg_channel_id(agent, "0ld")
    await floor.redis.hset(leg_key(agent), mapping={
        "status": UP, "channel_id": stale, "endpoint": f"PJSIP/agent-{agent}", "owner": "d0",
        "since": repr(floor.clock() - 3600)})  # fmt: skip
    phones = await phones_for(floor)

    async def forgotten() -> bool:
        return await phones.legs.get(agent) is None

    await until(forgotten, "the stale leg of a logged-out agent forgotten at start")
    await floor.agents.login(agent, "mx-test")
    await floor.agents.set_ready(agent)
    await leg_up(phones, agent)
    leg = await phones.legs.get(agent)
    assert leg is not None and leg.channel_id != stale
    assert floor.pbx.calls_placed == 1  # the phone called, once
    humans_only(floor)
    await floor.run_until(lambda: agent in bridged(floor))
    members = [c.name.rsplit("-", 1)[0] for c in floor.pbx.bridges[f"agent-{agent}"].members]
    assert f"PJSIP/agent-{agent}" in members  # the debtor joins a bridge the agent is in


async def test_given_leg_of_logged_in_agent_when_dialer_starts_then_kept(
    make_floor: Any, phones_for: Any
) -> None:
    """Only legs of agents who are not logged in are forgotten at start: an agent
    logged in keeps theirs (and is called if it is gone, as before)."""
    floor = await make_floor(accounts=1, agents=2)
    first, second = floor.agent_ids
    phones = await phones_for(floor)
    for agent in (first, second):
        await leg_up(phones, agent)
    await floor.agents.logout(second)  # the dialer runs: its leg is hung up and forgotten
    await until(lambda: _no_leg(phones, second), "the logged-out agent's leg forgotten")
    channels = (await floor.ami.send_list_action({"Action": "CoreShowChannels"}))[1]
    before = await phones.legs.get(first)
    await phones.service.reconcile(channels)
    after = await phones.legs.get(first)
    assert before is not None and after is not None
    assert (after.status, after.channel_id) == (UP, before.channel_id)


async def _no_leg(phones: Phones, agent: int) -> bool:
    return await phones.legs.get(agent) is None


async def test_given_agent_logs_in_just_after_the_start_reconciliation_then_phone_called(
    make_floor: Any, phones_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Agent events are pub/sub: an agent who logs in and goes ready between the
    dialer's first reading of the legs and its subscription was heard by nobody,
    and stayed ready with no phone (the demo's bots, logging in as it starts, hit
    this). The subscription now comes first."""
    floor = await make_floor(accounts=1, agents=1)
    agent = floor.agent_ids[0]
    await floor.agents.logout(agent)
    real_reconcile = AgentLegs.reconcile
    logged_in: list[int] = []

    async def then_agent_logs_in(self: AgentLegs, channels: list[Any]) -> None:
        await real_reconcile(self, channels)
        if not logged_in:
            logged_in.append(agent)
            await floor.agents.login(agent, "mx-test")
            await floor.agents.set_ready(agent)

    monkeypatch.setattr(AgentLegs, "reconcile", then_agent_logs_in)
    phones = await phones_for(floor)
    await leg_up(phones, agent)
    assert logged_in == [agent] and floor.pbx.calls_placed == 1
    assert await state_of(floor, agent) == AgentState.ready


@pytest.mark.parametrize("order", ["hold_after_the_legs_restore", "legs_restore_after_the_hold"])
async def test_given_the_leg_comes_up_while_the_ready_agent_is_held_then_ready_in_either_order(
    make_floor: Any, phones_for: Any, monkeypatch: pytest.MonkeyPatch, order: str
) -> None:
    """An agent logs in (her phone is called) and goes ready while it rings: the ready
    event holds her in no_audio until the leg is up, and the leg's AMI event, handled
    beside the agent events, restores her. Each acted on what it had read before the
    other wrote: a hold after the leg's restore left her in no_audio with a live leg,
    never offered a call; a restore with the leg read before the hold paused her
    ("reconexión") instead of ready. Both orders are forced here."""
    floor = await make_floor(accounts=1, agents=1)
    agent = floor.agent_ids[0]
    await floor.agents.logout(agent)
    real_reconcile, real_hold, real_up = AgentLegs.reconcile, AgentLegs._hold, AgentLegs._up
    up_entered: list[int] = []
    done: list[str] = []

    async def then_agent_logs_in(self: AgentLegs, channels: list[Any]) -> None:
        await real_reconcile(self, channels)
        if not await floor.agents.list("mx-test"):
            await floor.agents.login(agent, "mx-test")
            await floor.agents.set_ready(agent)

    async def hold(self: AgentLegs, agent_id: int, state: AgentState, reason: str) -> None:
        if order == "hold_after_the_legs_restore":
            await until(lambda: "up" in done, "the leg's up handled")
        else:  # the leg read by its AMI event before the hold is written
            await until(lambda: up_entered, "the leg's up begun")
        await real_hold(self, agent_id, state, reason)
        done.append("hold")

    async def up(self: AgentLegs, leg: Any) -> None:
        up_entered.append(leg.agent_id)
        if order == "legs_restore_after_the_hold":
            await until(lambda: "hold" in done, "the agent held")
        await real_up(self, leg)
        done.append("up")

    monkeypatch.setattr(AgentLegs, "reconcile", then_agent_logs_in)
    monkeypatch.setattr(AgentLegs, "_hold", hold)
    monkeypatch.setattr(AgentLegs, "_up", up)
    phones = await phones_for(floor)
    await until(lambda: sorted(done) == ["hold", "up"], "the hold and the leg's up handled")
    await leg_up(phones, agent)
    assert await state_of(floor, agent) == AgentState.ready
    assert floor.pbx.calls_placed == 1
    leg = await phones.legs.get(agent)
    assert leg is not None and (leg.restore_state, leg.restore_reason) == ("", "")


async def test_given_redis_lost_the_leg_while_asterisk_kept_it_when_agent_logs_in_again_then_leg_taken_back(
    make_floor: Any, phones_for: Any
) -> None:
    """A Redis flush (or an empty failover) loses the agent's state and leg while
    Asterisk keeps the call to the phone. The agent page logs the agent in again;
    calling the phone again would be refused (the browser phone, still in its call,
    answers 486: one leg per agent) and leave the agent without audio. The live leg
    is taken back: nothing new is dialed to the phone and debtors reach the agent."""
    from dialer.agent_legs import _lock_key, leg_key
    from dialer.agent_state import agent_key, campaign_key

    floor = await make_floor(accounts=3, agents=1)
    agent = floor.agent_ids[0]
    phones = await phones_for(floor)
    await leg_up(phones, agent)
    before = await phones.legs.get(agent)
    assert before is not None and floor.pbx.calls_placed == 1
    # What a flush leaves: no state, no leg, no event (nothing is announced).
    await floor.redis.delete(leg_key(agent), _lock_key(agent), agent_key(agent),
                             campaign_key("mx-test"))  # fmt: skip
    await floor.agents.login(agent, "mx-test")  # the agent page, as it loads
    await floor.agents.set_ready(agent)
    await leg_up(phones, agent)
    after = await phones.legs.get(agent)
    assert after is not None and after.channel_id == before.channel_id
    assert floor.pbx.calls_placed == 1  # the phone was not called a second time
    assert await state_of(floor, agent) == AgentState.ready
    humans_only(floor)
    await floor.run_until(lambda: agent in bridged(floor))
    members = [c.name.rsplit("-", 1)[0] for c in floor.pbx.bridges[f"agent-{agent}"].members]
    assert members.count(f"PJSIP/agent-{agent}") == 1


async def test_given_leg_left_dialing_by_a_stopped_dialer_when_agent_reconnects_after_its_grace_then_phone_called_again(
    make_floor: Any, phones_for: Any
) -> None:
    """A dialer stopped while the agent's phone rang (the demo stopped with Ctrl-C just
    after its start): the leg stays `dialing` in Redis and no event of it ever comes.
    The next dialer starts within the grace and keeps it; the agent, in no_audio,
    asks to reconnect: inside the grace the phone may still ring (nothing dialed),
    past it the phone is called again and the agent is back. Before, a reconnect
    never called a `dialing` leg and the agent stayed in no_audio for good."""
    from dialer.agent_legs import DIALING, DIALING_GRACE_SECONDS, leg_channel_id, leg_key

    floor = await make_floor(accounts=1, agents=1)
    agent = floor.agent_ids[0]
    await floor.agents.no_audio(agent)
    await floor.redis.hset(leg_key(agent), mapping={
        "status": DIALING, "channel_id": leg_channel_id(agent, "0ld"),
        "endpoint": f"PJSIP/agent-{agent}", "owner": "d0", "since": repr(floor.clock()),
        "restore_state": "ready", "restore_reason": ""})  # fmt: skip
    phones = await phones_for(floor)
    assert await phones.legs.reconnect(agent)
    assert floor.pbx.calls_placed == 0
    floor.clock.jump(DIALING_GRACE_SECONDS + 1)
    assert await phones.legs.reconnect(agent)
    await until(lambda: in_state(floor, agent, AgentState.ready), "back ready")
    assert floor.pbx.calls_placed == 1


PBX = "pbx-1"
TTL = 1.0  # the heartbeat TTL of the liveness tests below; their own clock moves past it


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def judging_liveness(floor: Any, *, trusted: bool = True) -> Any:
    """d1's heartbeat on mx-test, through PBX, on an injected clock: trusted (its
    beats held a TTL) unless told not to, in a Redis up for more than a TTL."""
    from dialer.liveness import Liveness

    async def redis_up_a_ttl() -> bool:
        return float((await floor.redis.info("server"))["uptime_in_seconds"]) >= TTL

    await until(redis_up_a_ttl, "Redis up for a TTL")
    clock = Monotonic()
    liveness = Liveness(floor.redis, "mx-test", "d1", PBX, TTL, monotonic=clock)
    await liveness.beat()
    if trusted:
        clock.now += TTL
    return liveness


async def left_dialing(floor: Any, agent: int, owner: str, pbx: str = PBX) -> None:
    """The agent's leg, dialing since now, placed by `owner` through `pbx`; no channel
    of it in Asterisk (the owner stopped before its originate reached a phone)."""
    from dialer.agent_legs import DIALING, leg_channel_id, leg_key

    await floor.redis.hset(leg_key(agent), mapping={
        "status": DIALING, "channel_id": leg_channel_id(agent, "0ld"),
        "endpoint": f"PJSIP/agent-{agent}", "owner": owner, "pbx": pbx,
        "since": repr(floor.clock()), "restore_state": "ready", "restore_reason": ""})  # fmt: skip


async def test_given_leg_left_dialing_by_a_dead_dialer_when_phones_start_then_phone_called_at_once(
    make_floor: Any, phones_for: Any
) -> None:
    """The dialer that placed the leg is dead (its heartbeat gone) and Asterisk has no
    channel of it: no event will ever come. The leg is called again at once, well
    inside DIALING_GRACE_SECONDS (the floor's clock does not move). Before, it was
    kept for the whole grace and the agent sat in no_audio."""
    from dialer.liveness import alive_key

    floor = await make_floor(accounts=1, agents=1)
    agent = floor.agent_ids[0]
    await floor.agents.no_audio(agent)
    await left_dialing(floor, agent, "d0")
    liveness = await judging_liveness(floor)
    assert not await floor.redis.exists(alive_key("mx-test", "d0"))
    phones = await phones_for(
        floor, pbx=PBX, silent_owners=lambda _c, owners: liveness.silent(owners)
    )
    await until(lambda: in_state(floor, agent, AgentState.ready), "back ready")
    assert floor.pbx.calls_placed == 1
    leg = await phones.legs.get(agent)
    assert leg is not None and leg.owner == "d1" and leg.status == UP


async def test_given_dead_dialers_leg_when_verdict_comes_after_start_then_sweep_calls_it(
    make_floor: Any, phones_for: Any
) -> None:
    """At start this dialer's own beats are too young for a verdict: the leg is kept.
    Once they have held a TTL, the periodic sweep calls the phone again."""
    floor = await make_floor(accounts=1, agents=1)
    agent = floor.agent_ids[0]
    await floor.agents.no_audio(agent)
    await left_dialing(floor, agent, "d0")
    liveness = await judging_liveness(floor, trusted=False)
    phones = await phones_for(
        floor, pbx=PBX, silent_owners=lambda _c, owners: liveness.silent(owners)
    )
    await phones.legs.reconcile([])
    await phones.legs.sweep()
    assert floor.pbx.calls_placed == 0
    liveness.monotonic.now += TTL
    await phones.legs.sweep()
    await until(lambda: in_state(floor, agent, AgentState.ready), "back ready")
    assert floor.pbx.calls_placed == 1


async def test_given_dead_dialers_leg_when_agent_reconnects_inside_the_grace_then_phone_called_at_once(
    make_floor: Any, phones_for: Any
) -> None:
    """The console's reconnect uses the same verdict: while it cannot be told (this
    dialer's beats too young) the leg may still ring and nothing is dialed; once the
    owner is known dead and Asterisk has no channel of it, the reconnect calls the
    phone at once, the floor's clock still well inside DIALING_GRACE_SECONDS. Before,
    the agent's button did nothing for the whole 60 s."""
    floor = await make_floor(accounts=1, agents=1)
    agent = floor.agent_ids[0]
    await floor.agents.no_audio(agent)
    await left_dialing(floor, agent, "d0")
    liveness = await judging_liveness(floor, trusted=False)
    phones = await phones_for(
        floor, pbx=PBX, silent_owners=lambda _c, owners: liveness.silent(owners)
    )
    assert await phones.legs.reconnect(agent)
    assert floor.pbx.calls_placed == 0
    liveness.monotonic.now += TTL
    assert await phones.legs.reconnect(agent)
    leg = await phones.legs.get(agent)  # written by the reconnect itself, not the sweep's
    assert leg is not None and leg.owner == "d1"
    await until(lambda: in_state(floor, agent, AgentState.ready), "back ready")
    assert floor.pbx.calls_placed == 1


async def test_given_dead_dialers_leg_when_reconnects_and_the_sweep_judge_it_at_once_then_phone_called_once(
    make_floor: Any, phones_for: Any
) -> None:
    """The agent presses reconnect twice (or the sweep runs meanwhile): each sees the
    dead dialer's leg; only the first calls the phone. Before, a later one dropped the
    leg the first had just placed and rang the phone a second time."""
    floor = await make_floor(accounts=1, agents=1)
    agent = floor.agent_ids[0]
    await floor.agents.no_audio(agent)
    await left_dialing(floor, agent, "d0")
    liveness = await judging_liveness(floor, trusted=False)
    judging: list[int] = []  # once the test starts, every verdict after the first...
    legs: Any = None

    async def new_leg_placed() -> bool:
        leg = await legs.get(agent)
        return leg is not None and leg.owner == "d1"

    async def silent_late(_campaign: str, owners: set[str]) -> set[str]:
        verdict = await liveness.silent(owners)
        if judging:
            judging.append(1)
            if len(judging) > 2:  # ...comes once the first has called the phone again
                await until(new_leg_placed, "the first reconnect's new leg")
        return verdict

    phones = await phones_for(floor, pbx=PBX, silent_owners=silent_late)
    legs = phones.legs
    liveness.monotonic.now += TTL
    judging.append(0)
    await asyncio.gather(legs.reconnect(agent), legs.reconnect(agent))
    await until(lambda: in_state(floor, agent, AgentState.ready), "back ready")
    leg = await legs.get(agent)
    assert leg is not None and leg.owner == "d1" and leg.status == UP
    assert floor.pbx.calls_placed == 1


async def test_given_dead_dialers_leg_still_ringing_in_asterisk_when_agent_reconnects_then_not_dialed_twice(
    make_floor: Any, phones_for: Any
) -> None:
    """Asterisk still has the dead dialer's channel (the phone rings): the reconnect
    keeps it rather than ring the phone a second time."""
    from dialer.agent_legs import DIALING

    floor = await make_floor(accounts=1, agents=1)
    agent = floor.agent_ids[0]
    await floor.agents.no_audio(agent)
    await left_dialing(floor, agent, "d0")
    liveness = await judging_liveness(floor)
    # Started with no verdict, so the start's reconcile keeps the leg for this test.
    phones = await phones_for(floor, pbx=PBX, silent_owners=lambda _c, _o: _none())
    ringing = (await phones.legs.get(agent)).channel_id  # type: ignore[union-attr]

    async def channels(action: Any) -> Any:  # Asterisk's answer: the old leg still rings
        return {}, [{"Uniqueid": ringing}]

    phones.legs.silent_owners = lambda _c, owners: liveness.silent(owners)
    phones.legs.ami = type("Ami", (), {"send_list_action": staticmethod(channels)})()
    try:
        assert await phones.legs.reconnect(agent)
    finally:  # the floor's teardown reconciles the legs through the real AMI
        phones.legs.ami = floor.ami
        phones.legs.silent_owners = lambda _c, _o: _none()
    leg = await phones.legs.get(agent)
    assert leg is not None and (leg.owner, leg.status, leg.channel_id) == ("d0", DIALING, ringing)
    assert floor.pbx.calls_placed == 0


async def _none() -> set[str]:
    return set()


@pytest.mark.parametrize("case", ["owner alive", "another asterisk", "no pbx recorded"])
async def test_given_leg_dialing_when_its_dialer_is_not_known_dead_then_kept_for_the_grace(
    make_floor: Any, phones_for: Any, case: str
) -> None:
    """Fail closed: a live owner's phone may still ring; a leg placed through another
    Asterisk (or by a dialer that did not say which) has channels out of sight."""
    from dialer.liveness import Liveness

    floor = await make_floor(accounts=1, agents=1)
    agent = floor.agent_ids[0]
    await floor.agents.no_audio(agent)
    await left_dialing(
        floor, agent, "d0", {"another asterisk": "pbx-2", "no pbx recorded": ""}.get(case, PBX)
    )
    if case == "owner alive":
        await Liveness(floor.redis, "mx-test", "d0", PBX, 60.0).beat()
    liveness = await judging_liveness(floor)
    phones = await phones_for(
        floor, pbx=PBX, silent_owners=lambda _c, owners: liveness.silent(owners)
    )
    await phones.legs.reconcile([])
    await phones.legs.sweep()
    assert floor.pbx.calls_placed == 0
    assert await state_of(floor, agent) is AgentState.no_audio
