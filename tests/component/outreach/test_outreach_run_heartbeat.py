"""`cobrador outreach run --heartbeat FILE`: the file is touched after each pass that
completes, so a container's health check (docker-compose's outreach service) sees a
scheduler whose loop stopped or whose passes fail."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cobrador.cli import main
from cobrador.ground.settings import Settings
from outreach.checks import ConsentedAddresses
from outreach.scheduler import Report, Scheduler


def run(monkeypatch: pytest.MonkeyPatch, settings: Settings, *argv: str) -> int:
    monkeypatch.setenv("DATABASE_URL", settings.database_url or "")
    monkeypatch.setenv("REDIS_URL", settings.redis_url or "")
    monkeypatch.setenv("COBRADOR_PORTAL_LINK_SECRET", "")
    return main(["outreach", "run", *argv])


def test_given_a_heartbeat_file_when_a_pass_completes_then_it_is_touched(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    heartbeat = tmp_path / "outreach-heartbeat"
    heartbeat.touch()
    os.utime(heartbeat, (0, 0))  # as old as can be

    assert run(monkeypatch, settings, "--once", "--heartbeat", str(heartbeat)) == 0

    assert heartbeat.stat().st_mtime > 0


def test_given_a_heartbeat_in_a_directory_that_does_not_exist_then_exit_2_naming_it(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, engine: Engine, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    missing = tmp_path / "nowhere"

    assert run(monkeypatch, settings, "--once", "--heartbeat", str(missing / "beat")) == 2

    err = capsys.readouterr().err
    assert f"there is no directory {missing}" in err
    assert not missing.exists()


async def test_given_passes_that_fail_when_running_then_the_heartbeat_is_not_beaten(
    engine: Engine,
) -> None:
    """A pass that raises (the database away) is logged and the loop goes on, but it is
    no sign of health: only completed passes beat."""
    scheduler = Scheduler(engine, None, {}, ConsentedAddresses(), link_secret=b"")  # type: ignore[arg-type]
    outcomes = iter([None, RuntimeError("database away"), RuntimeError("still away")])
    stop = asyncio.Event()
    beats: list[int] = []
    passes: list[int] = []

    async def run_once() -> Report:
        passes.append(1)
        outcome = next(outcomes, None)
        if len(passes) == 3:
            stop.set()
        if outcome is not None:
            raise outcome
        return Report()

    scheduler.run_once = run_once  # type: ignore[method-assign]
    await scheduler.run(stop, period=0.0, on_pass=lambda: beats.append(len(passes)))

    assert len(passes) == 3
    assert beats == [1]
