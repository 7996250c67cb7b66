"""Inbound calls on the real Asterisk 22: sipp plays the carrier and places calls to
the campaign's DID; asterisk-conf's cobrador-inbound hands them to our FastAGI
`inbound` route, which bridges each caller into a ready agent's ConfBridge."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import uuid
import wave
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from asterisk_harness import SIPP_SCENARIOS, ChrootAsterisk, unavailable, wait_until
from dial_floor import DialFloor
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer import channel_vars as cv
from dialer.ami import AMIClient, Message
from dialer.inbound.calls import InboundCalls
from dialer.inbound.queue import InboundQueue
from dialer.messages import POPS_CHANNEL, from_dict
from dialer.recording import Recorder, SqlLedger
from store.models import Account, CallAttempt, Phone, Recording
from store.recordings.finalize import finalize_recording
from store.recordings.storage import DirectoryStorage

DID = "5215550001000"  # the campaign's registered caller ID (dial_floor.seed_campaign)
ONE = "+525520000101"  # one account has it
SHARED = "+525520000102"  # two accounts have it
TRACES = Path(
    os.environ.get("COBRADOR_SIPP_TRACES", "/tmp")
)  # sipp's SIP messages, if a test fails
SIPP_PORTS = itertools.count(5072, 2)  # SIP port; media on a port of its own per caller


@contextlib.asynccontextmanager
async def sipp_caller(scenario: str, caller: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """sipp as the carrier: one INVITE to the DID from `caller` (digits or 'anonymous')."""
    sipp = shutil.which("sipp")
    if sipp is None:
        unavailable("sipp not installed (Debian package sip-tester)")
    port = next(SIPP_PORTS)
    process = await asyncio.create_subprocess_exec(
        sipp, "127.0.0.1:5060", "-sf", str(SIPP_SCENARIOS / scenario), "-s", DID,
        "-key", "caller", caller.lstrip("+"), "-i", "127.0.0.1", "-p", str(port),
        "-mp", str(20000 + port * 4), "-m", "1", "-nostdin", "-timeout", "120s",
        "-trace_msg", "-message_file", str(TRACES / f"sipp-{port}.log"),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.returncode is None:
            # sipp ends a call in progress gracefully on SIGTERM (and may wait for it).
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 3)
            except TimeoutError:
                process.kill()
        await process.wait()


class Watch:
    """Pops published for agents and the ConfBridge joins Asterisk reports."""

    def __init__(self, floor: DialFloor) -> None:
        self.floor = floor
        self.pops: list[dict[str, Any]] = []
        self.joins: list[Message] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._events: Any = None

    async def start(self) -> None:
        pubsub = self.floor.redis.pubsub()
        await pubsub.subscribe(POPS_CHANNEL)
        events = self._events = self.floor.ami.events()

        async def read_pops() -> None:
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
                if message and message.get("type") == "message":
                    self.pops.append(json.loads(message["data"]))

        async def read_joins() -> None:
            async for event in events:
                if event.name in ("ConfbridgeJoin", "MixMonitorStart", "MixMonitorStop"):
                    self.joins.append(event)

        self._tasks = [asyncio.create_task(read_pops()), asyncio.create_task(read_joins())]

    async def stop(self) -> None:
        # An AMI subscription nobody reads would fill and hold the client's reader.
        if self._events is not None:
            self._events.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def seen(self, uniqueid: str, name: str) -> list[Message]:
        return [e for e in self.joins if e.get("Uniqueid") == uniqueid and e.name == name]

    def joined(self, uniqueid: str, agent_id: int) -> bool:
        return any(e.get("Uniqueid") == uniqueid and e.get("Conference") == f"agent-{agent_id}"
                   for e in self.joins)  # fmt: skip


def inbound_rows(engine: Engine) -> list[CallAttempt]:
    with Session(engine) as s:
        query = select(CallAttempt).where(CallAttempt.direction == "inbound")
        return list(s.scalars(query.order_by(CallAttempt.id)))


@pytest.fixture
async def floor(ami: AMIClient, engine: Engine, redis_url: str,
                tmp_path: Path) -> AsyncIterator[DialFloor]:  # fmt: skip
    floor = await DialFloor.open(ami, engine, redis_url, tmp_path, [ONE, SHARED], agents=3,
                                 name="mx-inbound")  # fmt: skip
    with Session(engine) as s, s.begin():
        other = Account(external_ref="mx-inbound-shared", debtor_name="Otra Deudora",
                        country="MX", region="MX-CMX", currency="MXN",
                        campaign_id=floor.campaign_id)  # fmt: skip
        other.phones.append(Phone(position=1, number_e164=SHARED, consent=True))
        s.add(other)
    inbound = InboundCalls(sql=engine, redis=floor.redis, clock=floor.dialer.clock,
                           poll_seconds=0.2,
                           recorders=lambda _name: _fixed(floor.dialer.recorder))  # fmt: skip
    floor.agi.routes[cv.SCRIPT_INBOUND] = inbound.handle
    floor.agi.routes[cv.SCRIPT_INBOUND_END] = inbound.handle_end
    floor.agi.route_timeouts[cv.SCRIPT_INBOUND] = 120.0
    # Calls from the carrier carry no Originate variables: the global points at us.
    await ami.send_action(
        {"Action": "Setvar", "Variable": cv.AGI_PORT, "Value": str(floor.agi.port)}
    )
    yield floor
    async with asyncio.timeout(60):  # a stuck teardown must not hold the shared Asterisk
        await floor.close()


def accounts_of(engine: Engine, number: str) -> list[int]:
    with Session(engine) as s:
        return sorted(s.scalars(select(Phone.account_id).where(Phone.number_e164 == number)))


async def test_given_callers_matching_one_two_and_no_account_when_they_call_the_did_then_each_reaches_an_agent_with_its_pop(
    asterisk: ChrootAsterisk, ami: AMIClient, floor: DialFloor, engine: Engine
) -> None:
    watch = Watch(floor)
    await watch.start()
    try:
        async with contextlib.AsyncExitStack() as calls:
            for number in (ONE, SHARED, "anonymous"):
                before = len(watch.pops)
                await calls.enter_async_context(sipp_caller("inbound_caller.xml", number))
                await wait_until(lambda before=before: len(watch.pops) > before, within=30,
                                 what=f"the pop of the call from {number}")  # fmt: skip
            rows = {r.id: r for r in inbound_rows(engine)}
            for pop in watch.pops:
                row = rows[pop["attempt_id"]]
                assert row.uniqueid
                await wait_until(lambda row=row, pop=pop: watch.joined(row.uniqueid or "", pop["agent_id"]),
                                 what="the caller in the agent's ConfBridge")  # fmt: skip
            # The callers hang up from Asterisk's side (the agents end the calls).
            for row in rows.values():
                await ami.send_action({"Action": "Hangup", "Channel": row.uniqueid})
            await wait_until(lambda: all(r.result == "contact" for r in inbound_rows(engine)),
                             what="every inbound attempt closed as a contact")  # fmt: skip
    finally:
        await watch.stop()

    one, two, withheld = watch.pops
    assert one["account_id"] == accounts_of(engine, ONE)[0] and one["ani_status"] == "ok"
    assert one["account_ids"] == accounts_of(engine, ONE)
    assert two["account_id"] is None and sorted(two["account_ids"]) == accounts_of(engine, SHARED)
    assert withheld["account_ids"] == [] and withheld["ani_status"] == "withheld"
    assert len({p["agent_id"] for p in watch.pops}) == 3
    assert {p["agent_id"] for p in watch.pops} <= set(floor.agent_ids)
    rows = inbound_rows(engine)
    assert [r.phone_e164 for r in rows] == [ONE, SHARED, ""]
    assert all(r.agent_id is not None and r.bridged_at is not None for r in rows)
    # Each caller entered the queue once the greeting had played: the wait counts from there.
    for r in rows:
        assert r.queued_at is not None and r.bridged_at is not None
        assert r.started_at < r.queued_at <= r.bridged_at


async def test_given_no_agent_free_when_caller_hangs_up_in_queue_then_abandoned_in_queue_with_attempt(
    asterisk: ChrootAsterisk, ami: AMIClient, floor: DialFloor, engine: Engine
) -> None:
    for agent_id in floor.agent_ids:  # every agent is on another call
        assert await floor.agents.reserve(agent_id, 1)
        await floor.agents.talking(agent_id, 1)
    queue = InboundQueue(floor.redis)
    async with sipp_caller("inbound_caller_hangs_up.xml", ONE) as sipp:
        await wait_until(lambda: bool(inbound_rows(engine)), what="the inbound attempt")
        await wait_until(lambda: any(r.result for r in inbound_rows(engine)), within=30,
                         what="the caller to hang up in the queue")  # fmt: skip
        assert await asyncio.wait_for(sipp.wait(), 20) == 0  # sipp saw its BYE answered
    [row] = inbound_rows(engine)
    assert row.result == "queue_abandoned" and row.agent_id is None
    assert row.account_id == accounts_of(engine, ONE)[0] and row.ended_at is not None
    # sipp hangs up 4 s after the answer, past the greeting: it hung up in the queue.
    assert row.queued_at is not None and row.started_at < row.queued_at < row.ended_at
    assert await queue.count("mx-inbound") == 0
    outcomes = await queue.outcomes("mx-inbound", floor.dialer.clock(), 3600, 20)
    assert (outcomes.answered, outcomes.abandoned) == (0, 1)


async def test_given_on_demand_when_the_agent_records_a_withheld_caller_then_mixmonitor_on_the_callers_channel(
    asterisk: ChrootAsterisk, ami: AMIClient, floor: DialFloor, engine: Engine
) -> None:
    # Asterisk writes under the chroot; cobrador reads the same files from outside.
    pbx_root = PurePosixPath("/var/spool/cobrador/recordings") / uuid.uuid4().hex[:12]
    chroot = Path(asterisk.run("path").strip())
    storage = DirectoryStorage(chroot / str(pbx_root).lstrip("/"))
    clock = floor.dialer.clock

    def finalize(**fields: Any) -> object:
        return finalize_recording(engine, storage, now=datetime.fromtimestamp(clock(), UTC),
                                  **fields)  # fmt: skip

    recorder = Recorder(
        campaign=floor.dialer.name, owner="it", ledger=SqlLedger(engine, floor.dialer.name), ami=floor.ami,
        storage=storage, pbx_root=pbx_root, finalize=finalize, mode=lambda: "on_demand",
        clock=clock,
    )  # fmt: skip
    floor.dialer.recorder = recorder
    watch = Watch(floor)
    await watch.start()
    try:
        async with sipp_caller("inbound_caller.xml", "anonymous"):
            await wait_until(lambda: bool(watch.pops), within=30, what="the caller's pop")
            (pop,) = watch.pops
            (row,) = inbound_rows(engine)
            uniqueid = row.uniqueid or ""
            assert recorder.open == {}  # on_demand: nothing until the agent asks
            command = {"attempt_id": pop["attempt_id"], "agent_id": pop["agent_id"]}
            await floor.dialer.handle_command(from_dict({"type": "recording_start", **command}))
            await wait_until(lambda: bool(watch.seen(uniqueid, "MixMonitorStart")),
                             what="MixMonitor on the caller's channel")  # fmt: skip
            await asyncio.sleep(1.0)
            await floor.dialer.handle_command(from_dict({"type": "recording_stop", **command}))
            await wait_until(lambda: bool(watch.seen(uniqueid, "MixMonitorStop")),
                             what="MixMonitor stopped")  # fmt: skip
            await ami.send_action({"Action": "Hangup", "Channel": uniqueid})
            await wait_until(lambda: inbound_rows(engine)[0].result == "contact",
                             what="the inbound attempt closed")  # fmt: skip
            await recorder.drain()
    finally:
        await watch.stop()
    with Session(engine) as s:
        rec = s.scalars(select(Recording).where(Recording.attempt_id == row.id)).one()
    path = storage.path(rec.storage_key)
    assert rec.status == "ok" and path.exists(), (rec.status, rec.failure_reason)
    with wave.open(str(path)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
    assert 0.5 < seconds < 5.0, seconds  # the part between start and stop


async def _fixed(recorder: Recorder | None) -> Recorder | None:
    """InboundCalls' recorders lookup answering one recorder for every campaign."""
    return recorder
