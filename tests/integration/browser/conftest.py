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

HERE = Path(__file__).resolve().parent


class _Playwright:
    """Playwright's driver and one Chromium for every browser test in a row, started by
    the first test that asks for them and stopped after the last test of this directory
    (``pytest_runtest_teardown`` below), not at the end of the session: while the sync
    API runs, it marks its event loop as this thread's running loop, and the tests that
    come after (pytest-asyncio's, ``asyncio.run``) could not run theirs."""

    def __init__(self) -> None:
        self._manager: Any = None
        self._playwright: Any = None
        self._chromium: Any = None

    def playwright(self) -> Any:
        if self._playwright is None:
            from playwright.sync_api import expect, sync_playwright

            expect.set_options(timeout=EXPECT_TIMEOUT_MS)
            self._manager = sync_playwright()
            self._playwright = self._manager.start()
        return self._playwright

    def spanish_chromium(self) -> Any:
        if self._chromium is None or not self._chromium.is_connected():  # none yet, or it died
            self._chromium = launch_spanish_chromium(self.playwright())
        return self._chromium

    def stop(self) -> None:
        chromium, manager = self._chromium, self._manager
        self._manager = self._playwright = self._chromium = None
        try:
            if chromium is not None:
                chromium.close()
        finally:
            if manager is not None:
                manager.__exit__(None, None, None)


_PLAYWRIGHT = _Playwright()


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[_Playwright]:
    yield _PLAYWRIGHT
    _PLAYWRIGHT.stop()  # an interrupted run: stopped here at the latest


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """After the test's own fixtures are torn down: Chromium and the driver stop when the
    next test is not a browser test (the next browser test starts them again)."""
    try:
        return (yield)
    finally:
        if nextitem is None or nextitem.path.parent != HERE:
            _PLAYWRIGHT.stop()


@pytest.fixture
def browser(playwright_driver: _Playwright) -> Iterator[Any]:
    """Chromium in Mexican Spanish, as the agents' and the debtors' are: a date input
    shows dd/mm/aaaa (an English Chromium showed the plan's first payment as 12/01/2026
    on a Spanish page, in the README's screenshot too).

    One Chromium process serves the browser tests one after another (launching it took
    seconds per module); each test opens contexts of its own (cookies, storage, pages),
    and every context still open when it ends is closed then, so a test starts with
    none."""
    chromium = playwright_driver.spanish_chromium()
    yield chromium
    for context in chromium.contexts:
        context.close()


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
