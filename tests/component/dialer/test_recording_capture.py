"""Recordings captured by the dial loop on pbxsim: MixMonitor at bridge and at
safe-harbor (`all`), agent-driven start/stop (`on_demand`), nothing (`none`), and
every way a recording can fail or be left open, each closed with a reason."""

from __future__ import annotations

import hashlib
import wave
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer import attempt_store
from dialer.messages import from_dict
from dialer.recording import REASON_DIALER_RESTARTED, Recorder, SqlLedger
from pbxsim.scenario import Dist
from store.models import CallAttempt, Recording
from store.recordings.finalize import finalize_recording
from store.recordings.ledger import open_entries
from store.recordings.storage import DirectoryStorage


@dataclass
class Finalized:
    """The store's finalize_recording, bound as the dialer service binds it; the
    rows it wrote, read back from SQL."""

    engine: Engine
    storage: DirectoryStorage
    clock: Any
    calls: list[int] = field(default_factory=list)

    def __call__(self, **fields: Any) -> object:
        self.calls.append(fields["attempt_id"])
        now = datetime.fromtimestamp(self.clock(), UTC)
        return finalize_recording(self.engine, self.storage, now=now, **fields)

    @property
    def rows(self) -> dict[int, Recording]:
        with Session(self.engine) as s:
            return {r.attempt_id: r for r in s.scalars(select(Recording))}


def every_call(floor, *, talk: float = 2000.0, human: float = 1.0) -> None:  # type: ignore[no-untyped-def]
    floor.pbx.scenario = floor.pbx.scenario.__class__(**{
        **floor.pbx.scenario.__dict__, "p_human": human, "p_machine": 0.0, "p_busy": 0.0,
        "p_congestion": 0.0, "talk_seconds": Dist("constant", talk)})  # fmt: skip


def with_recorder(floor, tmp_path: Path, mode: str) -> Finalized:  # type: ignore[no-untyped-def]
    storage = DirectoryStorage(tmp_path / "recordings")
    finalized = Finalized(floor.engine, storage, floor.clock)
    floor.dialer.recorder = Recorder(
        campaign="mx-test", owner="d1", ledger=SqlLedger(floor.engine, "mx-test"), ami=floor.ami, storage=storage,
        pbx_root=PurePosixPath(str(storage.root)), finalize=finalized, mode=lambda: mode,
        clock=floor.clock, settle_interval=0.01,
    )  # fmt: skip
    return finalized


def ledger(floor) -> list[int]:  # type: ignore[no-untyped-def]
    """The attempts whose recordings are written down as open (SQL)."""
    return [e.attempt_id for e in open_entries(floor.engine, "mx-test")]


def mixmonitor_actions(floor) -> list[str]:  # type: ignore[no-untyped-def]
    return [a.name for a in floor.ami_server.actions if "MixMonitor" in a.name]


async def one_bridged_call(floor) -> int:  # type: ignore[no-untyped-def]
    dialer = floor.dialer
    await floor.run_until(lambda: any(c.state.value == "bridged" for c in dialer.calls.values()))
    ((attempt_id, _),) = dialer.calls.items()
    return int(attempt_id)


async def hang_up(floor, attempt_id: int) -> None:  # type: ignore[no-untyped-def]
    await floor.dialer.handle_command(from_dict({"type": "hangup", "attempt_id": attempt_id}))
    await call_ended(floor, attempt_id)


async def call_ended(floor, attempt_id: int) -> None:  # type: ignore[no-untyped-def]
    """The attempt is finished (its _finish ran past the recording) and finalized."""
    await floor.run_until(lambda: attempt_id not in floor.dialer.calls
                          and attempt_id not in floor.dialer.recorder.open)  # fmt: skip
    await floor.dialer.recorder.drain()


