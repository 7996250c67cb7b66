"""The agent's, the supervisor's and the auditor's pages in Chromium on a pinned
clock (a Wednesday 10:30 in Mexico City, whatever the hour of the run): no raw
code reaches a person, in Spanish or in English, and the README's screenshots
are taken here (docs/screenshots/)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from browser_harness import DialerDouble, console_process
from console_fixtures import PASSWORD, Seed
from redis import Redis
from sqlalchemy import Engine
from support.dialer_floor import load_reus
from support.screenshots import screenshot_path
from test_agent_desk_in_browser import plan_terms, shown, verify_titular

from cobrador.ground.settings import Settings
from console.wallboard import wallboard_key
from store.db import transaction
from store.models import (
    Account,
    CallAttempt,
    Campaign,
    Decision,
    Disposition,
    PaymentPlan,
    Phone,
)

PINNED = datetime(2026, 11, 25, 16, 30, tzinfo=UTC)  # Wednesday 10:30 in Mexico City
RAW_ES = ("outside_hours", "no_consent", "registry_listed", "login", "break", "contact",
          "no_answer", "promesa_pago", "recado", "numero_equivocado", "sin_contacto",
          "running", "stopped", "predictive", "progressive", "tercero · recado")  # fmt: skip
RAW_EN = tuple(c for c in RAW_ES if "_" in c or "·" in c) + ("recado",)


def logged_in_page(browser: Any, base: str, username: str) -> Any:
    """In Mexico City (the browser's zone: "Mi día" and the figures start at its midnight)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="es-MX",
                                  timezone_id="America/Mexico_City")  # fmt: skip
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


def raw_codes(page: Any, codes: tuple[str, ...]) -> list[str]:
    text = shown(page)
    return [c for c in codes if re.search(rf"(?<![\w/]){re.escape(c)}(?![\w])", text)]


def iso_dates_and_zone_ids(page: Any) -> list[str]:
    """What a person should never have to read aloud: 2026-12-01, America/Mexico_City."""
    return re.findall(r"\b\d{4}-\d{2}-\d{2}\b|\b(?:America|Etc|Europe)/\w+", shown(page))


def no_error_banner(page: Any) -> None:
    from playwright.sync_api import expect

    for banner in page.locator(".alert-error").all():
        expect(banner).to_be_hidden()


@pytest.fixture
def pinned_console(settings: Settings, seeded: Seed) -> Iterator[str]:
    env = {
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "COBRADOR_DATA_DIR": str(settings.data_dir),
        "COBRADOR_CONSOLE_SECRET": base64.urlsafe_b64encode(b"b" * 32).decode(),
    }
    with console_process(env, at=PINNED) as url:
        yield url


def earlier_work(engine: Engine, seed: Seed) -> None:
    """A morning's history: calls, a message left with a third party, blocked decisions,
    another campaign that is idle, a plan waiting for the supervisor, and the first
    debtor's other card (her own number on both: one person)."""
    ana, beto = seed.users["ana"], seed.users["beto"]
    with transaction(engine) as session:
        card = Account(external_ref="MX-0003", debtor_name="María López Hernández", country="MX",
                       timezone="America/Mexico_City", balance=Decimal("3200.00"), currency="MXN",
                       stage="friendly", campaign_id=seed.campaign_id,
                       custom_fields={"product": "tarjeta"})  # fmt: skip
        card.phones.append(Phone(number_e164="+525512340001", consent=True, consent_ref="C-3"))
        session.add(card)
        session.add(Campaign(name="co-cobranza", country="CO", profile="CO"))
        mx = session.get(Campaign, seed.campaign_id)
        assert mx is not None
        mx.status, mx.dial_mode = "running", "predictive"
        for minutes, account, agent, result, party, outcome in (
            (140, seed.other_account_id, beto, "no_answer", None, None),
            (95, seed.other_account_id, beto, "contact", "tercero", "recado"),
            (60, seed.account_id, ana, "contact", "titular", "volver_llamar"),
        ):
            start = PINNED - timedelta(minutes=minutes)
            attempt = CallAttempt(
                account_id=account, campaign_id=seed.campaign_id, agent_id=agent,
                phone_e164="+52551234000" + str(1 if account == seed.account_id else 2),
                started_at=start, answered_at=start + timedelta(seconds=8),
                bridged_at=start + timedelta(seconds=9) if party else None,
                ended_at=start + timedelta(minutes=3), result=result, hangup_cause=16,
                right_party_contact=party == "titular",
            )  # fmt: skip
            session.add(attempt)
            session.flush()
            if party:
                session.add(Disposition(attempt_id=attempt.id, account_id=account, agent_id=agent,
                                        party=party, outcome=outcome or "", notes="",
                                        created_at=start + timedelta(minutes=3, seconds=40)))  # fmt: skip
        for minutes, reasons in ((200, ["outside_hours"]), (30, ["no_consent"]),
                                 (20, ["registry_listed"]), (10, ["outside_hours"])):  # fmt: skip
            session.add(Decision(campaign_id=seed.campaign_id, allowed=False, reasons=reasons,
                                 phone_e164="+525512340002", account_id=seed.other_account_id,
                                 profile_version="MX@2026-11-01",
                                 evaluated_at=PINNED - timedelta(minutes=minutes)))  # fmt: skip
        session.add(PaymentPlan(
            account_id=seed.other_account_id, agent_id=beto, campaign_id=seed.campaign_id,
            status="pending", currency="MXN", balance=Decimal("800.00"), total=Decimal("600.00"),
            discount=Decimal("0.25"), interval="monthly", decision_note="",
            schedule=[{"number": 1, "due_date": "2026-11-30", "amount": "600.00"}],
            approval_reasons=["descuento mayor que el que autoriza un gestor"],
            created_at=PINNED - timedelta(minutes=90),
        ))  # fmt: skip


