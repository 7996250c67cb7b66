"""The console in Chromium: an agent takes a call and saves a promise, the
supervisor watches it live, the auditor finds the promise. (The README's pictures of
the three pages: test_desk_screenshots_in_browser.py.)"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import redis
from browser_harness import DialerDouble
from console_fixtures import PASSWORD, Seed
from sqlalchemy import Engine, select
from support.screenshots import FLOOR_BROWSER

from cobrador.ground.settings import Settings
from dialer.floor import RINGING, SharedFloor
from store.db import transaction
from store.models import Promise

VIEWPORT = {"width": 1440, "height": 900}


def ringing_on_floor(redis_url: str, campaign: str, *, ringing: bool = True) -> None:
    """A dialer's calls in flight as it publishes them (dialer/floor.py): one ringing."""
    client = redis.Redis.from_url(redis_url)
    try:
        floor = SharedFloor(client, campaign, "browser-test")  # type: ignore[arg-type]
        if ringing:
            client.sadd(floor.dialers_key, floor.owner)
            client.set(floor.calls_key(floor.owner), json.dumps([[time.time() - 1, RINGING]]),
                       px=60_000)  # fmt: skip
        else:
            client.delete(floor.calls_key(floor.owner))
            client.srem(floor.dialers_key, floor.owner)
    finally:
        client.close()


def logged_in_page(browser: Any, base: str, username: str) -> Any:
    context = browser.new_context(viewport=VIEWPORT, **FLOOR_BROWSER)
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


