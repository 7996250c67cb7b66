"""Agent legs placed by the dialer and supervisor monitoring on the real
Asterisk 22, with the real dial loop, Redis and SQL.

The agent's phone is a Local channel (`Local/<id>@sim-agents`, as in
test_agent_phone.py); closing the agent's tab is its phone side (`;2`)
hanging up. The supervisor's phone is a SIP phone (sipp answering as
`PJSIP/agent-9001`), so Asterisk really sends her RTP: `pjsip show
channelstats` counts the packets. The browser versions (getStats on the
pages) come with the WebRTC phone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from asterisk_harness import CallWatcher, ChrootAsterisk, sipp_uas, wait_until
from dial_floor import SHIFT_START, ShiftClock, attempts, load_registry, seed_campaign
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from compliance.service import ComplianceService
from dialer import channel_vars as cv
from dialer.agent_legs import UP, AgentLegs
from dialer.agent_state import AgentState, AgentStates
from dialer.ami import AMIClient
from dialer.call_state import CallState
from dialer.campaign_dialer import CampaignDialer, DialerOptions
from dialer.fastagi import FastAGIServer
from dialer.messages import COMMANDS_CHANNEL
from dialer.monitoring import Monitoring, MonitorRefused, sql_audit
from dialer.phone_service import PhoneService
from dialer.user_phones import PhoneUser, load_user
from store.db import transaction
from store.models import AuditEntry, Campaign, User

SUPERVISOR_PHONE = "PJSIP/agent-9001"  # tests/integration/asterisk/conf
SUPERVISOR_PHONE_PORT = 5071
# sim-customers: a person answers after 1 s and talks (SIM_TALK_SECONDS, 30 s).
PEOPLE = ["+525520000101", "+525520001101", "+525520002101"]


@dataclass
class Floor:
    ami: AMIClient
    engine: Engine
    redis: aioredis.Redis
    dialer: CampaignDialer
    agents: AgentStates
    legs: AgentLegs
    monitoring: Monitoring
    phones: PhoneService
    agent_id: int
    campaign_id: int
    tasks: list[asyncio.Task[None]]

    async def state(self) -> AgentState:
        return (await self.agents.get(self.agent_id)).state

    async def until_state(self, state: AgentState) -> None:
        for _ in range(400):
            if await self.state() == state:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"agent never {state.value}; is {(await self.state()).value}")

    async def leg(self) -> str:
        """The agent's live leg (its channel id), once the phone answered."""
        for _ in range(400):
            leg = await self.legs.get(self.agent_id)
            if leg is not None and leg.status == UP:
                return leg.channel_id
            await asyncio.sleep(0.05)
        raise AssertionError("the agent's leg never came up")

    def bridged(self) -> list[int]:
        return [c.agent_id for c in self.dialer.calls.values() if c.state is CallState.bridged]

    async def run_until(self, done: Callable[[], bool], what: str) -> None:
        for _ in range(600):
            if done():
                return
            await self.dialer.tick()
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}: {self.dialer.calls}")


@pytest.fixture
async def floor(
    asterisk: ChrootAsterisk, ami: AMIClient, engine: Engine, redis_url: str, tmp_path: Path
) -> AsyncIterator[Floor]:
    clock = ShiftClock(SHIFT_START)
    campaign_id, (agent_id,) = seed_campaign(engine, PEOPLE, 1, name="mx-legs")
    load_registry(engine, redis_url, tmp_path, datetime.fromtimestamp(clock(), UTC))
    client = aioredis.Redis.from_url(redis_url)
    with Session(engine, expire_on_commit=False) as s:
        campaign = s.get(Campaign, campaign_id)
        assert campaign is not None
    agi = FastAGIServer(routes={}, request_timeout=10.0)
    await agi.start("127.0.0.1", 0)
    dialer = CampaignDialer(
        sql=engine, redis=client, ami=ami, compliance=ComplianceService(engine, client),
        campaign=campaign, clock=clock,
        options=DialerOptions(owner="it-legs", refill_every_seconds=0.5, ring_timeout_seconds=5.0,
                              agi_port=agi.port),
    )  # fmt: skip
    agi.routes[cv.SCRIPT_ANSWER] = dialer.agi_answer
    states = AgentStates(client, clock=clock)

    async def user_of(user_id: int) -> PhoneUser | None:
        return await asyncio.to_thread(load_user, engine, user_id)

    async def phone_of(user_id: int) -> str | None:
        return f"Local/{user_id}@sim-agents"  # the agent's "phone" answers at once

    legs = AgentLegs(redis=client, ami=ami, states=states, phone_of=phone_of,
                     campaigns={"mx-legs"}, owner="it-legs", clock=clock)  # fmt: skip
    monitoring = Monitoring(redis=client, ami=ami, states=states, user_of=user_of,
                            phone_for=lambda _user: SUPERVISOR_PHONE, audit=sql_audit(engine),
                            campaigns={"mx-legs"}, owner="it-legs", clock=clock)  # fmt: skip
    phones = PhoneService(redis=client, ami=ami, legs=legs, monitoring=monitoring)
    dialer.agent_check = legs.usable
    await dialer.start()
    tasks = [asyncio.create_task(phones.run())]
    floor = Floor(ami, engine, client, dialer, states, legs, monitoring, phones, agent_id,
                  campaign_id, tasks)  # fmt: skip
    try:
        yield floor
    finally:
        phones.request_stop()
        await asyncio.wait(tasks, timeout=10)
        await dialer.stop()
        leg = await legs.get(agent_id)
        if leg is not None and ami.connected:
            with contextlib.suppress(Exception):
                await ami.send_action({"Action": "Hangup", "Channel": leg.channel_id})
        await agi.stop()
        await client.aclose()