def test_given_a_working_morning_then_pages_show_no_code_and_screenshots_are_taken(
    browser: Any, pinned_console: str, seeded: Seed, engine: Engine, settings: Settings
) -> None:
    from playwright.sync_api import expect

    earlier_work(engine, seeded)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    load_reus(engine, settings.redis_url or "", settings.data_dir, [], PINNED)
    # What the campaign's dial loop writes for the wallboard (no dialer runs here).
    redis = Redis.from_url(settings.redis_url or "")
    redis.set(wallboard_key("mx-demo"), json.dumps({
        "calls_ringing": 4, "calls_connected": 1,
        "abandonment": {"1h": {"ratio": 0.012, "machine_drops": 2, "early_hangups": 1,
                               "early_ratio": 0.004},
                        "24h": {"ratio": 0.018, "machine_drops": 9, "early_hangups": 4,
                                "early_ratio": 0.006},
                        "30d": {"ratio": 0.021, "machine_drops": 140, "early_hangups": 61,
                                "early_ratio": 0.005}},
        "amd_false_positive_ratio": 0.15,
        "hopper": {"size": 42, "health": {"blocked": {"outside_hours": 12, "attempt_cap_day": 3}}},
        "dialer": {"ok": True, "reason": ""},
    }))  # fmt: skip
    redis.close()
    url = pinned_console

    agent = logged_in_page(browser, url, "ana")
    expect(agent.locator("#ws-status")).to_have_text("Conectado")
    agent.click("#btn-ready")
    expect(agent.locator("#state-name")).to_have_text("Disponible")
    dialer = DialerDouble(engine, settings.redis_url or "", "mx-demo",
                          clock=lambda: PINNED + timedelta(seconds=1))  # fmt: skip
    dialer.answer(seeded.account_id)
    expect(agent.locator('[data-field="local_time.time"]')).to_have_text(re.compile(r"^10:3\d$"))
    verify_titular(agent)
    expect(agent.locator("#pop-balance")).to_have_text("$12,500.00 MXN")
    plan_terms(agent, 6, "0", date(2026, 12, 1))
    agent.click("#btn-plan-preview")
    expect(agent.locator("#plan-schedule tr")).to_have_count(6)
    expect(agent.locator("#pop-attempts")).to_contain_text("25 nov 2026, 09:30 (Ciudad de México)")
    # Read aloud: the due date and the schedule in words, no ISO date, no IANA zone id.
    expect(agent.locator("#pop-script")).to_contain_text(
        "exigible desde el 1 de septiembre de 2026"
    )
    expect(agent.locator("#plan-schedule tr").first).to_contain_text("1 de diciembre de 2026")
    expect(agent.locator('[data-field="local_time.zone"]')).to_have_text("Ciudad de México")
    expect(agent.locator("#figures-since")).to_have_text("desde las 00:00 de Ciudad de México")
    # Her other card, in words; its reference masked (its last digits answer questions).
    expect(agent.locator("#pop-others .other-account")).to_have_count(1)
    expect(agent.locator("#pop-others")).to_contain_text(
        "Financiera Ejemplo · tarjeta · $3,200.00 MXN · Activa MX•••••"
    )
    no_error_banner(agent)
    assert raw_codes(agent, RAW_ES) == []
    assert iso_dates_and_zone_ids(agent) == []
    agent.screenshot(path=screenshot_path("agent.png"), full_page=True)
    agent.click("#btn-dispo")
    agent.click("#btn-plan-confirm")
    expect(agent.locator("#dispo-msg")).to_contain_text("Tipificación guardada.")
    expect(agent.locator('[data-fig="promises"]')).to_have_text("6")
    expect(agent.locator("#figures-since")).to_contain_text("00:00")

    beto = logged_in_page(browser, url, "beto")
    expect(beto.locator("#ws-status")).to_have_text("Conectado")
    beto.select_option("#pause-reason", "break")
    beto.click("#btn-pause")
    expect(beto.locator("#state-reason")).to_have_text("Descanso")

    supervisor = logged_in_page(browser, url, "sofia")
    expect(supervisor.locator("#wallboard")).to_have_attribute("data-campaign", "mx-demo")
    expect(supervisor.locator("#overview-body")).to_contain_text("co-cobranza")
    expect(supervisor.locator("#agents-body tr[data-agent]")).to_have_count(2)
    expect(supervisor.locator("#agents-body")).to_contain_text("Descanso")
    expect(supervisor.locator("#figures-body tr[data-agent]")).to_have_count(2)
    expect(supervisor.locator("#figures-body")).to_contain_text("$12,500.00 MXN")
    expect(supervisor.locator("#block-reasons")).to_contain_text("Fuera del horario permitido")
    expect(supervisor.locator("#plans-table")).to_contain_text("25 %")
    expect(supervisor.locator("#figures-since")).to_contain_text("Ciudad de México")
    expect(supervisor.locator("#plans-table")).to_contain_text("30 de noviembre de 2026")
    # The machines the detection hung up on, and how many of them the legal rate counts.
    expect(supervisor.locator('[data-machine="24h"]')).to_have_text("9")
    expect(supervisor.locator("#amd-note")).to_have_text(
        "El abandono legal cuenta el 15 % de las contestadoras colgadas como personas "
        "abandonadas (estimación medida de la campaña)."
    )
    no_error_banner(supervisor)
    assert raw_codes(supervisor, RAW_ES) == []
    assert iso_dates_and_zone_ids(supervisor) == []
    supervisor.screenshot(path=screenshot_path("supervisor.png"), full_page=True)
    supervisor.goto(url + "/supervisor?lang=en")
    expect(supervisor.locator("#agents-body")).to_contain_text("Paused")
    # The glance at every campaign is redrawn by itself (every 10 s) from the server.
    redis = Redis.from_url(settings.redis_url or "")
    redis.set(wallboard_key("mx-demo"), json.dumps({"hopper": {"size": 77}}))
    redis.close()
    mx_row = supervisor.locator('#overview-body tr[data-campaign="mx-demo"]')
    expect(mx_row).to_contain_text("77", timeout=20_000)
    expect(mx_row).to_contain_text("running")
    expect(supervisor.locator("#block-reasons")).to_contain_text("Outside the allowed hours")
    assert raw_codes(supervisor, RAW_EN) == []

    auditor = logged_in_page(browser, url, "raul")
    expect(auditor.locator("#search-hint")).to_be_visible()
    auditor.click("form.filters button[type=submit]")
    table = auditor.locator("#attempts-table")
    expect(table.locator("tbody tr")).to_have_count(4)
    expect(table).to_contain_text("Tercero · Recado con tercero")
    expect(table).to_contain_text("Titular · Convenio / plan de pagos")
    no_error_banner(auditor)
    assert raw_codes(auditor, RAW_ES) == []
    auditor.screenshot(path=screenshot_path("auditor.png"), full_page=True)
    auditor.goto(url + "/auditor/decisions?lang=en&reason=")
    expect(auditor.locator("body")).to_contain_text("Outside the allowed hours")
    assert raw_codes(auditor, RAW_EN) == []
    auditor.goto(url + "/auditor?lang=en&account_ref=")
    expect(auditor.locator("#attempts-table")).to_contain_text("Third party")
    assert raw_codes(auditor, RAW_EN) == []
    for page in (agent, beto, supervisor, auditor):
        page.context.close()
