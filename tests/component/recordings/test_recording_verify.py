"""`audit verify --recordings`: an edited, a truncated and a deleted file are each named."""

from __future__ import annotations

from pathlib import Path

import pytest
from recording_helpers import World, make_world, recorded_call
from sqlalchemy import Engine

from cobrador.cli import main
from store.recordings.storage import DirectoryStorage
from store.recordings.verify import CHANGED, REMOVED, TRUNCATED, verify_recordings


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> World:
    return make_world(engine, tmp_path / "recordings")


def test_given_untouched_files_when_verified_then_ok(world: World) -> None:
    for _ in range(3):
        recorded_call(world)
    result = verify_recordings(world.engine, world.storage)
    assert result.ok and result.checked == 3 and result.problems == []


def test_given_edited_truncated_and_deleted_files_then_each_is_named(world: World) -> None:
    intact, edited, truncated, deleted = (recorded_call(world) for _ in range(4))
    path = world.storage.path
    data = bytearray(path(edited.storage_key).read_bytes())
    data[100] ^= 0xFF  # one byte of audio changed, same size
    path(edited.storage_key).write_bytes(bytes(data))
    with path(truncated.storage_key).open("r+b") as fh:
        fh.truncate(1000)
    path(deleted.storage_key).unlink()

    result = verify_recordings(world.engine, world.storage)

    assert not result.ok and result.checked == 4
    found = {p.recording_id: p for p in result.problems}
    assert set(found) == {edited.recording_id, truncated.recording_id, deleted.recording_id}
    assert found[edited.recording_id].problem == CHANGED
    assert found[edited.recording_id].actual_size == edited.size_bytes
    assert found[truncated.recording_id].problem == TRUNCATED
    assert found[truncated.recording_id].actual_size == 1000
    assert found[deleted.recording_id].problem == REMOVED
    assert intact.recording_id not in found
    assert "CHANGED" in found[edited.recording_id].describe()


def test_given_file_grown_when_verified_then_changed(world: World) -> None:
    grown = recorded_call(world)
    with world.storage.path(grown.storage_key).open("ab") as fh:
        fh.write(b"\x00\x01")
    [problem] = verify_recordings(world.engine, world.storage).problems
    assert problem.problem == CHANGED and problem.actual_size == (grown.size_bytes or 0) + 2