def test_given_agent_and_supervisor_when_call_answered_then_pop_promise_saved_and_auditable(
    browser: Any, console_url: str, seeded: Seed, engine: Engine, settings: Settings
) -> None:
    from playwright.sync_api import expect

    supervisor = logged_in_page(browser, console_url, "sofia")
    expect(supervisor.locator("h1")).to_have_text("Tablero en vivo")
    # A moment the wallboard shows (the next account due) carries its zone, named by its
    # city as every page names a zone ("desde las 00:00 de Ciudad de México"), not
    # "GMT-6" or "CST": 16:00 UTC on 5 Dec 2025 is 10:00 in Mexico City.
    shown = supervisor.evaluate("() => Cobrador.when(1764950400)")
    assert shown == "05/12/2025, 10:00 (Ciudad de México)"
    assert supervisor.evaluate("() => Cobrador.hour(1764950400)") == "10:00 (Ciudad de México)"
    # In English too on the 24-hour clock of every time the server renders (%H:%M), never
    # "03:05 PM" beside a server's "15:05": 21:05 UTC is 15:05 in Mexico City.
    english = logged_in_page(browser, console_url, "sofia")
    english.goto(f"{console_url}/supervisor?lang=en")
    expect(english.locator("html")).to_have_attribute("lang", "en")
    assert english.evaluate("() => Cobrador.when(1764968700)") == "12/05/2025, 15:05 (Mexico City)"
    assert english.evaluate("() => Cobrador.hour(1764968700)") == "15:05 (Mexico City)"
    english.context.close()

    agent = logged_in_page(browser, console_url, "ana")
    expect(agent.locator("#ws-status")).to_have_text("Conectado")
    # The supervisor sees the agent appear (logged in paused), then go ready, live.
    row = supervisor.locator(f'#agents-body tr[data-agent="{seeded.users["ana"]}"]')
    expect(row).to_contain_text("En pausa")
    agent.click("#btn-ready")
    expect(agent.locator("#state-name")).to_have_text("Disponible")
    expect(row).to_contain_text("Disponible")

    # A pause asked while a call placed for the floor rings waits for it (pausing):
    # the agent reads why and may take it back; the supervisor reads "Pausando".
    ringing_on_floor(settings.redis_url or "", "mx-demo")
    agent.select_option("#pause-reason", "break")
    agent.click("#btn-pause")
    expect(agent.locator("#state-name")).to_have_text("Pausando")
    expect(agent.locator("#pause-asked-text")).to_contain_text(
        "Pausa solicitada: entrará en pausa cuando terminen las llamadas que ya suenan (máx."
    )
    expect(row).to_contain_text("Pausando")
    agent.click("#btn-pause-cancel")
    expect(agent.locator("#state-name")).to_have_text("Disponible")
    expect(agent.locator("#pause-asked")).to_be_hidden()
    expect(row).to_contain_text("Disponible")
    ringing_on_floor(settings.redis_url or "", "mx-demo", ringing=False)

    dialer = DialerDouble(engine, settings.redis_url or "", "mx-demo")
    dialer.answer(seeded.account_id)
    expect(agent.locator("#pop-name")).to_have_text("María López Hernández")
    # The right party first answers the identity questions; then the debt shows.
    agent.click('[data-flow-party="titular"]')
    agent.fill('input[name="answer_full_name"]', "María López Hernández")
    agent.fill('input[name="answer_account_last4"]', "0001")
    agent.click("#btn-verify")
    expect(agent.locator("#pop-balance")).to_contain_text("MXN")
    expect(agent.locator("#pop-payment")).to_contain_text("BBVA")
    expect(row).to_contain_text("En llamada")

    # A bad amount first: the form says why and nothing is saved.
    local_today = datetime.now(ZoneInfo("America/Mexico_City")).date()
    expect(agent.locator('input[name="party"][value="titular"]')).to_be_checked()
    agent.select_option("#dispo-outcome", "promesa_pago")
    agent.fill("#promise-amount", "99999")
    agent.fill("#promise-date", (local_today + timedelta(days=3)).isoformat())
    agent.click("#btn-dispo")
    expect(agent.locator('[data-error="promise_amount"]')).to_contain_text("mayor que el saldo")
    with transaction(engine) as session:
        assert session.scalar(select(Promise)) is None
    agent.fill("#promise-amount", "2,500")
    agent.fill("#dispo-notes", "Pagará el viernes en ventanilla BBVA.")
    agent.click("#btn-dispo")
    # The amount is read back to the debtor before anything is saved.
    expect(agent.locator("#promise-readback")).to_contain_text("$2,500.00 MXN")
    expect(agent.locator("#dispo-msg")).to_be_hidden()
    agent.click("#btn-promise-confirm")
    # Saved with the debtor still on the line: the agent stays on the call, the pop and
    # Colgar stay, no wrap-up timer runs and Disponible is off (before, the save began
    # the wrap-up and its timer made the agent ready with the debtor in their bridge).
    expect(agent.locator("#dispo-msg")).to_have_text(
        "Tipificación guardada. La llamada sigue en curso: al colgar empieza el cierre."
    )
    expect(agent.locator("#state-name")).to_have_text("En llamada")
    expect(agent.locator("#btn-hangup")).to_be_visible()
    expect(agent.locator("#wrapup")).to_be_hidden()
    expect(agent.locator("#btn-ready")).to_be_disabled()
    expect(agent.locator("#btn-dispo")).to_be_disabled()
    # The debtor hangs up: the wrap-up and its countdown begin, the pop goes.
    dialer.hang_up(seeded.users["ana"])
    expect(agent.locator("#state-name")).to_have_text("Cierre")
    expect(row).to_contain_text("Cierre")
    expect(agent.locator("#wrapup")).to_be_visible()
    expect(agent.locator("#pop")).to_be_hidden()
    expect(agent.locator('[data-fig="promises"]')).to_have_text("1")

    auditor = logged_in_page(browser, console_url, "raul")
    auditor.fill("#f-ref", "MX-0001")
    auditor.click("form.filters button[type=submit]")
    table = auditor.locator("#attempts-table")
    expect(table).to_contain_text("Promesa de pago")
    expect(table).to_contain_text("ana")

    with transaction(engine) as session:
        promise = session.scalar(select(Promise))
        assert promise is not None and str(promise.amount) == "2500.00"
