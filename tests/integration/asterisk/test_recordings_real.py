"""Recordings on the real Asterisk 22: MixMonitor started by the dialer's answer
handler writes into the chroot, the dialer closes the file at hangup and the
store's row matches it. Asterisk sees the directory as /var/spool/cobrador/
recordings; cobrador reads it through the chroot (pbx_recordings_dir vs
recordings_dir, as with a shared volume in docker-compose)."""

from __future__ import annotations

import array
import asyncio
import hashlib
import math
import time
import uuid
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from asterisk_harness import CallWatcher, ChrootAsterisk
from dial_floor import DialFloor, attempts
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.ami import AMIClient, Message
from dialer.messages import from_dict
from dialer.recording import Recorder, SqlLedger
from store.models import Recording
from store.recordings.finalize import finalize_recording
from store.recordings.storage import DirectoryStorage

# One directory per run: attempt ids restart with each test database.
PBX_ROOT = PurePosixPath("/var/spool/cobrador/recordings") / uuid.uuid4().hex[:12]


@dataclass
class Recorded:
    storage: DirectoryStorage
    recorder: Recorder


def attach_recorder(floor: DialFloor, asterisk: ChrootAsterisk, engine: Engine) -> Recorded:
    chroot = Path(asterisk.run("path").strip())
    storage = DirectoryStorage(chroot / str(PBX_ROOT).lstrip("/"))
    clock = floor.dialer.clock

    def finalize(**fields: Any) -> object:
        return finalize_recording(engine, storage, now=datetime.fromtimestamp(clock(), UTC),
                                  **fields)  # fmt: skip

    recorder = Recorder(
        campaign=floor.dialer.name, owner="it", ledger=SqlLedger(engine, floor.dialer.name), ami=floor.ami,
        storage=storage, pbx_root=PBX_ROOT, finalize=finalize, mode=lambda: "all", clock=clock,
    )  # fmt: skip
    floor.dialer.recorder = recorder
    return Recorded(storage, recorder)


def recording_of(engine: Engine, attempt_id: int) -> Recording:
    with Session(engine) as s:
        row = s.scalars(select(Recording).where(Recording.attempt_id == attempt_id)).one()
        s.expunge(row)
        return row


def wav_facts(path: Path) -> tuple[float, float]:
    """Seconds (from the header) and RMS level of a 16-bit mono wav."""
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        frames = wav.readframes(wav.getnframes())
        seconds = wav.getnframes() / wav.getframerate()
    samples = array.array("h", frames)
    rms = math.sqrt(sum(x * x for x in samples) / len(samples)) if samples else 0.0
    return seconds, rms


@pytest.fixture
async def talk_seconds(ami: AMIClient) -> AsyncIterator[None]:
    await ami.send_action({"Action": "Setvar", "Variable": "SIM_TALK_SECONDS", "Value": "5"})
    yield
    await ami.send_action({"Action": "Setvar", "Variable": "SIM_TALK_SECONDS", "Value": "30"})


async def test_given_a_person_answers_when_bridged_to_an_agent_then_the_recording_matches_its_row(
    asterisk: ChrootAsterisk, ami: AMIClient, watcher: CallWatcher, talk_seconds: None,
    engine: Engine, redis_url: str, tmp_path: Path,
) -> None:  # fmt: skip
    floor = await DialFloor.open(ami, engine, redis_url, tmp_path, ["+525520000101"], agents=1,
                                 name="mx-rec-bridge")  # fmt: skip
    recorded = attach_recorder(floor, asterisk, engine)
    try:
        await floor.run_until(lambda: floor.finished(1), within=60, what="the call to end")
        await recorded.recorder.drain()
    finally:
        await floor.close()
    (attempt,) = attempts(engine, floor.campaign_id)
    assert attempt.result == "contact" and attempt.bridged_at and attempt.ended_at
    assert watcher.has(f"cobrador-{attempt.id}", "MixMonitorStart")
    assert watcher.has(
        f"cobrador-{attempt.id}", "ConfbridgeJoin", Conference=f"agent-{attempt.agent_id}"
    )

    row = recording_of(engine, attempt.id)
    path = recorded.storage.path(row.storage_key)
    assert row.status == "ok" and path.exists()
    assert row.storage_key.endswith(f"/{attempt.id}.wav")
    assert row.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    seconds, _ = wav_facts(path)
    bridged = (attempt.ended_at - attempt.bridged_at).total_seconds()
    assert abs(seconds - bridged) < 1.0, (seconds, bridged)
    assert float(row.duration_s or 0) == pytest.approx(seconds, abs=0.001)