def test_given_cli_when_a_file_was_tampered_then_report_names_it_and_exit_1(
    world: World, settings, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    ok_call, bad_call = recorded_call(world), recorded_call(world)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("COBRADOR_RECORDINGS_DIR", str(world.storage.root))
    assert main(["audit", "verify", "--recordings"]) == 0
    out = capsys.readouterr()
    assert "audit log intact" in out.out and "recordings intact: 2 files" in out.out

    world.storage.path(bad_call.storage_key).unlink()
    assert main(["audit", "verify", "--recordings"]) == 1
    out = capsys.readouterr()
    assert f"recording {bad_call.recording_id} (attempt {bad_call.attempt_id}" in out.err
    assert "REMOVED" in out.err
    assert "recordings NOT intact: 1 of 2 rows, 0 of 1 files (1 removed)" in out.err
    assert str(ok_call.recording_id) + " (" not in out.err


def test_given_missing_row_and_bad_stored_key_then_skipped_or_unreadable(world: World) -> None:
    from datetime import timedelta

    from recording_helpers import T0, add_attempt
    from sqlalchemy import update

    from store.db import transaction
    from store.models import Recording
    from store.recordings.finalize import finalize_recording

    attempt = add_attempt(world.engine, world.accounts["REC-1"])
    finalize_recording(
        world.engine, world.storage, attempt_id=attempt, key=world.storage.key_for(attempt, T0),
        started_at=T0, ended_at=T0 + timedelta(seconds=5), now=T0 + timedelta(seconds=5),
    )  # fmt: skip
    forged = recorded_call(world)
    with transaction(world.engine) as session:  # a row edited to point outside the storage
        session.execute(
            update(Recording)
            .where(Recording.id == forged.recording_id)
            .values(storage_key="../../etc/passwd")
        )
    result = verify_recordings(world.engine, DirectoryStorage(world.storage.root))
    assert result.skipped == 1 and result.checked == 1
    [problem] = result.problems
    assert problem.problem == "unreadable" and "BadKey" in problem.detail


def test_given_recordings_dir_missing_when_verifying_then_exit_1_saying_so(
    world: World, settings, monkeypatch, capsys, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    recorded_call(world)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("COBRADOR_RECORDINGS_DIR", str(tmp_path / "nowhere"))
    assert main(["audit", "verify", "--recordings"]) == 1
    err = capsys.readouterr().err
    assert f"recordings NOT verified: directory {tmp_path / 'nowhere'} does not exist" in err


def test_given_no_recording_ever_stored_and_no_directory_when_verifying_then_intact(
    world: World, settings, monkeypatch, capsys, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("COBRADOR_RECORDINGS_DIR", str(tmp_path / "not-yet"))
    assert main(["audit", "verify", "--recordings"]) == 0
    assert "recordings intact: none stored yet" in capsys.readouterr().out


def test_given_broken_chain_and_intact_recordings_then_exit_1(
    world: World, settings, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    from compliance.transparency.integrator import integrate
    from store.db import transaction
    from store.models import AuditEntry

    recorded_call(world)
    integrate(world.engine)  # an entry still waiting for the log is not evidence yet
    with transaction(world.engine) as session:
        session.execute(update(AuditEntry).values(actor="someone else"))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("COBRADOR_RECORDINGS_DIR", str(world.storage.root))
    assert main(["audit", "verify", "--recordings"]) == 1
    out = capsys.readouterr()
    assert "audit log TAMPERED" in out.err and "recordings intact: 1 files" in out.out


def test_given_files_no_row_names_when_verified_then_each_is_listed_but_a_live_calls_is_not(
    world: World, settings, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    from recording_helpers import T0, add_attempt, write_synthetic_wav
    from sqlalchemy import update

    from store.db import transaction
    from store.models import CallAttempt

    kept = recorded_call(world)
    # A recording whose row was never written (its dialer died before finalizing).
    rowless = add_attempt(world.engine, world.accounts["REC-1"])
    write_synthetic_wav(world.storage.ensure_dir(world.storage.key_for(rowless, T0)), 1.0)
    # A call still in progress: MixMonitor writes, the row comes at the end.
    live = add_attempt(world.engine, world.accounts["REC-2"])
    with transaction(world.engine) as session:
        session.execute(update(CallAttempt).where(CallAttempt.id == live).values(result=None))
    write_synthetic_wav(world.storage.ensure_dir(world.storage.key_for(live, T0)), 1.0)
    # Something put there by hand.
    (world.storage.root / "2026" / "notes.txt").write_text("not a recording")

    result = verify_recordings(world.engine, world.storage)

    assert not result.ok and result.problems == [] and result.checked == 1
    assert (result.files, result.in_progress) == (4, 1)
    found = {u.path: u for u in result.unknown}
    assert set(found) == {world.storage.key_for(rowless, T0), "2026/notes.txt"}
    assert found[world.storage.key_for(rowless, T0)].attempt_id == rowless
    assert kept.storage_key not in found
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("COBRADOR_RECORDINGS_DIR", str(world.storage.root))
    assert main(["audit", "verify", "--recordings"]) == 1
    err = capsys.readouterr().err
    assert f"file {world.storage.key_for(rowless, T0)}: NO ROW (attempt {rowless}" in err
    assert "file 2026/notes.txt: NO ROW (not a recording name" in err
    assert "recordings NOT intact: 0 of 1 rows, 2 of 4 files (2 file without a row)" in err
