"""Recordings of inbound calls that a crashed dialer process left open, for a
campaign with no dial loop anywhere (inbound only): no dial loop reconciles them,
so every process' inbound housekeeping has them closed (dialer/inbound/control.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer import attempt_store
from dialer.inbound import records
from dialer.inbound.control import InboundControl
from dialer.inbound.housekeeping import RECORDINGS_EVERY_SECONDS, InboundHousekeeping
from dialer.recording import REASON_DIALER_RESTARTED, Recorder, SqlLedger
from store.models import Account, CallAttempt, Recording
from store.recordings.finalize import finalize_recording
from store.recordings.ledger import open_entries
from store.recordings.storage import DirectoryStorage


def inbound_attempt(floor: Any, *, ended_at: float | None) -> int:
    """An inbound call's attempt: ended at `ended_at`, or still going on."""
    at = datetime.fromtimestamp(floor.clock() - 300, UTC)
    with Session(floor.engine) as s, s.begin():
        account = s.scalars(select(Account)).first()
        assert account is not None
        attempt = CallAttempt(account_id=account.id, campaign_id=account.campaign_id,
                              phone_e164="+525510000000", started_at=at, direction="inbound",
                              source="inbound",
                              ended_at=datetime.fromtimestamp(ended_at, UTC) if ended_at else None,
                              result="contact" if ended_at else None)  # fmt: skip
        s.add(attempt)
        s.flush()
        return int(attempt.id)


def recorder_for(floor: Any, tmp_path: Path, owner: str) -> Recorder:
    storage = DirectoryStorage(tmp_path / "recordings")

    def finalize(**fields: Any) -> object:
        now = datetime.fromtimestamp(floor.clock(), UTC)
        return finalize_recording(floor.engine, storage, now=now, actor="dialer", **fields)

    return Recorder(
        campaign="mx-test", owner=owner, ledger=SqlLedger(floor.engine, "mx-test"), ami=floor.ami,
        storage=storage, pbx_root=PurePosixPath(str(storage.root)), finalize=finalize,
        mode=lambda: "all", clock=floor.clock, settle_interval=0.01,
    )  # fmt: skip


def recordings(floor: Any) -> dict[int, Recording]:
    with Session(floor.engine) as s:
        return {r.attempt_id: r for r in s.scalars(select(Recording))}


async def test_given_a_crashed_process_left_inbound_recordings_open_when_no_loop_runs_the_campaign_then_they_are_closed(
    make_floor, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    floor = await make_floor(accounts=1, agents=1)
    now = floor.clock()
    ended_long_ago = inbound_attempt(floor, ended_at=now - 120)
    ended_just_now = inbound_attempt(floor, ended_at=now - 1)  # its own process may be closing it
    live_elsewhere = inbound_attempt(floor, ended_at=None)
    crashed = recorder_for(floor, tmp_path, "dead-dialer")
    for attempt_id in (ended_long_ago, ended_just_now, live_elsewhere):
        await crashed._register(attempt_id)  # its file never written: the process died
    built: list[str] = []

    async def build(campaign: str) -> Recorder | None:
        built.append(campaign)
        return recorder_for(floor, tmp_path, "survivor")

    control = InboundControl(redis=floor.redis, ami=floor.ami, loop_recorder=lambda _c: None,
                             build=build)  # fmt: skip

    def ended(ids: list[int]) -> Any:
        return attempt_store.attempts_ended_at(floor.engine, ids)

    closed = await control.reconcile_recordings(["mx-test"], ended, now - 60)
    await control.recorders["mx-test"].drain()
    assert closed == 1 and built == ["mx-test"]
    row = recordings(floor)[ended_long_ago]
    assert (row.status, row.failure_reason) == ("missing", REASON_DIALER_RESTARTED)
    left = sorted(e.attempt_id for e in open_entries(floor.engine, "mx-test"))
    assert left == sorted([ended_just_now, live_elsewhere])

    # A campaign whose dial loop runs in this process: its loop reconciles its own.
    looped = InboundControl(redis=floor.redis, ami=floor.ami,
                            loop_recorder=lambda _c: floor.dialer.recorder or crashed,
                            build=build)  # fmt: skip
    assert await looped.reconcile_recordings(["mx-test"], ended, now + 60) == 0
    assert built == ["mx-test"]
    assert len(open_entries(floor.engine, "mx-test")) == 2


async def test_given_inbound_campaigns_then_housekeeping_has_their_left_recordings_closed_once_a_period(
    make_floor,
) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    floor = await make_floor(accounts=1, agents=1)
    assert [c.name for c in records.inbound_campaigns(floor.engine)] == ["mx-test"]
    asked: list[tuple[list[str], float]] = []

    async def left(names: list[str], now: float) -> int:
        asked.append((names, now))
        return 0

    housekeeping = InboundHousekeeping(sql=floor.engine, redis=floor.redis, owner="h1",
                                       clock=floor.clock, recordings=left)  # fmt: skip
    await housekeeping.refresh()
    await housekeeping.refresh()  # within the period: not again
    assert [names for names, _ in asked] == [["mx-test"]]
    floor.clock.jump(RECORDINGS_EVERY_SECONDS)
    await housekeeping.refresh()
    assert [names for names, _ in asked] == [["mx-test"], ["mx-test"]]
