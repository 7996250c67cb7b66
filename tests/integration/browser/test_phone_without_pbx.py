"""The agent page where no real Asterisk is configured (pbxsim, the demo): the
phone card says so, its controls are hidden, going ready and the pop still work."""

from __future__ import annotations

from typing import Any

from browser_harness import DialerDouble
from console_fixtures import Seed
from sqlalchemy import Engine
from support.screenshots import FLOOR_BROWSER
from test_console_in_browser import logged_in_page

from cobrador.ground.settings import Settings


def test_given_no_web_phone_when_agent_works_then_card_says_simulated_pbx_and_calls_still_pop(
    browser: Any, console_url: str, seeded: Seed, engine: Engine, settings: Settings
) -> None:
    from playwright.sync_api import expect

    agent = logged_in_page(browser, console_url, "ana")
    expect(agent.locator("#phone-reason")).to_have_text("Sin teléfono web: PBX simulado.")
    expect(agent.locator("#phone-status")).to_have_text("Teléfono web no disponible")
    expect(agent.locator("#phone-controls")).to_be_hidden()
    agent.click("#btn-ready")
    expect(agent.locator("#state-name")).to_have_text("Disponible")
    DialerDouble(engine, settings.redis_url or "", "mx-demo").answer(seeded.account_id)
    expect(agent.locator("#pop-name")).to_have_text("María López Hernández")
    assert agent.evaluate("window.cobradorPhone.state.registration") == "unavailable"


def test_given_phone_bundle_not_built_when_no_web_phone_then_page_still_says_simulated_pbx(
    browser: Any, console_url: str, seeded: Seed
) -> None:
    from console_fixtures import PASSWORD
    from playwright.sync_api import expect
    from test_console_in_browser import VIEWPORT

    context = browser.new_context(viewport=VIEWPORT, **FLOOR_BROWSER)
    page = context.new_page()
    # A checkout where `make` could not build static/phone.js (no node).
    page.route("**/static/phone.js", lambda route: route.fulfill(status=404, body=""))
    page.goto(f"{console_url}/login")
    page.fill("#username", "ana")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#phone-reason")).to_have_text("Sin teléfono web: PBX simulado.")
    expect(page.locator("#phone-controls")).to_be_hidden()
    page.click("#btn-ready")
    expect(page.locator("#state-name")).to_have_text("Disponible")
