"""finalize_recording: the row, the audit entry and the metrics, for good and bad files."""

from __future__ import annotations

import hashlib
import json
import wave
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from recording_helpers import T0, World, add_attempt, audit_entries, make_world, recorded_call
from sqlalchemy import Engine, select

from metrics.definitions import REGISTRY
from store.db import transaction
from store.models import Recording
from store.recordings.finalize import finalize_recording
from store.recordings.retention import DEFAULT_RETENTION_DAYS
from store.recordings.storage import DirectoryStorage


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> World:
    return make_world(engine, tmp_path / "recordings")


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _row(engine: Engine, attempt_id: int) -> Recording:
    with transaction(engine) as session:
        return session.execute(
            select(Recording).where(Recording.attempt_id == attempt_id)
        ).scalar_one()


def _finalize(world: World, attempt_id: int, **kw):  # type: ignore[no-untyped-def]
    key = kw.pop("key", world.storage.key_for(attempt_id, T0))
    return finalize_recording(
        world.engine, world.storage, attempt_id=attempt_id, key=key, started_at=T0,
        ended_at=T0 + timedelta(seconds=30), now=T0 + timedelta(seconds=31), **kw,
    )  # fmt: skip


def test_given_a_closed_wav_when_finalized_then_row_hash_duration_retention_and_audit(
    world: World,
) -> None:
    written = _metric("cobrador_recordings_written_total", campaign="mora")
    size_metric = _metric("cobrador_recordings_written_bytes_total", campaign="mora")
    result = recorded_call(world, seconds=3.0)
    path = world.storage.path(result.storage_key)
    assert result.storage_key == f"2026/03/02/{result.attempt_id}.wav"
    row = _row(world.engine, result.attempt_id)
    assert row.status == "ok" and row.failure_reason is None
    assert row.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert row.size_bytes == path.stat().st_size
    with wave.open(str(path)) as wav:
        assert row.duration_s == Decimal(wav.getnframes()) / wav.getframerate() == Decimal("3")
    assert row.retention_until == T0 + timedelta(seconds=3, days=DEFAULT_RETENTION_DAYS)
    assert not row.legal_hold and row.purged_at is None
    [entry] = audit_entries(world.engine, "recording")
    payload = json.loads(entry.payload)
    assert payload["action"] == "finalized" and payload["sha256"] == row.sha256
    assert payload["recording_id"] == row.id and entry.actor == "dialer"
    assert entry.subject == f"account:{world.accounts['REC-1']}"
    assert _metric("cobrador_recordings_written_total", campaign="mora") == written + 1
    assert (
        _metric("cobrador_recordings_written_bytes_total", campaign="mora")
        == size_metric + row.size_bytes
    )


def test_given_campaign_retention_when_finalized_then_retention_from_campaign(
    engine: Engine, tmp_path: Path
) -> None:
    world = make_world(engine, tmp_path / "r", {"recording_retention_days": 30})
    result = recorded_call(world, seconds=1.0)
    assert result.retention_until == T0 + timedelta(days=30, seconds=1)


def test_given_no_file_when_finalized_then_row_says_missing_with_reason(world: World) -> None:
    failed = _metric("cobrador_recordings_failed_total", campaign="mora", reason="missing")
    attempt_id = add_attempt(world.engine, world.accounts["REC-1"])
    result = _finalize(world, attempt_id)
    row = _row(world.engine, attempt_id)
    assert row.status == result.status == "missing"
    assert row.failure_reason == f"no file at {row.storage_key}"
    assert row.sha256 is None and row.size_bytes is None
    [entry] = audit_entries(world.engine, "recording")
    assert json.loads(entry.payload)["status"] == "missing"
    assert _metric("cobrador_recordings_failed_total", campaign="mora", reason="missing") == (
        failed + 1
    )


def test_given_caller_reason_when_file_missing_then_the_callers_reason_is_kept(
    world: World,
) -> None:
    attempt_id = add_attempt(world.engine, world.accounts["REC-1"])
    _finalize(world, attempt_id, reason="mixmonitor_not_started")
    assert _row(world.engine, attempt_id).failure_reason == "mixmonitor_not_started"


