"""Retention and legal hold: purge deletes expired files only, keeps rows, audits each."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from recording_helpers import T0, World, add_account, audit_entries, make_world, recorded_call
from sqlalchemy import Engine, update

from cobrador.cli import main
from metrics.definitions import REGISTRY
from store.db import transaction
from store.models import Account, Recording
from store.recordings.hold import HoldError, NoRecording, release_hold, set_hold
from store.recordings.purge import purge_expired

DAY = timedelta(days=1)


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> World:
    return make_world(engine, tmp_path / "recordings", {"recording_retention_days": 30})


def _row(engine: Engine, recording_id: int) -> Recording:
    with transaction(engine) as session:
        row = session.get(Recording, recording_id)
        assert row is not None
        return row


def test_given_expired_and_fresh_recordings_when_purged_then_only_expired_files_go(
    world: World,
) -> None:
    old = recorded_call(world, started_at=T0)
    fresh = recorded_call(world, started_at=T0 + 20 * DAY)
    now = T0 + 31 * DAY  # old ended 31 days ago, fresh 11 days ago
    before = REGISTRY.get_sample_value("cobrador_recordings_purge_total", {"result": "purged"})

    report = purge_expired(world.engine, world.storage, now)

    assert (report.expired, report.purged, report.held, report.failed) == (1, 1, 0, 0)
    assert not world.storage.exists(old.storage_key)
    assert world.storage.exists(fresh.storage_key)
    row = _row(world.engine, old.recording_id)
    assert row.purged_at == now and row.sha256 == old.sha256  # the row stays, as evidence
    assert _row(world.engine, fresh.recording_id).purged_at is None
    [entry] = audit_entries(world.engine, "recording_purge")
    payload = json.loads(entry.payload)
    assert payload["recording_id"] == old.recording_id and payload["file_existed"] is True
    after = REGISTRY.get_sample_value("cobrador_recordings_purge_total", {"result": "purged"})
    assert (after or 0) - (before or 0) == 1
    again = purge_expired(world.engine, world.storage, now + DAY)
    assert again.expired == 0 and len(audit_entries(world.engine, "recording_purge")) == 1


def test_given_dry_run_then_counts_and_touches_nothing(world: World) -> None:
    old = recorded_call(world)
    report = purge_expired(world.engine, world.storage, T0 + 40 * DAY, dry_run=True)
    assert (report.expired, report.purged) == (1, 1)
    assert "would purge 1" in report.summary()
    assert world.storage.exists(old.storage_key)
    assert _row(world.engine, old.recording_id).purged_at is None
    assert audit_entries(world.engine, "recording_purge") == []


def test_given_auditor_hold_when_purged_then_kept_until_released(world: World) -> None:
    held = recorded_call(world)
    set_hold(world.engine, held.attempt_id, reason="Expediente 123/2026", actor="user:raul",
             now=T0 + DAY)  # fmt: skip
    report = purge_expired(world.engine, world.storage, T0 + 400 * DAY)
    assert (report.expired, report.held, report.purged) == (1, 1, 0)
    assert world.storage.exists(held.storage_key)
    row = _row(world.engine, held.recording_id)
    assert row.legal_hold and row.hold_by == "user:raul" and row.purged_at is None

    release_hold(world.engine, held.attempt_id, actor="user:raul", now=T0 + 401 * DAY)
    report = purge_expired(world.engine, world.storage, T0 + 402 * DAY)
    assert report.purged == 1 and not world.storage.exists(held.storage_key)
    actions = [
        json.loads(e.payload)["action"] for e in audit_entries(world.engine, "recording_hold")
    ]
    assert actions == ["hold", "release"]


def test_given_disputed_account_when_purged_then_its_recordings_are_kept(world: World) -> None:
    disputed = recorded_call(world, "REC-2")
    other = recorded_call(world, "REC-1")
    with transaction(world.engine) as session:
        session.execute(
            update(Account).where(Account.id == world.accounts["REC-2"]).values(status="disputed")
        )
    report = purge_expired(world.engine, world.storage, T0 + 400 * DAY)
    assert (report.held, report.purged) == (1, 1)
    assert world.storage.exists(disputed.storage_key)
    assert not world.storage.exists(other.storage_key)


def test_given_row_of_missing_file_when_expired_then_marked_purged_without_a_file(
    world: World,
) -> None:
    gone = recorded_call(world)
    world.storage.path(gone.storage_key).unlink()
    report = purge_expired(world.engine, world.storage, T0 + 40 * DAY)
    assert report.purged == 1
    [entry] = audit_entries(world.engine, "recording_purge")
    assert json.loads(entry.payload)["file_existed"] is False


class _StuckStorage:
    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)

    def delete(self, key: str) -> bool:
        raise PermissionError(13, "Permission denied")


def test_given_file_that_cannot_be_deleted_then_failed_and_row_not_marked(world: World) -> None:
    stuck = recorded_call(world)
    report = purge_expired(world.engine, _StuckStorage(world.storage), T0 + 40 * DAY)
    assert (report.failed, report.purged) == (1, 0)
    assert "Permission denied" in report.failures[0]
    assert _row(world.engine, stuck.recording_id).purged_at is None
    assert audit_entries(world.engine, "recording_purge") == []


def test_given_bad_hold_requests_then_clear_errors_and_nothing_audited(world: World) -> None:
    rec = recorded_call(world)
    now = T0 + DAY
    with pytest.raises(HoldError, match="needs a reason"):
        set_hold(world.engine, rec.attempt_id, reason="   ", actor="cli", now=now)
    with pytest.raises(HoldError, match="too long"):
        set_hold(world.engine, rec.attempt_id, reason="x" * 501, actor="cli", now=now)
    with pytest.raises(NoRecording):
        set_hold(world.engine, 999999, reason="caso", actor="cli", now=now)
    with pytest.raises(HoldError, match="not under a legal hold"):
        release_hold(world.engine, rec.attempt_id, actor="cli", now=now)
    purge_expired(world.engine, world.storage, T0 + 40 * DAY)
    with pytest.raises(HoldError, match="was purged"):
        set_hold(world.engine, rec.attempt_id, reason="caso", actor="cli", now=T0 + 41 * DAY)
    assert audit_entries(world.engine, "recording_hold") == []


def test_given_cli_hold_purge_release_then_output_and_exit_codes(
    world: World, settings, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    rec = recorded_call(world)  # T0 is months before the real clock: expired
    add_account(world.engine, world.campaign_id, "REC-9")
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("COBRADOR_RECORDINGS_DIR", str(world.storage.root))
    assert main(["recordings", "hold", str(rec.attempt_id), "--reason", "Queja 77", "--by",
                 "raul"]) == 0  # fmt: skip
    assert "under legal hold: Queja 77" in capsys.readouterr().out
    assert main(["recordings", "purge", "--dry-run"]) == 0
    assert "would purge 0, kept 1 under legal hold" in capsys.readouterr().out
    assert main(["recordings", "release", str(rec.attempt_id)]) == 0
    assert main(["recordings", "purge"]) == 0
    out = capsys.readouterr().out
    assert "1 expired, purged 1, kept 0 under legal hold, 0 failed" in out
    assert not world.storage.exists(rec.storage_key)
    assert main(["recordings", "hold", "999999", "--reason", "x"]) == 2
    assert "no recording for attempt 999999" in capsys.readouterr().err
    assert main(["recordings", "hold", str(rec.attempt_id), "--reason", "x", "--by", "a b"]) == 2
    with pytest.raises(SystemExit):
        main(["recordings", "hold", "abc", "--reason", "x"])
    with pytest.raises(SystemExit):
        main(["recordings", "hold", "-4", "--reason", "x"])
    hold_actor = audit_entries(world.engine, "recording_hold")[0].actor
    assert hold_actor == "cli:raul"


def test_given_inbound_call_without_account_then_finalized_held_and_purged_like_others(
    world: World,
) -> None:
    from recording_helpers import unmatched_inbound_recording

    rec = unmatched_inbound_recording(world)
    assert rec.status == "ok"
    [finalized] = audit_entries(world.engine, "recording")
    assert finalized.subject is None
    set_hold(world.engine, rec.attempt_id, reason="Queja", actor="cli", now=T0 + DAY)
    assert purge_expired(world.engine, world.storage, T0 + 40 * DAY).held == 1
    release_hold(world.engine, rec.attempt_id, actor="cli", now=T0 + 41 * DAY)
    assert purge_expired(world.engine, world.storage, T0 + 42 * DAY).purged == 1
    assert not world.storage.exists(rec.storage_key)


def test_given_recordings_dir_missing_when_purging_then_refused_and_nothing_marked(
    world: World, settings, monkeypatch, capsys, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    rec = recorded_call(world)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("COBRADOR_RECORDINGS_DIR", str(tmp_path / "nowhere"))
    assert main(["recordings", "purge"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert _row(world.engine, rec.recording_id).purged_at is None


def test_given_no_recording_ever_stored_and_no_directory_when_purging_then_nothing_to_do(
    world: World, settings, monkeypatch, capsys, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    # A fresh installation: the directory is created with the first recording.
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("COBRADOR_RECORDINGS_DIR", str(tmp_path / "not-yet"))
    assert main(["recordings", "purge", "--dry-run"]) == 0
    assert "nothing to purge: no recording has been stored yet" in capsys.readouterr().out


async def test_given_dialer_processes_when_purge_is_due_then_one_of_them_purges_on_schedule(
    world: World, aredis, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from dialer.retention import RetentionPurge

    expired = recorded_call(world)  # T0 is months before the real clock: expired
    first, second = (RetentionPurge(sql=world.engine, redis=aredis, recordings_dir=world.storage.root,
                                    every_seconds=3600, owner=name) for name in ("d1", "d2"))  # fmt: skip
    stop = asyncio.Event()
    running = asyncio.create_task(first.run(stop))  # a pass at start, then hourly
    try:
        async with asyncio.timeout(15):
            while True:
                if _row(world.engine, expired.recording_id).purged_at is not None:
                    break
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
    assert not world.storage.exists(expired.storage_key)
    [entry] = audit_entries(world.engine, "recording_purge")
    assert entry.actor == "dialer:d1"
    # Within the same interval the other process leaves it alone.
    assert await second.run_once() is None
    # A recordings directory that is not there purges nothing (every file would look gone).
    await aredis.delete("cobrador:recordings:purge-lock")
    lost = RetentionPurge(sql=world.engine, redis=aredis, recordings_dir=tmp_path / "nowhere",
                          every_seconds=3600, owner="d3")  # fmt: skip
    assert await lost.run_once() is None