async def test_given_agent_tab_closed_mid_shift_then_not_reserved_next_tick_and_reconnect_brings_back(
    floor: Floor, watcher: CallWatcher
) -> None:
    await floor.agents.login(floor.agent_id, "mx-legs")
    leg = await floor.leg()  # the dialer called the agent's phone at login
    assert watcher.has(leg, "ConfbridgeJoin", Conference=f"agent-{floor.agent_id}")
    await floor.agents.set_ready(floor.agent_id)
    # The tab closes: the phone's side of the leg hangs up.
    await floor.ami.send_action({"Action": "Hangup", "Channel": f"{leg};2"})
    await floor.until_state(AgentState.no_audio)
    assert await floor.dialer.tick() == 0  # the next tick: no ready agent, nothing dialed
    assert (await floor.dialer.snapshot(floor.dialer.clock())).count("ready") == 0
    assert attempts(floor.engine, floor.campaign_id) == []
    assert not await floor.agents.reserve(floor.agent_id, 1)
    # Reconnect (the console's button): the phone is called again, the agent is ready.
    await floor.redis.publish(COMMANDS_CHANNEL, json.dumps({"type": "agent_leg_reconnect",
                                                            "agent_id": floor.agent_id}))  # fmt: skip
    await floor.until_state(AgentState.ready)
    again = await floor.leg()
    assert again != leg
    await floor.run_until(lambda: floor.bridged() == [floor.agent_id], "a debtor bridged")
    (debtor,) = [f"cobrador-{a}" for a in floor.dialer.calls]
    await wait_until(lambda: watcher.has(debtor, "ConfbridgeJoin", Conference=f"agent-{floor.agent_id}"),
                     what="the debtor in the agent's bridge")  # fmt: skip


async def test_given_leg_drops_while_debtor_answers_then_safe_harbor_not_dead_bridge(
    floor: Floor, watcher: CallWatcher
) -> None:
    await floor.agents.login(floor.agent_id, "mx-legs")
    leg = await floor.leg()
    await floor.agents.set_ready(floor.agent_id)
    real_reserve = floor.dialer.agents.reserve

    async def reserve_then_drop(
        agent_id: int, attempt_id: int, *, pausing_too: bool = False
    ) -> bool:
        # The dial loop passes pausing_too: without it every reservation raised, nobody
        # was reserved, and the test passed on the abandon alone (until the extra calls
        # of a loaded run showed it).
        reserved = await real_reserve(agent_id, attempt_id, pausing_too=pausing_too)
        if reserved:  # the network goes right after the dialer picked this agent
            floor.dialer.agents.reserve = real_reserve
            await floor.ami.send_action({"Action": "Hangup", "Channel": f"{leg};2"})
            await floor.until_state(AgentState.no_audio)
        return reserved

    floor.dialer.agents.reserve = reserve_then_drop  # type: ignore[method-assign]
    await floor.run_until(lambda: bool(floor.dialer.calls), "a call placed")
    (attempt_id,) = list(floor.dialer.calls)
    debtor = f"cobrador-{attempt_id}"
    await wait_until(lambda: "safe_harbor" in watcher.states(debtor), within=30,
                     what="the safe-harbor message")  # fmt: skip
    assert "bridged" not in watcher.states(debtor)
    # Ended for the test once the Finisher owes nothing: the call leaves `calls` before
    # its result is in SQL (CI read the row between the two).
    await floor.run_until(lambda: not floor.dialer.calls and not floor.dialer.finisher.owed,
                          "the abandoned call to end")  # fmt: skip
    (row,) = attempts(floor.engine, floor.campaign_id)
    assert (row.result, row.agent_id, row.bridged_at) == ("abandoned", None, None)


