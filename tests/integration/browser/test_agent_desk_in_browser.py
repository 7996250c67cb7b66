"""The collector's desk in Chromium: who answered decides what the screen shows
(a third party never sees the debt; the verified titular does)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from browser_harness import DialerDouble
from console_fixtures import Seed
from sqlalchemy import Engine, func, select
from test_console_in_browser import logged_in_page

from cobrador.ground.settings import Settings
from store.db import transaction
from store.models import Account, Callback, PaymentPlan, Promise

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
    # Logged in paused by the system: its words, and how to get a call (not "waiting").
    expect(agent.locator("#state-reason")).to_have_text("Recién conectado")
    expect(agent.locator("#waiting-text")).to_have_text(
        "En pausa: pulse «Disponible» para recibir llamadas."
    )
    expect(agent.locator("#waiting .pulse")).to_be_hidden()
    agent.click("#btn-ready")
    expect(agent.locator("#state-name")).to_have_text("Disponible")
    expect(agent.locator("#waiting-text")).to_have_text("Esperando llamada…")
    expect(agent.locator("#waiting .pulse")).to_be_visible()
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


def test_given_the_debtor_hung_up_when_the_agent_is_in_wrap_up_then_no_hang_up_or_transfer_is_offered(
    browser: Any, console_url: str, seeded: Seed, engine: Engine, settings: Settings
) -> None:
    """'Colgar' and 'Transferir' stayed on the pop through the wrap-up ('Cierre'), after
    the call was over; the disposition is what is left to do."""
    from playwright.sync_api import expect

    agent = logged_in_page(browser, console_url, "ana")
    expect(agent.locator("#ws-status")).to_have_text("Conectado")
    agent.click("#btn-ready")
    expect(agent.locator("#state-name")).to_have_text("Disponible")
    dialer = DialerDouble(engine, settings.redis_url or "", "mx-demo")
    dialer.answer(seeded.account_id)
    expect(agent.locator("#state-name")).to_have_text("En llamada")
    expect(agent.locator("#btn-hangup")).to_be_visible()
    expect(agent.locator("#btn-transfer")).to_be_visible()
    dialer.hang_up(seeded.users["ana"])
    expect(agent.locator("#state-name")).to_have_text("Cierre")
    expect(agent.locator("#btn-hangup")).to_be_hidden()
    expect(agent.locator("#btn-transfer")).to_be_hidden()
    expect(agent.locator("#btn-dispo")).to_be_visible()  # the pop stays for the disposition
    # A reload in the wrap-up shows the pop again, still without them.
    agent.reload()
    expect(agent.locator("#pop-name")).to_have_text("María López Hernández")
    expect(agent.locator("#state-name")).to_have_text("Cierre")
    expect(agent.locator("#btn-hangup")).to_be_hidden()
    expect(agent.locator("#btn-transfer")).to_be_hidden()
    # A page that still shows them (another tab, an old page): the server says why.
    answer = agent.evaluate("async () => await Cobrador.api('POST', '/api/agent/hangup')")
    assert answer["status"] == 409, answer
    assert answer["data"]["reason"].startswith("La llamada ya terminó"), answer
    agent.context.close()


def promise(page: Any, amount: str, when: date) -> None:
    page.select_option("#dispo-outcome", "promesa_pago")
    page.fill("#promise-amount", amount)
    page.fill("#promise-date", when.isoformat())
    page.click("#btn-dispo")


def test_given_mx_agent_when_typing_2_450_then_refused_and_2_450_00_read_back_before_saving(
    browser: Any, console_url: str, seeded: Seed, engine: Engine, settings: Settings
) -> None:
    from playwright.sync_api import expect

    agent = logged_in_page(browser, console_url, "ana")
    expect(agent.locator("#ws-status")).to_have_text("Conectado")
    agent.click("#btn-ready")
    expect(agent.locator("#state-name")).to_have_text("Disponible")
    DialerDouble(engine, settings.redis_url or "", "mx-demo").answer(seeded.account_id)
    verify_titular(agent)
    expect(agent.locator("#pop-balance")).to_have_text("$12,500.00 MXN")
    expect(agent.locator("#promise-format")).to_contain_text("2,450.00")
    day = datetime.now(ZoneInfo("America/Mexico_City")).date() + timedelta(days=3)
    promise(agent, "2.450", day)
    expect(agent.locator('[data-error="promise_amount"]')).to_contain_text("«2.450» es ambiguo")
    agent.fill("#promise-amount", "2,450")
    agent.click("#btn-dispo")
    expect(agent.locator("#promise-readback")).to_contain_text("$2,450.00 MXN")
    with transaction(engine) as session:
        assert session.scalar(select(Promise)) is None  # not before the read-back
    agent.click("#btn-promise-confirm")
    expect(agent.locator("#dispo-msg")).to_have_text(SAVED_IN_CALL)
    with transaction(engine) as session:
        saved = session.scalar(select(Promise))
        assert saved is not None and saved.amount == Decimal("2450.00")
    agent.context.close()


def test_given_co_account_when_typing_1_500_50_then_1500_50_cop_saved(
    browser: Any, console_url: str, seeded: Seed, engine: Engine, settings: Settings
) -> None:
    from playwright.sync_api import expect

    with transaction(engine) as session:
        account = session.get(Account, seeded.account_id)
        assert account is not None
        account.country, account.currency, account.timezone = "CO", "COP", "America/Bogota"
    agent = logged_in_page(browser, console_url, "ana")
    expect(agent.locator("#ws-status")).to_have_text("Conectado")
    agent.click("#btn-ready")
    expect(agent.locator("#state-name")).to_have_text("Disponible")
    DialerDouble(engine, settings.redis_url or "", "mx-demo").answer(seeded.account_id)
    verify_titular(agent)
    expect(agent.locator("#pop-balance")).to_have_text("$12.500,00 COP")
    day = datetime.now(ZoneInfo("America/Bogota")).date() + timedelta(days=3)
    promise(agent, "1.500,50", day)
    expect(agent.locator("#promise-readback")).to_contain_text("$1.500,50 COP")
    agent.click("#btn-promise-confirm")
    expect(agent.locator("#dispo-msg")).to_have_text(SAVED_IN_CALL)
    with transaction(engine) as session:
        saved = session.scalar(select(Promise))
        assert saved is not None and saved.amount == Decimal("1500.50") and saved.currency == "COP"
    agent.context.close()


# A disposition saved with the debtor still on the line (the dialer double never hangs
# up unless told): the agent stays on the call (console/live_contact.py).
SAVED_IN_CALL = "Tipificación guardada. La llamada sigue en curso: al colgar empieza el cierre."


RAW_CODES = ("promesa_pago", "volver_llamar", "numero_equivocado", "sin_contacto", "no_contactar",
             "no_answer", "busy", "failed", "machine", "abandoned", "early_hangup", "contact",
             "blocked", "cancelled", "lost", "not_placed", "break", "outside_hours")  # fmt: skip


def raw_codes_shown(page: Any) -> list[str]:
    text = shown(page)
    return [code for code in RAW_CODES if re.search(rf"(?<![\w/]){code}(?![\w])", text)]


def next_workday(zone: str) -> date:
    """Tomorrow in the debtor's zone, or the next day that is not a Mexican holiday."""
    import holidays

    day = datetime.now(ZoneInfo(zone)).date() + timedelta(days=1)
    while day in holidays.country_holidays("MX", years=day.year):
        day += timedelta(days=1)
    return day


