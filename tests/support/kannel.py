"""A real Kannel (Debian's bearerbox and smsbox) bound over SMPP to an SMSC the test
runs, for the SMS integration tests. A missing Kannel skips, and fails under
COBRADOR_REQUIRE_INTEGRATION=1 (CI installs it: scripts/ci-deps.d/50-kannel)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gateways.kannel import KannelBoxes
from support.ports import free_port

SBIN = Path("/usr/sbin")


def kannel_binaries() -> tuple[str, str]:
    found = [shutil.which(name) or (str(SBIN / name) if (SBIN / name).exists() else None)
             for name in ("bearerbox", "smsbox")]  # fmt: skip
    if None in found:
        message = "Kannel is not installed: run scripts/ci-deps (Debian's kannel package)"
        if os.environ.get("COBRADOR_REQUIRE_INTEGRATION") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return found[0], found[1]  # type: ignore[return-value]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def running_kannel(directory: Path, *, smsc_port: int, smsc_username: str, smsc_password: str,
                   mo_url: str) -> Iterator[KannelBoxes]:  # fmt: skip
    """bearerbox then smsbox on free ports; stopped (killed if slow) on exit. The
    caller waits for the SMSC's bind; the sendsms port is open when this yields."""
    bearerbox, smsbox = kannel_binaries()
    boxes = KannelBoxes(directory, free_port(), free_port(), free_port(), smsc_port,
                        smsc_username, smsc_password, "cobrador", "sendsms-secret", mo_url)  # fmt: skip
    config = str(boxes.write())
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(subprocess.Popen([bearerbox, config], stdout=subprocess.DEVNULL,
                                      stderr=(directory / "bearerbox.stderr").open("wb")))  # fmt: skip
        _wait(lambda: _listening(boxes.smsbox_port), procs, "bearerbox's smsbox port", directory)
        procs.append(subprocess.Popen([smsbox, config], stdout=subprocess.DEVNULL,
                                      stderr=(directory / "smsbox.stderr").open("wb")))  # fmt: skip
        _wait(lambda: _listening(boxes.sendsms_port), procs, "smsbox's sendsms port", directory)
        yield boxes
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM)
        for proc in reversed(procs):
            try:
                proc.wait(2)
            except subprocess.TimeoutExpired:  # bearerbox waits 30 s for its threads
                proc.kill()
                proc.wait(5)


def _wait(ready, procs: list[subprocess.Popen[bytes]], what: str, directory: Path) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 30
    while not ready():
        for proc in procs:
            if proc.poll() is not None:
                logs = "\n".join(p.read_text(errors="replace")[-2000:]
                                 for p in sorted(directory.glob("*.log")) + sorted(directory.glob("*.stderr")))  # fmt: skip
                raise AssertionError(f"Kannel exited before {what} opened:\n{logs}")
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in 30 s: {what}")
        time.sleep(0.05)
