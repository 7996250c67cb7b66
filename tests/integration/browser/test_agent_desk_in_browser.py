"""The collector's desk in Chromium: who answered decides what the screen shows
(a third party never sees the debt; the verified titular does)."""

from __future__ import annotations

from typing import Any

from browser_harness import DialerDouble
from console_fixtures import Seed
from sqlalchemy import Engine
from test_console_in_browser import logged_in_page

from cobrador.settings import Settings

DEBT_FACTS = ("12,500", "12500", "12.500", "Financiera Ejemplo", "BBVA", "MX-0001")


def shown(page: Any) -> str:
    """Everything visible on the page (hidden elements are not read out by anyone)."""
    return str(page.locator("body").inner_text())


def verify_titular(page: Any) -> None:
    page.click('[data-flow-party="titular"]')
    page.fill('input[name="answer_full_name"]', "María López Hernández")
    page.fill('input[name="answer_account_last4"]', "0001")
    page.click("#btn-verify")


def test_given_third_party_answers_when_agent_follows_the_flow_then_no_debt_on_screen_until_titular_verified(
    browser: Any, console_url: str, seeded: Seed, engine: Engine, settings: Settings
) -> None:
    from playwright.sync_api import expect

    agent = logged_in_page(browser, console_url, "ana")
    expect(agent.locator("#ws-status")).to_have_text("Conectado")
    agent.click("#btn-ready")
    expect(agent.locator("#state-name")).to_have_text("Disponible")
    DialerDouble(engine, settings.redis_url or "", "mx-demo").answer(seeded.account_id)
    expect(agent.locator("#pop-name")).to_have_text("María López Hernández")
    # Whoever answers: the opening asks for the debtor; nothing about the debt.
    expect(agent.locator("#pop-opening")).to_contain_text(
        "¿Podría comunicarme con María López Hernández?"
    )
    expect(agent.locator("#pop-balance")).to_have_text("Se muestra al verificar la identidad")
    for fact in DEBT_FACTS:
        assert fact not in shown(agent), fact

    agent.click('[data-flow-party="tercero"]')
    expect(agent.locator("#third-party-script")).to_contain_text("¿Podría dejarle un recado")
    expect(agent.locator('input[name="party"][value="tercero"]')).to_be_checked()
    for fact in DEBT_FACTS:
        assert fact not in shown(agent), fact
    # Nor anywhere in the page's DOM (hidden text can be revealed): the pop did not carry it.
    assert "12500" not in agent.content() and "Financiera Ejemplo" not in agent.content()

    # The titular comes to the phone: wrong answers show nothing, right ones the debt.
    agent.click('[data-flow-party="titular"]')
    agent.fill('input[name="answer_full_name"]', "María López Hernández")
    agent.fill('input[name="answer_account_last4"]', "1234")
    agent.click("#btn-verify")
    expect(agent.locator("#verify-msg")).to_contain_text("no hable de la deuda")
    assert "12500" not in agent.content()
    verify_titular(agent)
    expect(agent.locator("#pop-balance")).to_contain_text("MXN")
    expect(agent.locator("#pop-script")).to_contain_text(
        "Le llamamos en nombre de Financiera Ejemplo."
    )
    expect(agent.locator("#pop-payment")).to_contain_text("BBVA")
    # Back to "Tercero" (the titular handed the phone over): the debt leaves the screen.
    agent.click('[data-flow-party="tercero"]')
    expect(agent.locator("#pop-balance")).to_have_text("Se muestra al verificar la identidad")
    assert "Financiera Ejemplo" not in shown(agent)
    agent.context.close()