def test_given_quintana_roo_debtor_with_cdmx_number_when_scheduling_11_then_cancun_and_listed_at_11(
    browser: Any, console_url: str, seeded: Seed, engine: Engine, settings: Settings
) -> None:
    from playwright.sync_api import expect

    with transaction(engine) as session:
        account = session.get(Account, seeded.account_id)
        assert account is not None
        account.timezone, account.region = None, "ROO"  # the number stays +52 55 (CDMX)
    agent = logged_in_page(browser, console_url, "ana")
    expect(agent.locator("#ws-status")).to_have_text("Conectado")
    agent.click("#btn-ready")
    expect(agent.locator("#state-name")).to_have_text("Disponible")
    dialer = DialerDouble(engine, settings.redis_url or "", "mx-demo")
    dialer.answer(seeded.account_id)
    # The zone as the agent names it (console/debtor_locale.py's zone_label), not its IANA id.
    expect(agent.locator('[data-field="local_time.zone"]')).to_have_text("Cancún")
    cancun_now = datetime.now(ZoneInfo("America/Cancun"))
    shown_time = agent.locator('[data-field="local_time.time"]').inner_text()
    assert abs(
        int(shown_time[:2]) * 60 + int(shown_time[3:]) - (cancun_now.hour * 60 + cancun_now.minute)
    ) in (0, 1, 1439)
    expect(agent.locator("#pop-attempts")).to_contain_text("(Cancún)")
    expect(agent.locator("#callback-zone")).to_have_text("Cancún")

    agent.click('[data-flow-party="titular"]')
    agent.select_option("#dispo-outcome", "volver_llamar")
    day = next_workday("America/Cancun")
    agent.fill("#callback-at", f"{day.isoformat()}T11:00")
    agent.click("#btn-dispo")
    expect(agent.locator("#dispo-msg")).to_have_text(SAVED_IN_CALL)
    # Listed as agreed with the debtor: 11:00 in their zone, labelled.
    shown_day = format_date(day, "medium", locale="es_MX")  # "26 nov 2026"
    expect(agent.locator("#callbacks")).to_contain_text(f"{shown_day}, 11:00")
    expect(agent.locator("#callbacks")).to_contain_text("Cancún")
    expect(agent.locator("#history")).to_contain_text("(Cancún)")
    assert "America/" not in shown(agent)
    expect(agent.locator("#history")).to_contain_text("Volver a llamar")
    with transaction(engine) as session:
        callback = session.scalar(select(Callback))
        assert callback is not None
        due = callback.due_at if callback.due_at.tzinfo else callback.due_at.replace(tzinfo=UTC)
        assert due.astimezone(ZoneInfo("America/Cancun")).hour == 11

    # A pause with a coded reason, once the call is over (asked in the call it would be
    # kept for after it): the person reads its label, never the code.
    dialer.hang_up(seeded.users["ana"])
    expect(agent.locator("#state-name")).to_have_text("Cierre")
    agent.select_option("#pause-reason", "break")
    agent.click("#btn-pause")
    expect(agent.locator("#state-reason")).to_have_text("Descanso")
    assert raw_codes_shown(agent) == []
    agent.context.close()