async def test_given_no_agent_ready_when_abandoned_then_the_safe_harbor_message_is_recorded(
    asterisk: ChrootAsterisk, ami: AMIClient, watcher: CallWatcher, engine: Engine,
    redis_url: str, tmp_path: Path,
) -> None:  # fmt: skip
    timeline = Timeline(ami)
    floor = await DialFloor.open(ami, engine, redis_url, tmp_path, ["+525520000101"], agents=1,
                                 name="mx-rec-abandon")  # fmt: skip
    recorded = attach_recorder(floor, asterisk, engine)
    await floor.agents.pause(floor.agent_ids[0], "break")  # nobody to bridge to
    floor.dialer.policy = OneCall()  # progressive dialing would wait for the agent
    try:
        await floor.run_until(lambda: floor.finished(1), within=90, what="the abandoned call")
        await recorded.recorder.drain()
    finally:
        await floor.close()
        await timeline.close()
    (attempt,) = attempts(engine, floor.campaign_id)
    assert attempt.result == "abandoned"
    channel = f"cobrador-{attempt.id}"
    events = watcher.events(channel)
    names = [(e.name, e.get("Context"), e.get("AppData")) for e in events]
    # The whole message played: its last prompt, then the dialplan's own hangup.
    assert ("Newexten", "safe-harbor", "goodbye") in names
    message = timeline.first(channel, "Hangup") - timeline.first(
        channel, "VarSet", Variable="COBRADOR_ABANDONED"
    )

    row = recording_of(engine, attempt.id)
    path = recorded.storage.path(row.storage_key)
    assert row.status == "ok" and row.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    seconds, rms = wav_facts(path)
    assert seconds >= message - 1.0, (seconds, message)  # the recording covers the message
    assert rms > 100  # speech, not a file of silence


class OneCall:
    """A pacing policy that places one call, once."""

    def __init__(self) -> None:
        self.placed = False

    def calls_to_place(self, _snapshot: object) -> int:
        placed, self.placed = self.placed, True
        return 0 if placed else 1


class Timeline:
    """When our client received each event of the dialer's calls (monotonic seconds)."""

    def __init__(self, ami: AMIClient) -> None:
        self.seen: list[tuple[float, Message]] = []
        self._subscription = ami.events()
        self._task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        async for event in self._subscription:
            if (event.get("Uniqueid") or "").startswith("cobrador-"):
                self.seen.append((time.monotonic(), event))

    def first(self, channel: str, name: str, **headers: str) -> float:
        return self.times(channel, name, **headers)[0]

    def times(self, channel: str, name: str, **headers: str) -> list[float]:
        return [
            at for at, e in self.seen
            if e.get("Uniqueid") == channel and e.name == name
            and all(e.get(k) == v for k, v in headers.items())
        ]  # fmt: skip

    async def close(self) -> None:
        self._subscription.close()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def test_given_on_demand_when_the_agent_records_stops_and_records_again_then_one_file_of_both_parts(
    asterisk: ChrootAsterisk, ami: AMIClient, watcher: CallWatcher, talk_seconds: None,
    engine: Engine, redis_url: str, tmp_path: Path,
) -> None:  # fmt: skip
    timeline = Timeline(ami)
    floor = await DialFloor.open(ami, engine, redis_url, tmp_path, ["+525520000101"], agents=1,
                                 name="mx-rec-on-demand")  # fmt: skip
    recorded = attach_recorder(floor, asterisk, engine)
    recorded.recorder.mode = lambda: "on_demand"
    dialer = floor.dialer
    try:
        await floor.run_until(lambda: any(c.state.value == "bridged" for c in dialer.calls.values()),
                              within=60, what="the debtor bridged")  # fmt: skip
        ((attempt_id, call),) = dialer.calls.items()
        channel = f"cobrador-{attempt_id}"
        command = {"attempt_id": attempt_id, "agent_id": call.agent_id}
        await dialer.handle_command(from_dict({"type": "recording_start", **command}))
        await floor.run_until(lambda: watcher.has(channel, "MixMonitorStart"), within=10,
                              what="MixMonitor started")  # fmt: skip
        await asyncio.sleep(1.0)  # a first part long enough to tell apart
        await dialer.handle_command(from_dict({"type": "recording_stop", **command}))
        await floor.run_until(lambda: watcher.has(channel, "MixMonitorStop"), within=10,
                              what="MixMonitor stopped")  # fmt: skip
        await dialer.handle_command(from_dict({"type": "recording_start", **command}))
        await floor.run_until(lambda: floor.finished(1), within=60, what="the call to end")
        await recorded.recorder.drain()
    finally:
        await floor.close()
        await timeline.close()
    names = [e.name for e in watcher.events(channel) if e.name.startswith("MixMonitor")]
    assert names == ["MixMonitorStart", "MixMonitorStop", "MixMonitorStart"]
    (attempt,) = attempts(engine, floor.campaign_id)
    row = recording_of(engine, attempt.id)
    path = recorded.storage.path(row.storage_key)
    assert row.status == "ok" and row.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    seconds, _ = wav_facts(path)
    bridged = (attempt.ended_at - attempt.bridged_at).total_seconds()
    first = timeline.first(channel, "MixMonitorStop") - timeline.first(channel, "MixMonitorStart")
    second = timeline.first(channel, "Hangup") - timeline.times(channel, "MixMonitorStart")[1]
    # Both parts in one file (the restart appended), and less than the time bridged.
    assert abs(seconds - (first + second)) < 0.5, (seconds, first, second)
    assert seconds < bridged + 0.05  # the file ends on a whole 20 ms frame
