"""The debtor's self-service portal in Chromium on a phone-sized screen, against the
console process with the shipped MX profile: link -> identity check -> a plan within
the rules -> its promises; three wrong answers lock the link; a dispute stops dialing;
an SMS opt-out stops the strategy's SMS. Screenshots go to docs/screenshots/portal-*."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis.asyncio as aioredis
from browser_harness import (
    console_process,
)
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from support.dialer_floor import load_reus
from support.screenshots import screenshot_path
from support.selfservice_seed import (
    DIGITS,
    IDENTITY_KEY,
    LINK_SECRET,
    NOW,
    PortalSeed,
    seed_portal,
)

from cobrador.ground.settings import Settings
from compliance.service import ComplianceService
from dialer.hopper import Hopper, HopperEntry
from dialer.messages import COMMANDS_CHANNEL
from outreach.checks import ConsentedAddresses, EngineCheck
from outreach.links import LinkSigner
from outreach.outgoing import OutgoingMessage
from outreach.scheduler import Scheduler
from selfservice.debtor_actions import attach_document
from store.models import Account, CallAttempt, OutreachStep, PaymentPlan, Promise

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "es-MX", "timezone_id": "America/Mexico_City"}  # fmt: skip
T = TypeVar("T")
SIGNER = LinkSigner("https://pagos.example.mx/p", LINK_SECRET)


@pytest.fixture
def portal(engine: Engine) -> PortalSeed:
    # The strategy's day 0 was yesterday: its day-1 SMS is due now.
    return seed_portal(engine, stage_entered_at=NOW - timedelta(days=1))


@pytest.fixture
def portal_url(settings: Settings, portal: PortalSeed) -> Iterator[str]:
    env = {
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "COBRADOR_DATA_DIR": str(settings.data_dir),
        "COBRADOR_CONSOLE_SECRET": base64.urlsafe_b64encode(b"b" * 32).decode(),
        "COBRADOR_PORTAL_LINK_SECRET": base64.b64encode(LINK_SECRET).decode(),
        "COBRADOR_PORTAL_IDENTITY_KEY": base64.b64encode(IDENTITY_KEY).decode(),
    }
    with console_process(env, at=NOW) as url:
        yield url


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(**PHONE)
    page = context.new_page()
    yield page
    context.close()


def shot(page: Any, name: str, section: str | None = None) -> None:
    """The phone's screen (scrolled to `section` when given): what the debtor sees."""
    if section:
        page.locator(section).scroll_into_view_if_needed()
    page.screenshot(path=screenshot_path(f"portal-{name}.png"))


def open_link(page: Any, base: str, account_id: int) -> None:
    page.goto(f"{base}/p/{SIGNER.token(account_id, NOW)}")


def identify(page: Any, digits: str = DIGITS) -> None:
    page.get_by_label("Últimos 4 dígitos de su documento").fill(digits)
    page.get_by_role("button", name="Continuar").click()