def test_given_zero_byte_file_when_finalized_then_empty_with_reason(world: World) -> None:
    attempt_id = add_attempt(world.engine, world.accounts["REC-1"])
    world.storage.ensure_dir(world.storage.key_for(attempt_id, T0)).write_bytes(b"")
    _finalize(world, attempt_id)
    row = _row(world.engine, attempt_id)
    assert (row.status, row.failure_reason, row.size_bytes) == ("empty", "file has 0 bytes", 0)


def test_given_wav_header_without_frames_when_finalized_then_empty(world: World) -> None:
    attempt_id = add_attempt(world.engine, world.accounts["REC-1"])
    path = world.storage.ensure_dir(world.storage.key_for(attempt_id, T0))
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
    _finalize(world, attempt_id)
    row = _row(world.engine, attempt_id)
    assert (row.status, row.failure_reason) == ("empty", "wav has no audio frames")
    assert row.sha256 is not None and row.size_bytes == 44


def test_given_wav_with_garbage_header_when_finalized_then_ok_without_duration(
    world: World,
) -> None:
    attempt_id = add_attempt(world.engine, world.accounts["REC-1"])
    world.storage.ensure_dir(world.storage.key_for(attempt_id, T0)).write_bytes(b"not a wav" * 10)
    result = _finalize(world, attempt_id)
    assert result.status == "ok" and result.duration_s is None and result.size_bytes == 90


def test_given_same_file_finalized_twice_then_one_row_one_audit_entry(world: World) -> None:
    first = recorded_call(world)
    again = _finalize(world, first.attempt_id, key=first.storage_key)
    assert not again.changed and again.recording_id == first.recording_id
    assert len(audit_entries(world.engine, "recording")) == 1


def test_given_file_grew_when_finalized_again_then_row_updated_and_change_audited(
    world: World,
) -> None:
    first = recorded_call(world)
    with world.storage.path(first.storage_key).open("ab") as fh:
        fh.write(b"\x00" * 1600)
    again = _finalize(world, first.attempt_id, key=first.storage_key)
    assert again.changed and again.size_bytes == (first.size_bytes or 0) + 1600
    entries = audit_entries(world.engine, "recording")
    assert [json.loads(e.payload)["action"] for e in entries] == ["finalized", "updated"]
    assert json.loads(entries[1].payload)["previous"]["sha256"] == first.sha256


def test_given_key_of_another_attempt_or_unknown_attempt_then_error_and_nothing_written(
    world: World,
) -> None:
    attempt_id = add_attempt(world.engine, world.accounts["REC-1"])
    with pytest.raises(ValueError, match="does not name attempt"):
        _finalize(world, attempt_id, key=world.storage.key_for(attempt_id + 1, T0))
    with pytest.raises(LookupError, match="no call attempt 999999"):
        _finalize(world, 999999)
    assert audit_entries(world.engine, "recording") == []


class _UnreadableStorage(DirectoryStorage):
    def sha256(self, key: str) -> str:
        raise PermissionError(13, "Permission denied")


def test_given_unreadable_file_when_finalized_then_failed_with_reason(world: World) -> None:
    failed = _metric("cobrador_recordings_failed_total", campaign="mora", reason="unreadable")
    attempt_id = add_attempt(world.engine, world.accounts["REC-1"])
    storage = _UnreadableStorage(world.storage.root)
    key = storage.key_for(attempt_id, T0)
    storage.ensure_dir(key).write_bytes(b"RIFF....")
    result = finalize_recording(
        world.engine, storage, attempt_id=attempt_id, key=key, started_at=T0,
        ended_at=T0 + timedelta(seconds=30), now=T0 + timedelta(seconds=31),
    )  # fmt: skip
    assert result.status == "failed"
    assert result.failure_reason == "unreadable: PermissionError: Permission denied"
    assert _metric("cobrador_recordings_failed_total", campaign="mora", reason="unreadable") == (
        failed + 1
    )
