"""The same agent flow with the real dial path: pbxsim answers a call placed by
CampaignDialer, the dialer reserves the ready agent and publishes the pop."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from browser_harness import PbxsimFloor
from console_fixtures import PASSWORD, Seed
from sqlalchemy import Engine, select
from support.screenshots import FLOOR_BROWSER

from cobrador.ground.settings import Settings
from store.db import transaction
from store.models import Account, CallAttempt, Promise


def test_given_agent_ready_when_pbxsim_answers_dialer_call_then_pop_and_promise_saved(
    browser: Any, console_url: str, seeded: Seed, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    with transaction(engine) as session:
        # One dialable account, so the call is for María.
        other = session.get(Account, seeded.other_account_id)
        assert other is not None
        other.status = "paid"
    context = browser.new_context(viewport={"width": 1440, "height": 900}, **FLOOR_BROWSER)
    agent = context.new_page()
    agent.goto(f"{console_url}/login")
    agent.fill("#username", "ana")
    agent.fill("#password", PASSWORD)
    agent.click("button[type=submit]")
    expect(agent.locator("#ws-status")).to_have_text("Conectado")
    agent.click("#btn-ready")
    expect(agent.locator("#state-name")).to_have_text("Disponible")

    supervisor = context.browser.new_context(
        viewport={"width": 1440, "height": 900}, **FLOOR_BROWSER
    ).new_page()
    supervisor.goto(f"{console_url}/login")
    supervisor.fill("#username", "sofia")
    supervisor.fill("#password", PASSWORD)
    supervisor.click("button[type=submit]")
    row = supervisor.locator(f'#agents-body tr[data-agent="{seeded.users["ana"]}"]')
    expect(row).to_contain_text("Disponible")

    with PbxsimFloor(engine, settings.redis_url or "", seeded.campaign_id, tmp_path):
        expect(agent.locator("#pop-name")).to_have_text("María López Hernández", timeout=30_000)
        expect(agent.locator("#state-name")).to_have_text("En llamada")
        # The wallboard now shows what the dialer publishes, live.
        expect(row).to_contain_text("En llamada")
        expect(supervisor.locator('[data-kpi="connected"]')).to_have_text("1", timeout=10_000)
        expect(supervisor.locator("#live-note")).to_have_text("")
        local_today = datetime.now(ZoneInfo("America/Mexico_City")).date()
        agent.click('[data-flow-party="titular"]')
        agent.fill('input[name="answer_full_name"]', "María López Hernández")
        agent.fill('input[name="answer_account_last4"]', "0001")
        agent.click("#btn-verify")
        expect(agent.locator("#pop-balance")).to_contain_text("MXN")
        agent.select_option("#dispo-outcome", "promesa_pago")
        agent.fill("#promise-amount", "1800")
        agent.fill("#promise-date", (local_today + timedelta(days=2)).isoformat())
        agent.click("#btn-dispo")
        expect(agent.locator("#promise-readback")).to_contain_text("$1,800.00 MXN")
        agent.click("#btn-promise-confirm")
        expect(agent.locator("#dispo-msg")).to_contain_text("Tipificación guardada.")

    with transaction(engine) as session:
        attempt = session.scalar(
            select(CallAttempt).where(CallAttempt.agent_id == seeded.users["ana"])
        )
        assert attempt is not None and attempt.account_id == seeded.account_id
        promise = session.scalar(select(Promise))
        assert promise is not None and promise.attempt_id == attempt.id
    supervisor.context.close()
    context.close()