async def sent_packets(ami: AMIClient, channel: str) -> int:
    """RTP packets Asterisk has sent on a PJSIP channel (chan_pjsip's CHANNEL(rtcp,txcount))."""
    reply = await ami.send_action(
        {"Action": "Getvar", "Channel": channel, "Variable": "CHANNEL(rtcp,txcount)"}
    )
    value = reply.get("Value") or ""
    return int(value) if value.isdigit() else 0


@pytest.mark.parametrize(("mode", "options"), [("listen", "qbSE"), ("whisper", "qbSEw"),
                                               ("barge", "qbSEB")])  # fmt: skip
async def test_given_supervisor_listens_to_bridged_call_then_her_phone_gets_audio_call_unaffected_audited(
    floor: Floor, watcher: CallWatcher, asterisk: ChrootAsterisk, mode: str, options: str
) -> None:
    with transaction(floor.engine) as s:
        sofia = User(username="sofia", role="supervisor", password_hash="-")
        ana = User(username="ana-agent", role="agent", password_hash="-")
        s.add_all([sofia, ana])
        s.flush()
        sofia_id, ana_id = sofia.id, ana.id
    await floor.agents.login(floor.agent_id, "mx-legs")
    await floor.leg()
    await floor.agents.set_ready(floor.agent_id)
    await floor.run_until(lambda: floor.bridged() == [floor.agent_id], "a debtor bridged")
    (attempt_id,) = list(floor.dialer.calls)
    debtor = f"cobrador-{attempt_id}"
    await wait_until(lambda: watcher.has(debtor, "ConfbridgeJoin"), what="debtor in the bridge")
    # An agent (even a forged command on the dialer's channel) is refused: no ChanSpy.
    with pytest.raises(MonitorRefused, match="role_not_allowed"):
        await floor.monitoring.start({"monitor_id": "e5" * 8, "supervisor_id": ana_id,
                                      "agent_id": floor.agent_id, "mode": "listen"})  # fmt: skip
    assert not [e for e in watcher.all_events if e.get("Context") == "cobrador-spy"]
    async with sipp_uas("carrier_answer.xml", SUPERVISOR_PHONE_PORT):
        session = await floor.monitoring.start({"monitor_id": "f6" * 8, "supervisor_id": sofia_id,
                                                "agent_id": floor.agent_id, "mode": mode})  # fmt: skip
        assert session is not None
        spy = session.channel_id
        await wait_until(lambda: any(e.get("Uniqueid") == spy and e.name == "Newexten"
                                     and e.get("Application") == "ChanSpy" for e in watcher.all_events),
                         what="ChanSpy running")  # fmt: skip
        (chanspy,) = [e for e in watcher.all_events if e.get("Uniqueid") == spy
                      and e.get("Application") == "ChanSpy"]  # fmt: skip
        assert chanspy.get("AppData") == f",{options}g(agent{floor.agent_id})"
        sent = 0
        for _ in range(100):
            sent = await sent_packets(floor.ami, spy)
            if sent > 20:
                break
            await asyncio.sleep(0.1)
        assert sent > 20, "her phone got no audio"
        # The agent's call is unaffected: still bridged, nobody else in the bridge.
        _, members = await floor.ami.send_list_action(
            {"Action": "ConfbridgeList", "Conference": f"agent-{floor.agent_id}"}
        )
        assert len(members) == 2 and debtor in {m.get("Uniqueid") for m in members}
        assert await floor.state() == AgentState.talking
        await floor.ami.send_action({"Action": "Hangup", "Channel": spy})  # she hangs up
        await wait_until(lambda: not floor.monitoring.sessions, what="the session to end")
    assert floor.bridged() == [floor.agent_id] and not watcher.ended(debtor)
    with Session(floor.engine) as s:
        entries = {e.kind: e for e in s.scalars(select(AuditEntry).where(
            AuditEntry.kind.in_(["monitor_start", "monitor_session", "monitor_refused"])))}  # fmt: skip
    assert set(entries) == {"monitor_start", "monitor_session", "monitor_refused"}
    done: dict[str, Any] = json.loads(entries["monitor_session"].payload)
    assert (done["supervisor_id"], done["agent_id"], done["mode"]) == (
        sofia_id,
        floor.agent_id,
        mode,
    )
    assert done["started_at"] and done["ended_at"] >= done["started_at"]
    assert entries["monitor_session"].actor == "user:sofia"


