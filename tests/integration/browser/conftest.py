"""Fixtures for the browser tests: Chromium (Debian's), the console process, seed data."""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from cobrador.ground.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "component" / "console"))

from browser_harness import (  # noqa: E402
    EXPECT_TIMEOUT_MS,
    console_process,
    launch_spanish_chromium,
)
from console_fixtures import Seed, seed_data  # noqa: E402


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium in Mexican Spanish, as the agents' and the debtors' are: a date input
    shows dd/mm/aaaa (an English Chromium showed the plan's first payment as 12/01/2026
    on a Spanish page, in the README's screenshot too)."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)

    with sync_playwright() as pw:
        chromium = launch_spanish_chromium(pw)
        yield chromium
        chromium.close()


@pytest.fixture
def seeded(engine: Engine) -> Seed:
    return seed_data(engine)


@pytest.fixture
def console_url(settings: Settings, seeded: Seed) -> Iterator[str]:
    env = {
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "COBRADOR_DATA_DIR": str(settings.data_dir),
        "COBRADOR_CONSOLE_SECRET": base64.urlsafe_b64encode(b"b" * 32).decode(),
    }
    with console_process(env) as url:
        yield url
