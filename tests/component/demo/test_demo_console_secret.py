"""`cobrador demo` on a data dir whose kept console secret (`<data_dir>/console-secret`)
is no key: refused before anything starts, naming the file and what to do; a whole
one, or none yet (made then), starts."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import pytest

from cobrador import demo
from cobrador.cli import main
from cobrador.ground.kept_keys import console_secret_path

STARTED = 42  # what the stubbed demo answers: it got as far as starting


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[demo.Demo]:
    runs: list[demo.Demo] = []

    async def run(self: demo.Demo) -> int:
        runs.append(self)
        return STARTED

    monkeypatch.setattr(demo.Demo, "run", run)
    monkeypatch.delenv("COBRADOR_CONSOLE_SECRET", raising=False)
    return runs


@pytest.mark.parametrize(
    "kept",
    [
        "   \n",  # empty
        base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()[:20],  # cut short
        "this is no base64 at all!",
    ],
    # Named, not by value: a random value made each pytest-xdist worker collect another
    # test id, and the run stopped before any test ("Different tests were collected").
    ids=["empty", "cut_short", "not_base64"],
)
def test_given_a_kept_console_secret_that_is_no_key_when_the_demo_starts_then_refused_naming_it(
    tmp_path: Path, started: list[demo.Demo], capsys: pytest.CaptureFixture[str], kept: str
) -> None:
    path = console_secret_path(tmp_path)
    path.write_text(kept)

    assert main(["demo", "--data-dir", str(tmp_path)]) == 2

    err = capsys.readouterr().err
    assert str(path) in err and ("delete it" in err)
    assert started == []
    assert path.read_text() == kept  # never replaced behind the operator's back


def test_given_a_whole_kept_secret_or_none_when_the_demo_starts_then_it_runs_with_it(
    tmp_path: Path, started: list[demo.Demo]
) -> None:
    assert main(["demo", "--data-dir", str(tmp_path)]) == STARTED  # made now
    made = console_secret_path(tmp_path).read_text().strip()
    assert main(["demo", "--data-dir", str(tmp_path)]) == STARTED  # read back
    assert [run.settings.console_secret for run in started] == [made, made]


def test_given_a_bad_console_secret_in_settings_when_the_demo_starts_then_refused_naming_the_variable(
    tmp_path: Path, started: list[demo.Demo], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("COBRADOR_CONSOLE_SECRET", "too-short")

    assert main(["demo", "--data-dir", str(tmp_path)]) == 2

    assert "(COBRADOR_CONSOLE_SECRET)" in capsys.readouterr().err
    assert started == [] and not console_secret_path(tmp_path).exists()