def in_thread(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on its own loop in another thread (Playwright's sync API holds
    this thread's loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result(timeout=120)


def count(engine: Engine, model: Any, **where: Any) -> int:
    with Session(engine) as s:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return int(s.scalar(query) or 0)


def test_given_a_link_when_identified_and_a_plan_chosen_then_its_promises_exist(
    phone: Any, portal_url: str, portal: PortalSeed, engine: Engine
) -> None:
    from playwright.sync_api import expect

    open_link(phone, portal_url, portal.account_id)
    expect(phone.get_by_role("heading", name="Confirme su identidad")).to_be_visible()
    expect(phone.locator("body")).not_to_contain_text("6,000")  # nothing before the check
    expect(phone.locator("body")).not_to_contain_text("María")
    shot(phone, "1-identity")
    identify(phone)
    expect(phone.locator("#balance")).to_have_text("$6,000.00 MXN")
    expect(phone.locator("#summary")).to_contain_text("1 de septiembre de 2026")  # not ISO
    shot(phone, "2-account")
    plan = phone.locator("#plan-options")
    plan.get_by_label("3 × $2,000.00 MXN (mensual)").check()
    plan.get_by_role("button", name="Elegir este plan").click()
    expect(phone.locator("#done")).to_contain_text("Su plan de pagos quedó registrado")
    expect(phone.locator("#promises li")).to_have_count(3)
    shot(phone, "3-plan-done")
    with Session(engine) as s:
        plan_row = s.scalars(select(PaymentPlan)).one()
        promises = s.scalars(select(Promise).order_by(Promise.due_date)).all()
        entries = s.scalars(select(CallAttempt).order_by(CallAttempt.id)).all()
    assert plan_row.status == "active" and plan_row.agent_id is None
    assert [str(p.amount) for p in promises] == ["2000.00"] * 3
    assert [p.due_date.isoformat() for p in promises] == ["2026-12-01", "2027-01-01", "2027-02-01"]
    assert [(e.channel, e.direction, (e.details or {}).get("debtor_action")) for e in entries] == [
        ("portal", "inbound", "identified"), ("portal", "inbound", "plan")]  # fmt: skip
    # English on the same page.
    phone.get_by_role("link", name="EN").click()
    expect(phone.get_by_role("heading", name="Pay in instalments")).to_be_visible()
    expect(phone.locator("#summary")).to_contain_text("September 1, 2026")
    expect(phone.locator("#promises")).to_contain_text("December 1, 2026")


def test_given_a_promise_date_picked_when_sent_then_the_promise_in_the_debtors_words(
    phone: Any, portal_url: str, portal: PortalSeed, engine: Engine
) -> None:
    from playwright.sync_api import expect

    open_link(phone, portal_url, portal.account_id)
    identify(phone)
    promise = phone.locator("#promise")
    promise.get_by_label("Monto").fill("1,500.00")
    promise.get_by_label("Fecha").fill("2026-12-05")  # the picker posts ISO; it shows 05/12/2026
    shot(phone, "9-promise-date", "#promise")
    promise.get_by_role("button", name="Prometer").click()
    expect(phone.locator("#done")).to_contain_text("Su promesa de pago quedó registrada")
    expect(phone.locator("#promises")).to_contain_text("$1,500.00 MXN · 5 de diciembre de 2026")
    with Session(engine) as s:
        [row] = s.scalars(select(Promise)).all()
    assert (str(row.amount), row.due_date.isoformat()) == ("1500.00", "2026-12-05")
    # The callback's hours on the debtor's clock, the zone named by its city.
    expect(phone.locator("#callback")).to_contain_text("Hora (hora de Ciudad de México)")
    expect(phone.locator("#when option").first).to_have_text("mar 24 de nov, 12:00")
    shot(phone, "11-callback-hours", "#callback")


def test_given_an_sms_opt_out_when_authorised_again_then_the_channel_is_back(
    phone: Any, portal_url: str, portal: PortalSeed, engine: Engine
) -> None:
    from playwright.sync_api import expect

    open_link(phone, portal_url, portal.account_id)
    identify(phone)
    phone.locator("#stop-sms").click()
    expect(phone.locator('#channels li[data-channel="sms"]')).to_contain_text("no autorizado")
    phone.locator("#allow-sms").click()
    expect(phone.locator("#done")).to_contain_text("Registramos su autorización")
    expect(phone.locator('#channels li[data-channel="sms"]')).not_to_contain_text("no autorizado")
    expect(phone.locator("#stop-sms")).to_be_visible()
    shot(phone, "10-sms-authorised-again", "#channels")
    assert count(engine, Account, id=portal.account_id, opted_out="") == 1


def test_given_letters_for_the_digits_then_the_phone_refuses_them_before_a_try_is_spent(
    phone: Any, portal_url: str, portal: PortalSeed
) -> None:
    # The field's pattern "[0-9 .-]{4,8}" is not a valid expression in the browser's
    # unicode-sets mode: Chromium logged an error and accepted anything.
    errors: list[str] = []
    phone.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    open_link(phone, portal_url, portal.account_id)
    field = phone.get_by_label("Últimos 4 dígitos de su documento")
    field.fill("abcd")
    assert field.evaluate("e => e.validity.patternMismatch") is True
    for typed in ("1234", "12 34", "1.234", "12-34"):
        field.fill(typed)
        assert field.evaluate("e => e.validity.valid") is True, typed
    assert errors == []  # nor any other: the icon the browser asks for is served


def test_given_three_wrong_answers_when_entered_then_the_link_is_locked(
    phone: Any, portal_url: str, portal: PortalSeed
) -> None:
    from playwright.sync_api import expect

    open_link(phone, portal_url, portal.account_id)
    for wrong, left in (("0000", 2), ("1111", 1)):
        identify(phone, wrong)
        expect(phone.locator("#identity-error")).to_contain_text(f"Le quedan {left} intentos")
    identify(phone, "2222")
    # The account's shared count is locked too: the page says to call, not to ask for
    # a new link (every link of the account waits for the day or a person).
    expect(phone.get_by_role("heading", name="Acceso bloqueado")).to_be_visible()
    shot(phone, "4-locked")
    open_link(phone, portal_url, portal.account_id)  # the right answer is never asked again
    expect(phone.get_by_role("heading", name="Acceso bloqueado")).to_be_visible()
    expect(phone.get_by_label("Últimos 4 dígitos de su documento")).to_have_count(0)
    phone.goto(f"{portal_url}/p/cuenta")
    expect(phone.get_by_role("heading", name="Confirme su identidad")).to_be_visible()


def test_given_a_dispute_when_sent_then_the_account_leaves_the_hopper_and_no_call_passes(
    phone: Any, portal_url: str, portal: PortalSeed, engine: Engine, settings: Settings
) -> None:
    from playwright.sync_api import expect

    attach_document(engine, portal.ref, "Contrato de crédito", "contrato.pdf",
                    "application/pdf", b"%PDF-1.4 contrato", "operator", NOW)  # fmt: skip
    # The account waits in its campaign's hopper; a dialer listens for its commands.
    url = settings.redis_url or ""

    async def queue() -> None:
        redis = aioredis.from_url(url)
        entry = HopperEntry(portal.account_id, 0, 0.0, {"phone_id": 1})
        await Hopper(redis, portal.campaign).add([entry], NOW.timestamp())
        await redis.aclose()

    in_thread(queue)
    listening = threading.Event()
    commands: list[dict[str, Any]] = []

    async def listen() -> None:
        redis = aioredis.from_url(url)
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(COMMANDS_CHANNEL)
        listening.set()
        for _ in range(600):  # a command, or give up after a minute
            message = await pubsub.get_message(timeout=0.1)
            if message:
                commands.append(json.loads(message["data"]))
                break
        await pubsub.aclose()
        await redis.aclose()

    listener = threading.Thread(target=asyncio.run, args=(listen(),))
    listener.start()
    assert listening.wait(20)

    open_link(phone, portal_url, portal.account_id)
    identify(phone)
    dispute = phone.locator("#dispute")
    dispute.get_by_label("No reconozco esta deuda").check()
    dispute.get_by_label("Cuéntenos (opcional)").fill("Nunca tuve un crédito con ellos.")
    dispute.get_by_role("button", name="Enviar").click()
    expect(phone.locator("#disputed")).to_be_visible()
    expect(phone.locator("#promise")).to_have_count(0)  # no payment push to a disputed debt
    expect(phone.locator("#documents")).to_contain_text("Contrato de crédito")
    shot(phone, "5-dispute")

    listener.join(70)

    async def after() -> tuple[set[int], tuple[str, ...]]:
        redis = aioredis.from_url(url)
        inside = await Hopper(redis, portal.campaign).contains([portal.account_id])
        service = ComplianceService(engine, redis)
        with Session(engine) as s:
            item = service.load_item(s, account_id=portal.account_id, phone_e164="+525512340001")
        [decision] = await service.evaluate_batch([item], NOW + timedelta(minutes=1))
        await redis.aclose()
        return inside, decision.reasons

    inside, reasons = in_thread(after)
    assert inside == set()
    assert commands and commands[0]["account_id"] == portal.account_id
    assert "disputed" in reasons
    assert count(engine, Account, id=portal.account_id, status="disputed") == 1


class Outbox:
    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    async def send(self, message: OutgoingMessage) -> str | None:
        self.sent.append(message)
        return f"sms-{len(self.sent)}"


def test_given_an_sms_opt_out_when_the_strategy_runs_then_no_sms_to_that_debtor(
    phone: Any, portal_url: str, portal: PortalSeed, engine: Engine, settings: Settings,
    tmp_path: Path,
) -> None:  # fmt: skip
    from playwright.sync_api import expect

    load_reus(engine, settings.redis_url or "", tmp_path, [], NOW)  # MX checks REUS first
    open_link(phone, portal_url, portal.account_id)
    identify(phone)
    channels = phone.locator("#channels")
    channels.locator("#stop-sms").click()
    expect(phone.locator("#done")).to_contain_text("Registramos su baja")
    expect(phone.locator('#channels li[data-channel="sms"]')).to_contain_text("no autorizado")
    shot(phone, "6-sms-opt-out", "#channels")

    outbox = Outbox()

    async def run_strategy() -> None:
        redis = aioredis.from_url(settings.redis_url or "")
        check = EngineCheck(engine, ComplianceService(engine, redis))
        scheduler = Scheduler(engine, check, {"sms": outbox}, ConsentedAddresses(),
                              link_secret=LINK_SECRET, clock=lambda: NOW)  # fmt: skip
        await scheduler.run_once(NOW + timedelta(minutes=5))
        await redis.aclose()

    in_thread(run_strategy)
    # The other debtor of the campaign gets the day's SMS; the one who opted out does not.
    assert outbox.sent and {m.attempt.address for m in outbox.sent} == {"+525512340002"}
    with Session(engine) as s:
        steps = s.scalars(
            select(OutreachStep).where(OutreachStep.account_id == portal.account_id,
                                       OutreachStep.channel == "sms")
        ).all()  # fmt: skip
    assert [(st.status, st.reasons) for st in steps if st.status != "passed_over"] == [
        ("blocked", ["opted_out"])]  # fmt: skip
