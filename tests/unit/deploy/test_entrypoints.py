"""The app image's entrypoint runs the secrets check before the command."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"


def _run(environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # `python` must be this interpreter, as it is in the image.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        ["sh", str(ENTRYPOINT), "echo", "command ran"],
        env={"PATH": path, **environ},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_given_example_secrets_when_the_container_starts_then_the_command_never_runs() -> None:
    result = _run({"COBRADOR_AMI_SECRET": "EXAMPLE-change-me-ami"})

    assert result.returncode == 2
    assert "command ran" not in result.stdout
    assert "COBRADOR_AMI_SECRET is still the example value" in result.stderr


def test_given_a_required_secret_missing_when_the_container_starts_then_it_stops() -> None:
    result = _run({"COBRADOR_REQUIRED_SECRETS": "COBRADOR_CONSOLE_SECRET"})

    assert result.returncode == 2
    assert "COBRADOR_CONSOLE_SECRET is not set" in result.stderr


def test_given_real_secrets_when_the_container_starts_then_the_command_runs() -> None:
    result = _run(
        {
            "COBRADOR_AMI_SECRET": secrets.token_urlsafe(32),
            "COBRADOR_REQUIRED_SECRETS": "COBRADOR_AMI_SECRET",
        }
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "command ran"