def plan_terms(page: Any, instalments: int, discount: str, first: date) -> None:
    page.select_option("#dispo-outcome", "convenio")
    page.fill("#plan-discount", discount)
    page.fill("#plan-instalments", str(instalments))
    page.select_option("#plan-interval", "monthly")
    page.fill("#plan-first-date", first.isoformat())


def test_given_six_instalments_within_rules_then_six_promises_and_a_larger_discount_waits_for_supervisor(
    browser: Any, console_url: str, seeded: Seed, engine: Engine, settings: Settings
) -> None:
    from playwright.sync_api import expect

    agent = logged_in_page(browser, console_url, "ana")
    expect(agent.locator("#ws-status")).to_have_text("Conectado")
    agent.click("#btn-ready")
    expect(agent.locator("#state-name")).to_have_text("Disponible")
    dialer = DialerDouble(engine, settings.redis_url or "", "mx-demo")
    dialer.answer(seeded.account_id)
    verify_titular(agent)
    expect(agent.locator("#pop-balance")).to_have_text("$12,500.00 MXN")
    first = datetime.now(ZoneInfo("America/Mexico_City")).date() + timedelta(days=5)
    plan_terms(agent, 6, "0", first)
    expect(agent.locator("#plan-limits")).to_contain_text("descuento hasta 10 %")
    agent.click("#btn-plan-preview")
    expect(agent.locator("#plan-schedule tr")).to_have_count(6)
    expect(agent.locator("#plan-summary")).to_contain_text("Total $12,500.00 MXN")
    expect(agent.locator("#plan-approval")).to_be_hidden()
    agent.click("#btn-dispo")
    expect(agent.locator("#plan-readback")).to_contain_text("6 pagos (mensual) de $2,083.33 MXN")
    with transaction(engine) as session:
        assert session.scalar(select(Promise)) is None  # not before the read-back
    agent.click("#btn-plan-confirm")
    expect(agent.locator("#dispo-msg")).to_have_text(SAVED_IN_CALL)
    with transaction(engine) as session:
        promises = session.scalars(select(Promise).order_by(Promise.due_date)).all()
        assert len(promises) == 6 and promises[0].due_date == first
        assert sum(p.amount for p in promises) == Decimal("12500.00")
    dialer.hang_up(seeded.users["ana"])  # the debtor hangs up: the wrap-up begins
    expect(agent.locator("#state-name")).to_have_text("Cierre")

    # The next debtor asks for 20 % off: above the agent's 10 %, it waits for a supervisor.
    agent.click("#btn-ready")
    expect(agent.locator("#state-name")).to_have_text("Disponible")
    dialer.answer(seeded.other_account_id)
    expect(agent.locator("#pop-name")).to_have_text("Juan Pérez")
    agent.click('[data-flow-party="titular"]')
    agent.fill('input[name="answer_full_name"]', "Juan Pérez")
    agent.fill('input[name="answer_account_last4"]', "0002")
    agent.click("#btn-verify")
    expect(agent.locator("#pop-balance")).to_have_text("$800.00 MXN")
    plan_terms(agent, 1, "20", first)
    agent.click("#btn-plan-preview")
    expect(agent.locator("#plan-approval")).to_contain_text("descuento mayor que el que autoriza")
    agent.click("#btn-dispo")
    expect(agent.locator("#plan-readback")).to_contain_text("un pago de $640.00 MXN")
    expect(agent.locator("#plan-readback")).to_contain_text("aprobación de un supervisor")
    agent.click("#btn-plan-confirm")
    expect(agent.locator("#dispo-msg")).to_contain_text("espera la aprobación de un supervisor")
    with transaction(engine) as session:
        plans = session.scalars(select(PaymentPlan).order_by(PaymentPlan.id)).all()
        assert [p.status for p in plans] == ["active", "pending"]
        assert session.scalar(select(func.count(Promise.id))) == 6

    supervisor = logged_in_page(browser, console_url, "sofia")
    row = supervisor.locator("#plans-table tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Juan Pérez")
    expect(row).to_contain_text("20 %")
    row.locator('button[value="approve"]').click()
    expect(supervisor.locator(".alert-ok")).to_have_text("Plan aprobado: sus pagos son promesas.")
    expect(supervisor.locator("#plans")).to_contain_text("Ningún plan espera aprobación.")
    with transaction(engine) as session:
        assert session.scalar(select(func.count(Promise.id))) == 7
    agent.context.close()
    supervisor.context.close()
