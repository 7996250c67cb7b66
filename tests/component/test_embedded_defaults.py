"""The README's commands on embedded defaults: no environment, a relative data dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cobrador.cli import main


@pytest.fixture
def bare_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty working directory and no cobrador setting in the environment."""
    for name in ("DATABASE_URL", "REDIS_URL", "COBRADOR_CONFIG", "COBRADOR_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_given_no_environment_when_registry_imported_then_status_runs_on_relative_data_dir(
    bare_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (bare_env / "reus.txt").write_text("+525512345678\n")
    assert main(["registry", "import", "--name", "reus", "reus.txt", "--country", "MX"]) == 0
    capsys.readouterr()
    assert main(["registry", "status"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["name"] == "reus" and status["in_force"] is True
    assert (bare_env / "cobrador-data" / "redis" / "embedded.aof").exists()


def test_given_embedded_redis_cannot_start_then_its_own_error_line_and_no_traceback(
    bare_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (bare_env / "cobrador-data" / "redis" / "redis.log").mkdir(parents=True)
    assert main(["registry", "status"]) == 2
    err = capsys.readouterr().err
    assert "embedded redis-server did not start" in err
    assert "Can't open the log file" in err and "Traceback" not in err
