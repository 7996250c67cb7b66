"""The browser tests' console process: the page a test reads is the console's own.

CI of 7 Dec 2026 failed a browser test whose console had died of "address already in
use": the port free_port() picked was taken by another server before the child bound
it, the harness's connection to that server succeeded, and the test talked to it.
"""

from __future__ import annotations

import base64
import socket
import urllib.request
from collections.abc import Iterator

import browser_harness
import pytest
from console_fixtures import Seed

from cobrador.ground.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def squatter() -> Iterator[socket.socket]:
    """Another server on the machine: a socket listening on a port of its own."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock


def test_given_the_picked_port_taken_when_the_console_starts_then_it_serves_on_another(
    settings: Settings, seeded: Seed, squatter: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = squatter.getsockname()[1]
    picks = iter([taken])
    real = browser_harness.free_port
    # The first port picked for the console is the taken one; every later pick is free.
    monkeypatch.setattr(browser_harness, "free_port", lambda: next(picks, None) or real())
    env = {
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "COBRADOR_DATA_DIR": str(settings.data_dir),
        "COBRADOR_CONSOLE_SECRET": base64.urlsafe_b64encode(b"b" * 32).decode(),
    }
    with browser_harness.console_process(env) as url:
        assert url != f"http://127.0.0.1:{taken}"
        with urllib.request.urlopen(f"{url}/login", timeout=30) as response:
            page = response.read().decode()
    assert response.status == 200
    assert 'id="username"' in page