async def test_given_redis_lost_the_leg_while_asterisk_kept_it_when_agent_logs_in_again_then_leg_taken_back(
    floor: Floor, watcher: CallWatcher
) -> None:
    """A Redis flush loses the agent's state and leg; Asterisk keeps the call to the
    agent's phone. The agent page logs the agent in again: the dialer takes the leg
    Asterisk still has instead of calling the phone a second time (a browser phone
    in its call answers 486), and debtors reach the agent through it."""
    from dialer.agent_legs import _lock_key, leg_key
    from dialer.agent_state import agent_key, campaign_key

    await floor.agents.login(floor.agent_id, "mx-legs")
    leg = await floor.leg()
    await floor.agents.set_ready(floor.agent_id)
    await floor.redis.delete(leg_key(floor.agent_id), _lock_key(floor.agent_id),
                             agent_key(floor.agent_id), campaign_key("mx-legs"))  # fmt: skip
    await floor.agents.login(floor.agent_id, "mx-legs")  # the agent page, as it loads
    await floor.agents.set_ready(floor.agent_id)
    await floor.until_state(AgentState.ready)
    assert await floor.leg() == leg
    prefix = f"cobrador-leg-{floor.agent_id}-"
    legs_placed = {e.get("Uniqueid") for e in watcher.all_events
                   if e.get("Event") == "Newchannel"
                   and (e.get("Uniqueid") or "").startswith(prefix)
                   and ";" not in (e.get("Uniqueid") or "")}  # fmt: skip
    assert legs_placed <= {leg}  # the phone was not called a second time
    await floor.run_until(lambda: floor.bridged() == [floor.agent_id], "a debtor bridged")
    (debtor,) = [f"cobrador-{a}" for a in floor.dialer.calls]
    await wait_until(lambda: watcher.has(debtor, "ConfbridgeJoin", Conference=f"agent-{floor.agent_id}"),
                     what="the debtor in the agent's bridge")  # fmt: skip


@contextlib.asynccontextmanager
async def redis_unreachable(client: aioredis.Redis) -> AsyncIterator[None]:
    """This process loses Redis: every connection of `client` (the dial loop's, the
    phone service's pub/sub) is closed and new ones go to a port nobody listens on."""
    kwargs = client.connection_pool.connection_kwargs
    was = kwargs.get("port")
    kwargs["port"] = 1  # tcpmux: refused
    await client.connection_pool.disconnect()
    try:
        yield
    finally:
        kwargs["port"] = was
        await client.connection_pool.disconnect()


async def test_given_redis_down_when_the_debtor_hangs_up_then_the_supervisors_spy_leg_is_hung_up(
    floor: Floor, watcher: CallWatcher
) -> None:
    """With Redis down no agent event and no agent state says the call is over, and
    ChanSpy (qbSE) follows the agent's leg into the agent's next call: another debtor.
    The debtor's channel leaving the agent's bridge, on AMI, ends her session."""
    with transaction(floor.engine) as s:
        sofia = User(username="sofia", role="supervisor", password_hash="-")
        s.add(sofia)
        s.flush()
        sofia_id = sofia.id
    await floor.agents.login(floor.agent_id, "mx-legs")
    await floor.leg()
    await floor.agents.set_ready(floor.agent_id)
    await floor.run_until(lambda: floor.bridged() == [floor.agent_id], "a debtor bridged")
    (attempt_id,) = list(floor.dialer.calls)
    debtor = f"cobrador-{attempt_id}"
    await wait_until(lambda: watcher.has(debtor, "ConfbridgeJoin"), what="debtor in the bridge")
    async with sipp_uas("carrier_answer.xml", SUPERVISOR_PHONE_PORT):
        session = await floor.monitoring.start({"monitor_id": "a8" * 8, "supervisor_id": sofia_id,
                                                "agent_id": floor.agent_id, "mode": "listen",
                                                "attempt_id": attempt_id})  # fmt: skip
        assert session is not None
        spy = session.channel_id
        await wait_until(lambda: any(e.get("Uniqueid") == spy and e.get("Application") == "ChanSpy"
                                     for e in watcher.all_events), what="ChanSpy running")  # fmt: skip
        async with redis_unreachable(floor.redis):
            await floor.ami.send_action({"Action": "Hangup", "Channel": debtor, "Cause": 16})
            await wait_until(lambda: watcher.ended(debtor), what="the debtor's channel gone")
            await wait_until(lambda: not floor.monitoring.sessions, within=30,
                             what="her session ended with Redis down")  # fmt: skip
            assert watcher.has(spy, "Hangup")
    with Session(floor.engine) as s:
        (entry,) = s.scalars(select(AuditEntry).where(AuditEntry.kind == "monitor_session"))
    done: dict[str, Any] = json.loads(entry.payload)
    assert done["how"] == "the agent's call ended" and done["attempt_id"] == attempt_id