async def test_given_mode_all_when_a_call_is_bridged_then_recorded_from_bridge_to_hangup(
    make_floor, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    every_call(floor)
    finalized = with_recorder(floor, tmp_path, "all")
    attempt_id = await one_bridged_call(floor)
    assert attempt_id in floor.dialer.recorder.open
    await hang_up(floor, attempt_id)

    row = finalized.rows[attempt_id]
    assert row.storage_key == f"{row.started_at:%Y/%m/%d}/{attempt_id}.wav"  # never the number
    path = tmp_path / "recordings" / row.storage_key
    assert row.status == "ok" and row.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    with wave.open(str(path)) as wav:
        # Stored to the millisecond: 8740 frames (1.0925 s) may round either way.
        assert row.duration_s > 0
        assert abs(float(row.duration_s) - wav.getnframes() / wav.getframerate()) <= 0.001
    assert mixmonitor_actions(floor) == []  # started by the answer handler, not over AMI
    assert ledger(floor) == []


async def test_given_mode_all_when_no_agent_is_free_then_the_safe_harbor_leg_is_recorded(
    make_floor, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    every_call(floor)
    finalized = with_recorder(floor, tmp_path, "all")
    await floor.agents.pause(floor.agent_ids[0], "break")
    floor.dialer.policy = _OneCall()
    await floor.run_until(lambda: bool(finalized.calls))
    await floor.dialer.recorder.drain()
    ((attempt_id, row),) = finalized.rows.items()
    with Session(floor.engine) as s:
        assert s.get(CallAttempt, attempt_id).result == "abandoned"  # type: ignore[union-attr]
    assert row.status == "ok" and row.duration_s > 0  # the message's audio, not a bare header


async def test_given_mode_none_when_a_call_is_bridged_then_nothing_is_recorded(
    make_floor, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    every_call(floor)
    finalized = with_recorder(floor, tmp_path, "none")
    attempt_id = await one_bridged_call(floor)
    await hang_up(floor, attempt_id)
    assert finalized.rows == {}
    assert not (tmp_path / "recordings").exists()
    assert not [e for e in floor.pbx.event_log or [] if e[0][1].startswith("MixMonitor")]


async def test_given_on_demand_when_the_agent_starts_stops_and_restarts_then_one_file_grows(
    make_floor, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    every_call(floor)
    finalized = with_recorder(floor, tmp_path, "on_demand")
    recorder = floor.dialer.recorder
    attempt_id = await one_bridged_call(floor)
    agent = floor.dialer.calls[attempt_id].agent_id
    assert attempt_id not in recorder.open  # nothing until the agent asks

    # Another agent cannot start it.
    await floor.dialer.handle_command(from_dict({"type": "recording_start", "attempt_id": attempt_id,
                                       "agent_id": agent + 1000}))  # fmt: skip
    assert mixmonitor_actions(floor) == []
    for kind in ("recording_start", "recording_stop", "recording_start"):
        await floor.dialer.handle_command(
            from_dict({"type": kind, "attempt_id": attempt_id, "agent_id": agent})
        )
    assert mixmonitor_actions(floor) == ["MixMonitor", "StopMixMonitor", "MixMonitor"]
    starts = [a.get("Options") for a in floor.ami_server.actions if a.name == "MixMonitor"]
    assert starts == ["", "a"]  # the second start appends to the first part
    await hang_up(floor, attempt_id)
    assert finalized.rows[attempt_id].status == "ok"


async def test_given_on_demand_when_the_channel_is_gone_then_mixmonitor_error_is_survived(
    make_floor, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    with_recorder(floor, tmp_path, "on_demand")
    # No such channel: Asterisk answers Response: Error; the dialer logs and goes on.
    assert not await floor.dialer.recorder.start(424242)
    assert not await floor.dialer.recorder.stop(424243)


async def test_given_a_recording_that_fails_when_the_call_ends_then_it_is_closed_with_a_reason(
    make_floor, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    every_call(floor)
    finalized = with_recorder(floor, tmp_path, "all")
    floor.pbx.recording_faults["*"] = "missing"  # Asterisk could not open the file
    attempt_id = await one_bridged_call(floor)
    await hang_up(floor, attempt_id)
    row = finalized.rows[attempt_id]
    assert (row.status, row.failure_reason) == ("missing", "no_file_when_call_ended")


async def test_given_mixmonitor_not_loaded_when_answered_then_closed_as_not_started(
    make_floor, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    every_call(floor)
    finalized = with_recorder(floor, tmp_path, "all")
    original = floor.pbx.start_mixmonitor
    floor.pbx.start_mixmonitor = lambda *a, **k: False  # AGI EXEC answers result=-1
    attempt_id = await one_bridged_call(floor)
    floor.pbx.start_mixmonitor = original
    await hang_up(floor, attempt_id)
    row = finalized.rows[attempt_id]
    assert row.status == "missing" and row.failure_reason.startswith("mixmonitor_not_started")


async def test_given_ami_down_mid_recording_when_the_call_ends_meanwhile_then_closed_after_reconnect(
    make_floor, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    every_call(floor)
    finalized = with_recorder(floor, tmp_path, "all")
    attempt_id = await one_bridged_call(floor)
    port = floor.ami_server.port
    await floor.ami_server.stop()  # the link is down...
    debtor = floor.pbx.find_channel(f"cobrador-{attempt_id}")
    floor.pbx.request_hangup(debtor, 16)  # ...while the call ends
    await floor.run_until(lambda: floor.pbx.find_channel(f"cobrador-{attempt_id}") is None)
    assert attempt_id not in finalized.rows
    await floor.ami_server.start("127.0.0.1", port)
    await call_ended(floor, attempt_id)
    assert finalized.rows[attempt_id].status == "ok"


async def test_given_a_dialer_that_died_before_finalize_when_reconciled_then_the_recording_is_closed(
    make_floor, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    every_call(floor)
    finalized = with_recorder(floor, tmp_path, "all")
    recorder = floor.dialer.recorder
    attempt_id = await one_bridged_call(floor)
    # The process dies after the hangup, before finalize: the ledger entry stays.
    recorder.close = lambda *_a, **_k: None
    await floor.dialer.handle_command(from_dict({"type": "hangup", "attempt_id": attempt_id}))
    await floor.run_until(lambda: attempt_id not in floor.dialer.calls)
    await floor.run_until(
        lambda: attempt_store.attempts_ended_at(floor.engine, [attempt_id])[attempt_id] is not None
    )
    assert attempt_id not in finalized.rows
    assert ledger(floor) == [attempt_id]

    fresh = Recorder(
        campaign="mx-test", owner="d2", ledger=SqlLedger(floor.engine, "mx-test"), ami=floor.ami,
        storage=recorder.storage,
        pbx_root=recorder.pbx_root, finalize=finalized, mode=lambda: "all", clock=floor.clock,
    )  # fmt: skip
    closed = await fresh.reconcile(
        set(), lambda ids: attempt_store.attempts_ended_at(floor.engine, ids)
    )
    await fresh.drain()
    assert closed == 1 and finalized.rows[attempt_id].status == "ok"
    assert ledger(floor) == []


async def test_given_an_entry_whose_file_is_gone_when_reconciled_then_closed_with_the_reason(
    make_floor, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    finalized = with_recorder(floor, tmp_path, "all")
    recorder = floor.dialer.recorder
    with Session(floor.engine) as s:
        assert s.scalars(select(CallAttempt)).first() is None
    # An attempt that ended long ago, whose entry is left and whose file never came.
    attempt_id = await _ended_attempt(floor)
    await recorder._register(attempt_id)
    recorder.open.clear()  # as seen from another process
    live_elsewhere = await _open_attempt(floor)
    await recorder._register(live_elsewhere)
    recorder.open.clear()
    closed = await recorder.reconcile(
        set(), lambda ids: attempt_store.attempts_ended_at(floor.engine, ids)
    )
    await recorder.drain()
    assert closed == 1
    row = finalized.rows[attempt_id]
    assert (row.status, row.failure_reason) == ("missing", REASON_DIALER_RESTARTED)
    # A call still open (another dialer's, on another Asterisk) is left alone.
    assert live_elsewhere not in finalized.rows
    assert ledger(floor) == [live_elsewhere]


class _OneCall:
    """A policy that asks for one call, once."""

    def __init__(self) -> None:
        self.placed = False

    def calls_to_place(self, _snapshot: object) -> int:
        if self.placed:
            return 0
        self.placed = True
        return 1


async def _ended_attempt(floor) -> int:  # type: ignore[no-untyped-def]
    return _attempt(floor, ended=True)


async def _open_attempt(floor) -> int:  # type: ignore[no-untyped-def]
    return _attempt(floor, ended=False)


def _attempt(floor, *, ended: bool) -> int:  # type: ignore[no-untyped-def]
    from datetime import UTC

    from store.models import Account

    now = datetime.fromtimestamp(floor.clock(), UTC)
    with Session(floor.engine) as s, s.begin():
        account = s.scalars(select(Account)).first()
        assert account is not None
        attempt = CallAttempt(account_id=account.id, campaign_id=account.campaign_id,
                              phone_e164="+525510000000", started_at=now, ended_at=now if ended else None,
                              result="contact" if ended else None)  # fmt: skip
        s.add(attempt)
        s.flush()
        return int(attempt.id)


async def test_given_sql_down_when_a_recording_is_finalized_then_retried_by_the_tick(
    make_floor, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy.exc import OperationalError

    floor = await make_floor(accounts=1, agents=1)
    every_call(floor)
    finalized = with_recorder(floor, tmp_path, "all")
    recorder = floor.dialer.recorder
    real = recorder.finalize
    calls: list[int] = []
    open_at_retry: list[list[int]] = []

    def flaky(**fields: Any) -> object:
        calls.append(fields["attempt_id"])
        if len(calls) == 1:
            raise OperationalError("INSERT", {}, Exception("database is away"))
        # What the retry finds: the recording still written down as open. Read here,
        # not after hang_up returns: on a loaded machine the tick may already have
        # retried by then.
        open_at_retry.append(ledger(floor))
        return real(**fields)

    recorder.finalize = flaky
    attempt_id = await one_bridged_call(floor)
    await hang_up(floor, attempt_id)
    await floor.run_until(lambda: len(calls) >= 2 and attempt_id not in recorder._retry)
    await recorder.drain()
    assert calls[:2] == [attempt_id, attempt_id]  # failed once, retried by the tick
    assert open_at_retry[0] == [attempt_id]  # kept meanwhile
    assert finalized.rows[attempt_id].status == "ok"
    assert ledger(floor) == []


async def test_given_an_inbound_caller_when_bridged_then_recorded_like_an_outbound_call(
    make_floor, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from dialer.inbound.calls import InboundCalls

    floor = await make_floor(accounts=1, agents=1)
    finalized = with_recorder(floor, tmp_path, "all")
    recorder = floor.dialer.recorder
    inbound = InboundCalls(sql=floor.engine, redis=floor.redis, clock=floor.clock,
                           poll_seconds=0.05, recorders=lambda _name: _fixed(recorder))  # fmt: skip
    floor.agi.routes["inbound"] = inbound.handle
    floor.agi.routes["inbound_end"] = inbound.handle_end
    floor.agi.route_timeouts["inbound"] = 60.0
    (number,) = floor.numbers.values()
    channel = floor.pbx.inbound_call("5215550001000", number)  # the campaign's DID
    # Recording in pbxsim, not only registered: hanging up between the two leaves no
    # file (a `missing` row, as a full run on a loaded machine once saw).
    await floor.run_until(lambda: bool(recorder.open) and channel.mixmonitor is not None)
    (attempt_id,) = recorder.open
    floor.pbx.request_hangup(channel, 16)
    await floor.run_until(lambda: attempt_id not in recorder.open)
    await recorder.drain()
    row = finalized.rows[attempt_id]
    assert row.status == "ok" and row.storage_key.endswith(f"/{attempt_id}.wav")
    with Session(floor.engine) as s:
        assert s.get(CallAttempt, attempt_id).direction == "inbound"  # type: ignore[union-attr]


async def test_given_on_demand_when_the_inbound_agent_records_then_the_callers_channel_is_recorded(
    make_floor, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from dialer.inbound.calls import InboundCalls

    floor = await make_floor(accounts=1, agents=1)
    finalized = with_recorder(floor, tmp_path, "on_demand")
    recorder = floor.dialer.recorder
    inbound = InboundCalls(sql=floor.engine, redis=floor.redis, clock=floor.clock,
                           poll_seconds=0.05, recorders=lambda _name: _fixed(recorder))  # fmt: skip
    floor.agi.routes["inbound"] = inbound.handle
    floor.agi.routes["inbound_end"] = inbound.handle_end
    floor.agi.route_timeouts["inbound"] = 60.0
    channel = floor.pbx.inbound_call("5215550001000", "")  # withheld, unmatched caller
    await floor.run_until(lambda: bool(recorder.inbound))
    (attempt_id,) = recorder.inbound
    agent = recorder.inbound_agent(attempt_id)
    assert agent is not None and attempt_id not in recorder.open  # nothing until asked

    # The console's command reaches every campaign loop; the dialer is not dialing it.
    await floor.dialer.handle_command(from_dict({"type": "recording_start", "attempt_id": attempt_id,
                                       "agent_id": agent + 1000}))  # fmt: skip
    assert mixmonitor_actions(floor) == []
    for kind in ("recording_start", "recording_stop", "recording_start"):
        await floor.dialer.handle_command(
            from_dict({"type": kind, "attempt_id": attempt_id, "agent_id": agent})
        )
    actions = [a for a in floor.ami_server.actions if "MixMonitor" in a.name]
    assert [a.name for a in actions] == ["MixMonitor", "StopMixMonitor", "MixMonitor"]
    assert {a.get("Channel") for a in actions} == {channel.uniqueid}  # the caller's channel
    assert channel.mixmonitor is not None  # pbxsim found the channel and is recording it
    floor.pbx.request_hangup(channel, 16)
    await floor.run_until(lambda: attempt_id not in recorder.inbound)
    await recorder.drain()
    row = finalized.rows[attempt_id]
    assert row.status == "ok" and row.size_bytes
    assert recorder.inbound == {}


async def _fixed(recorder: Recorder | None) -> Recorder | None:
    """InboundCalls' recorders lookup answering one recorder for every campaign."""
    return recorder
