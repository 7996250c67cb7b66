"""An agent's Chromium left in English on the Spanish console: a date input shows
mm/dd/yyyy (Chromium takes the order from its own UI language, not from the page),
so beside it the chosen day is written out in the console's language; and the
"¿Con quién habló?" radio buttons line up, one size, whatever their labels' lengths."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from browser_harness import DialerDouble, launch_english_chromium
from console_fixtures import PASSWORD, Seed
from sqlalchemy import Engine
from test_agent_desk_in_browser import plan_terms, verify_titular

from cobrador.ground.settings import Settings


@pytest.fixture(scope="module")
def english_chromium(playwright_driver: Any) -> Iterator[Any]:
    """A Chromium of its own for this module, on the browser tests' Playwright driver."""
    chromium = launch_english_chromium(playwright_driver.playwright())
    yield chromium
    chromium.close()


@pytest.fixture
def english_browser(english_chromium: Any) -> Iterator[Any]:
    """As `browser` (conftest.py): the contexts a test leaves open are closed when it ends."""
    yield english_chromium
    for context in english_chromium.contexts:
        context.close()


def agent_on_a_verified_call(browser: Any, base: str, engine: Engine, settings: Settings,
                             seed: Seed, lang: str) -> Any:  # fmt: skip
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US",
                                  timezone_id="America/Mexico_City")  # fmt: skip
    page = context.new_page()
    page.goto(f"{base}/login?lang={lang}")
    page.fill("#username", "ana")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    page.click("#btn-ready")
    expect(page.locator("#state-card")).to_have_attribute("data-state", "ready")
    DialerDouble(engine, settings.redis_url or "", "mx-demo").answer(seed.account_id)
    verify_titular(page)
    expect(page.locator("#pop-balance")).to_have_text("$12,500.00 MXN")
    return page


@pytest.mark.parametrize(
    ("lang", "first_day", "callback"),
    [
        ("es", "martes, 1 de diciembre de 2026", "miércoles, 2 de diciembre de 2026"),
        ("en", "Tuesday, December 1, 2026", "Wednesday, December 2, 2026"),
    ],
)
def test_given_an_english_browser_when_a_date_is_picked_then_written_out_in_the_console_language(
    english_browser: Any, console_url: str, seeded: Seed, engine: Engine, settings: Settings,
    lang: str, first_day: str, callback: str,
) -> None:  # fmt: skip
    from playwright.sync_api import expect

    page = agent_on_a_verified_call(english_browser, console_url, engine, settings, seeded, lang)
    plan_terms(page, 6, "0", date(2026, 12, 1))
    expect(page.locator("#plan-first-date-words")).to_have_text(first_day)
    page.select_option("#dispo-outcome", "volver_llamar")
    page.fill("#callback-at", "2026-12-02T11:00")
    expect(page.locator("#callback-at-words")).to_contain_text(callback)
    expect(page.locator("#callback-at-words")).to_contain_text("11:00")  # 24-hour, no AM
    # Emptied: no words left behind for a day no longer chosen.
    page.fill("#callback-at", "")
    expect(page.locator("#callback-at-words")).to_have_text("")
    expect(page.locator("#callback-at-words")).to_be_hidden()
    page.context.close()


def test_given_the_outcome_form_when_shown_then_the_party_radios_are_one_size_and_centred(
    english_browser: Any, console_url: str, seeded: Seed, engine: Engine, settings: Settings
) -> None:
    page = agent_on_a_verified_call(english_browser, console_url, engine, settings, seeded, "es")
    boxes = []
    for label in page.locator("#dispo-form fieldset .choice").all():
        radio = label.locator('input[type="radio"]').bounding_box()
        outer = label.bounding_box()
        assert radio is not None and outer is not None
        boxes.append((radio, outer))
    assert len(boxes) == 4  # titular, aval, tercero, nadie
    sizes = {(round(r["width"]), round(r["height"])) for r, _ in boxes}
    assert len(sizes) == 1, sizes  # ".form input { width: 100% }" stretched each differently
    ((width, height),) = sizes
    assert 12 <= width <= 20 and width == height
    for radio, outer in boxes:
        # At the same place in every box: the same inset from its left edge, centred.
        assert abs((radio["x"] - outer["x"]) - (boxes[0][0]["x"] - boxes[0][1]["x"])) < 1
        centre, box_centre = radio["y"] + radio["height"] / 2, outer["y"] + outer["height"] / 2
        assert abs(centre - box_centre) < 1.5
    # The boxes of one row share their top and their height.
    rows: dict[int, set[int]] = {}
    for _, outer in boxes:
        rows.setdefault(round(outer["y"]), set()).add(round(outer["height"]))
    assert all(len(heights) == 1 for heights in rows.values()), rows
    page.context.close()
