"""Inbound calls on the agent page (console/static/inbound.js) in Chromium: debtors
call the campaign's number on pbxsim, the FastAGI inbound route gives the call to
the ready agent, and the page shows only names until the caller's identity is
verified with the campaign's prompts."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from browser_harness import PbxsimFloor
from console_fixtures import PASSWORD, Seed
from sqlalchemy import Engine, select
from support.screenshots import FLOOR_BROWSER

from cobrador.ground.settings import Settings
from store.db import transaction
from store.models import Account, AuditEntry, CallAttempt, Campaign, Phone

JUAN_NUMBER = "+525512340002"  # Juan Pérez's phone (seed), shared with Rosa below


def prepare(engine: Engine, seeded: Seed) -> int:
    """Verification prompts in the campaign's settings, the answers on the accounts, and
    a second debtor (Rosa) on Juan's number. Returns Rosa's account id."""
    with transaction(engine) as s:
        campaign = s.get(Campaign, seeded.campaign_id)
        assert campaign is not None
        campaign.config = {
            **(campaign.config or {}),
            "inbound": {"verification": ["account_last4", "birth_date"]},
            "recording": "on_demand",
        }
        for account_id, born in ((seeded.account_id, "1985-03-14"),
                                 (seeded.other_account_id, "1990-07-02")):  # fmt: skip
            account = s.get(Account, account_id)
            assert account is not None
            account.custom_fields = {"birth_date": born}
        rosa = Account(external_ref="MX-0003", debtor_name="Rosa Martínez Díaz", country="MX",
                       timezone="America/Mexico_City", balance=Decimal("4300.00"), currency="MXN",
                       stage="firm", campaign_id=seeded.campaign_id,
                       custom_fields={"birth_date": "1979-11-30"})  # fmt: skip
        rosa.phones.append(Phone(number_e164=JUAN_NUMBER, consent=True, consent_ref="C-3"))
        s.add(rosa)
        s.flush()
        return int(rosa.id)


def log_in_ready(page: Any, console_url: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{console_url}/login")
    page.fill("#username", "ana")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#ws-status")).to_have_text("Conectado")
    page.click("#btn-ready")
    expect(page.locator("#state-name")).to_have_text("Disponible")


def visible_text(page: Any) -> str:
    return str(page.locator("body").inner_text())


def answer_prompts(page: Any, last4: str | None, born: str) -> None:
    """`last4` None: the question is not asked (an account found by its reference)."""
    from playwright.sync_api import expect

    last4_box = page.get_by_label("Últimos 4 dígitos de la cuenta")
    if last4 is None:
        expect(last4_box).to_have_count(0)
    else:
        last4_box.fill(last4)
    page.get_by_label("Fecha de nacimiento (AAAA-MM-DD)").fill(born)
    page.get_by_role("button", name="Verificar y abrir la cuenta").click()


def end_call(page: Any, floor: PbxsimFloor, caller: str) -> None:
    """The caller hangs up; the agent records the outcome and is ready again."""
    from playwright.sync_api import expect

    floor.hang_up(caller)
    expect(page.locator("#state-name")).to_have_text("Cierre")
    page.check('input[name="party"][value="titular"]')
    page.select_option("#dispo-outcome", "rehusa")
    # Waited for by its answer: the message's text may still be the last call's (the
    # same words, hidden), and a click on "Disponible" before this save is in is refused
    # ("Tipifique la llamada anterior": failed once in CI).
    with page.expect_response(lambda r: r.url.endswith("/api/agent/disposition")) as saved:
        page.click("#btn-dispo")
    assert saved.value.status == 200
    expect(page.locator("#dispo-msg")).to_have_text("Tipificación guardada.")
    page.click("#btn-ready")
    try:
        expect(page.locator("#state-name")).to_have_text("Disponible")
    except AssertionError as exc:  # say why the console refused (failed once in CI)
        why = page.locator("#state-msg").text_content()
        raise AssertionError(f"not ready; the console said {why!r}") from exc


def test_given_debtors_calling_in_when_agent_verifies_identity_then_account_opens_only_after(
    browser: Any, console_url: str, seeded: Seed, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    rosa = prepare(engine, seeded)
    context = browser.new_context(viewport={"width": 1440, "height": 900}, **FLOOR_BROWSER)
    page = context.new_page()
    log_in_ready(page, console_url)
    panel = page.locator("#inbound")
    candidates = page.locator("#inbound-candidates button")

    with PbxsimFloor(engine, settings.redis_url or "", seeded.campaign_id, tmp_path,
                     dial=False) as floor:  # fmt: skip
        # 1. María calls from her number: one match, only her name until verified.
        caller = floor.inbound_call("+525512340001")
        expect(panel).to_be_visible(timeout=30_000)
        expect(page.locator("#inbound-recording")).to_be_visible()
        expect(panel.locator("h1")).to_have_text("Llamada entrante")
        expect(page.locator("#inbound-ani")).to_have_text("Número identificado")
        expect(candidates).to_have_text(["María López Hernández · MX•••••"])
        expect(page.locator("#inbound-chosen")).to_have_text("María López Hernández · MX•••••")
        expect(page.locator("#inbound-prompts label")).to_have_text(
            ["Últimos 4 dígitos de la cuenta", "Fecha de nacimiento (AAAA-MM-DD)"]
        )
        expect(page.locator("#pop")).to_be_hidden()
        expect(page.locator("#state-name")).to_have_text("En llamada")
        shown = visible_text(page)
        assert "MX-0001" not in shown and "12,500" not in shown and "12500" not in shown
        answer_prompts(page, "0001", "1985-03-15")  # a wrong date: nothing opens
        expect(page.locator("#inbound-msg")).to_have_text(
            "Los datos no coinciden; no se muestra la cuenta."
        )
        expect(page.locator("#pop")).to_be_hidden()
        answer_prompts(page, "0001", "1985-03-14")
        expect(page.locator("#pop")).to_be_visible()
        expect(panel).to_be_hidden()
        expect(page.locator("#pop-name")).to_have_text("María López Hernández")
        expect(page.locator("#pop-kind")).to_have_text("Llamada entrante")
        expect(page.locator("#pop [data-field='account.ref']")).to_have_text("MX-0001")
        expect(page.locator("#pop-balance")).to_contain_text("12,500.00 MXN")
        end_call(page, floor, caller)

        # 2. Juan's number, which Rosa shares: both listed masked, nothing chosen yet.
        caller = floor.inbound_call(JUAN_NUMBER)
        expect(panel).to_be_visible(timeout=30_000)
        expect(page.locator("#inbound-ani")).to_have_text("Número identificado")
        expect(candidates).to_have_text(["Juan Pérez · MX•••••", "Rosa Martínez Díaz · MX•••••"])
        expect(page.locator("#inbound-verify")).to_be_hidden()
        expect(page.locator("#pop")).to_be_hidden()
        shown = visible_text(page)
        assert "MX-0002" not in shown and "MX-0003" not in shown and "4,300" not in shown
        candidates.filter(has_text="Rosa Martínez Díaz").click()
        expect(page.locator("#inbound-chosen")).to_have_text("Rosa Martínez Díaz · MX•••••")
        answer_prompts(page, "0003", "1979-11-30")
        expect(page.locator("#pop-name")).to_have_text("Rosa Martínez Díaz")
        expect(page.locator("#pop-kind")).to_have_text("Llamada entrante")
        expect(page.locator("#pop-balance")).to_contain_text("4,300.00 MXN")
        end_call(page, floor, caller)

        # 3. A withheld number: no candidates, the agent searches.
        caller = floor.inbound_call("")
        expect(panel).to_be_visible(timeout=30_000)
        expect(page.locator("#inbound-ani")).to_have_text("Número oculto")
        expect(page.locator("#inbound-candidates")).to_have_text("Sin resultados")
        expect(page.locator("#inbound-search")).to_be_visible()
        expect(page.locator("#inbound-verify")).to_be_hidden()
        # on_demand: the agent may record before any account is open.
        page.get_by_role("button", name="Grabar", exact=True).click()
        expect(page.locator("#inbound-msg")).to_have_text("Enviado.")
        page.get_by_placeholder("Buscar por referencia o teléfono…").fill("MX-0002")
        page.get_by_role("button", name="Buscar", exact=True).click()
        expect(candidates).to_have_text(["Juan Pérez · MX•••••"])
        expect(page.locator("#pop")).to_be_hidden()
        candidates.first.click()
        # Found by the reference the caller gave: its last digits are not asked.
        answer_prompts(page, None, "1990-07-02")
        expect(page.locator("#pop-name")).to_have_text("Juan Pérez")
        expect(page.locator("#pop-kind")).to_have_text("Llamada entrante")
        end_call(page, floor, caller)

    with transaction(engine) as s:
        rows = list(s.scalars(select(CallAttempt).where(CallAttempt.direction == "inbound")
                              .order_by(CallAttempt.id)))  # fmt: skip
        assert [(r.account_id, r.agent_id, r.result) for r in rows] == [
            (seeded.account_id, seeded.users["ana"], "contact"),
            (rosa, seeded.users["ana"], "contact"),
            (seeded.other_account_id, seeded.users["ana"], "contact"),
        ]
        checks = [json.loads(e.payload) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.kind == "identity_check").order_by(AuditEntry.id))]  # fmt: skip
    assert [(c["account_id"], c["passed"]) for c in checks] == [
        (seeded.account_id, False),
        (seeded.account_id, True),
        (rosa, True),
        (seeded.other_account_id, True),
    ]
    context.close()
