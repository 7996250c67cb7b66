"""The field app and the supervisors' field page in Chromium: emulated geolocation,
offline mode, the service worker and IndexedDB; the visit rules of the real
profiles (MX hours, PE days, CO's authorisation) behind the console."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from browser_harness import console_process
from console_fixtures import PASSWORD, _password_hash
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from support.screenshots import screenshot_path

from cobrador.ground.settings import Settings
from field import plans
from store.db import transaction
from store.models import (
    Account,
    CallAttempt,
    Campaign,
    Decision,
    Disposition,
    FieldVisit,
    Promise,
    User,
)

# Tuesday 1 December 2026, 10:00 in Mexico City: inside MX visiting hours.
TUESDAY = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
# Saturday 5 December 2026, 10:00 in Lima.
SATURDAY = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)
# Doors around Coyoacán, Mexico City; one in Bogotá, one in Lima.
DOORS = [(19.3467, -99.1617), (19.3502, -99.1580), (19.3441, -99.1560), (19.3525, -99.1650)]
METRE_LAT = 1 / 111_195.0
PHONE = {"viewport": {"width": 412, "height": 860}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "es-MX"}  # fmt: skip


def seed(engine: Engine) -> dict[str, int]:
    ids: dict[str, int] = {}
    with transaction(engine) as s:
        campaign = Campaign(
            name="mx-campo", country="MX", profile="MX", config={"promise_max_days": 15}
        )
        s.add(campaign)
        s.flush()
        for name, role in [("lucia", "field"), ("sofia", "supervisor")]:
            user = User(username=name, display_name={"lucia": "Lucía Campos", "sofia": "Sofía"}[name],
                        role=role, password_hash=_password_hash(),
                        territory="CDMX-Coyoacán" if role == "field" else None)  # fmt: skip
            s.add(user)
            s.flush()
            ids[name] = user.id
        names = ["María López Hernández", "Juan Pérez Soto", "Rosa Díaz Luna", "Pedro Ramírez"]
        for i, ((lat, lon), name) in enumerate(zip(DOORS, names, strict=True), start=1):
            s.add(Account(external_ref=f"MX-{i:04d}", debtor_name=name, country="MX",
                          timezone="America/Mexico_City", balance=Decimal("8400.00") + i * 350,
                          currency="MXN", stage="firm", campaign_id=campaign.id,
                          address=f"Calle Francisco Sosa {100 + 20 * i}, Coyoacán, CDMX",
                          latitude=lat, longitude=lon))  # fmt: skip
        s.add(Account(external_ref="CO-0001", debtor_name="Carlos Gómez", country="CO",
                      balance=Decimal("1500000"), currency="COP", stage="firm",
                      address="Carrera 7 # 72-41, Bogotá", latitude=4.6560, longitude=-74.0560))  # fmt: skip
        s.add(Account(external_ref="PE-0001", debtor_name="Lucía Quispe", country="PE",
                      balance=Decimal("2300.00"), currency="PEN", stage="firm",
                      address="Jr. de la Unión 500, Lima", latitude=-12.0464, longitude=-77.0428))  # fmt: skip
        s.flush()
        for a in s.scalars(select(Account)):
            ids[a.external_ref] = a.id
    return ids


def allow_all(session: Session, account: Account, at: datetime) -> Any:
    from compliance.engine import Decision as D

    return D(True, (), "test", {}, None, None, at)


def plan_mx(engine: Engine, ids: dict[str, int]) -> list[int]:
    """Lucía's Tuesday (planning itself goes through the console in the tests below)."""
    refs = [f"MX-{i:04d}" for i in range(1, 5)]
    out = plans.assign(engine, ids["sofia"], "user:sofia", ids["lucia"], TUESDAY.date(),
                       [ids[r] for r in refs], allow_all, TUESDAY)  # fmt: skip
    return out.planned


@pytest.fixture
def field_seed(engine: Engine) -> dict[str, int]:
    return seed(engine)


def env_of(settings: Settings) -> dict[str, str]:
    return {
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "COBRADOR_DATA_DIR": str(settings.data_dir),
        "COBRADOR_CONSOLE_SECRET": base64.urlsafe_b64encode(b"f" * 32).decode(),
    }


@pytest.fixture
def tuesday_console(settings: Settings, field_seed: dict[str, int]) -> Iterator[str]:
    with console_process(env_of(settings), at=TUESDAY) as url:
        yield url


def phone_page(browser: Any, base: str, at: datetime, where: tuple[float, float]) -> Any:
    context = browser.new_context(
        **PHONE, geolocation={"latitude": where[0], "longitude": where[1], "accuracy": 8},
        permissions=["geolocation"], service_workers="allow",
    )  # fmt: skip
    page = context.new_page()
    page.clock.set_fixed_time(at)  # the phone's clock: the fix times it reports
    login(page, base, "lucia")
    page.wait_for_selector("body[data-ready='1']")
    return page


def login(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def north_of(point: tuple[float, float], metres: float) -> tuple[float, float]:
    return point[0] + metres * METRE_LAT, point[1]


def open_visit(page: Any, ref_name: str) -> None:
    page.click(f"#route li:has-text('{ref_name}')")
    page.wait_for_selector("#visit-view:not([hidden])")


def no_error_banner(page: Any) -> None:
    banners = page.locator(".alert-error:visible")
    assert banners.count() == 0, banners.all_inner_texts()


def test_given_phone_40m_from_the_door_then_checkin_accepted_and_2km_refused_with_the_distance(
    browser: Any, tuesday_console: str, engine: Engine, field_seed: dict[str, int]
) -> None:
    from playwright.sync_api import expect

    plan_mx(engine, field_seed)
    page = phone_page(browser, tuesday_console, TUESDAY, north_of(DOORS[0], 40))
    expect(page.locator("#route li")).to_have_count(4)
    open_visit(page, "María López Hernández")
    expect(page.locator("#v-balance")).to_have_text(re.compile(r"^\$[\d,]+\.\d\d MXN$"))
    page.click("#checkin")
    expect(page.locator("#checkin-msg")).to_have_text("Llegada registrada a 40 m del domicilio.")
    expect(page.locator("#questionnaire")).to_be_visible()
    page.click("#back")

    page.context.set_geolocation({"latitude": DOORS[1][0] + 2000 * METRE_LAT,
                                  "longitude": DOORS[1][1], "accuracy": 8})  # fmt: skip
    open_visit(page, "Juan Pérez Soto")
    page.click("#checkin")
    expect(page.locator("#checkin-msg")).to_contain_text("Está a 2,0 km del domicilio")
    expect(page.locator("#questionnaire")).to_be_hidden()
    with Session(engine) as s:
        attempts = s.scalars(select(CallAttempt)).all()
        assert [(a.channel, a.details["distance_m"]) for a in attempts] == [("visit", 40)]  # type: ignore[index]
        decision = s.get(Decision, attempts[0].decision_id)
        assert decision is not None and decision.allowed and decision.stage == "visit_checkin"

    # The same phone in English: the script's words and the questionnaire's.
    page.goto(f"{tuesday_console}/field/?lang=en")
    page.wait_for_selector("body[data-ready='1']")
    expect(page.locator("#route-summary")).to_contain_text("4 visits · ")
    expect(page.locator("#route-summary")).to_contain_text("(as the crow flies)")
    open_visit(page, "María López Hernández")
    expect(page.locator("#v-state")).to_have_text("Arrival recorded")
    expect(page.locator("#checkin-msg")).to_have_text("Arrival recorded 40 m from the address.")
    expect(page.locator("#questions")).to_contain_text("Who answered?")
    expect(page.locator("#questions")).to_contain_text("Address verified?")
    assert "undefined" not in page.locator("body").inner_text()


def record_visit(page: Any, name: str, outcome: str) -> None:
    open_visit(page, name)
    page.click("#checkin")
    page.wait_for_selector("#questionnaire:not([hidden])")
    page.check('#questions input[name="party"][value="titular"]')
    page.check(f'#questions input[name="outcome"][value="{outcome}"]')
    if outcome == "promesa_pago":
        page.fill("#q-promise_amount", "1200.00")
        page.fill("#q-promise_date", "2026-12-10")
    page.check('#questions input[name="address_verified"][value="si"]')
    page.fill("#q-notes", f"Visita a {name} sin señal.")
    page.click("#save")
    page.wait_for_selector("#route-view", state="attached")
    page.click("#back")


def test_given_three_visits_recorded_offline_then_synced_once_and_only_once(
    browser: Any, tuesday_console: str, engine: Engine, field_seed: dict[str, int]
) -> None:
    from playwright.sync_api import expect

    plan_mx(engine, field_seed)
    page = phone_page(browser, tuesday_console, TUESDAY, DOORS[0])
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()  # now served through the service worker, which kept the page
    page.wait_for_selector("body[data-ready='1']")

    page.context.set_offline(True)
    for door, name, outcome in [(DOORS[0], "María López Hernández", "promesa_pago"),
                                (DOORS[1], "Juan Pérez Soto", "rehusa"),
                                (DOORS[2], "Rosa Díaz Luna", "promesa_pago")]:  # fmt: skip
        page.context.set_geolocation({"latitude": door[0], "longitude": door[1], "accuracy": 8})
        record_visit(page, name, outcome)
    expect(page.locator("#net")).to_have_text("Sin conexión")
    expect(page.locator("#pending")).to_have_text("6 pendientes")
    # The phone is restarted without a network: the page, route and queue are still there.
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    expect(page.locator("#route li")).to_have_count(4)
    expect(page.locator("#pending")).to_have_text("6 pendientes")
    expect(page.locator("#route li.stop-pending")).to_have_count(3)
    shot(page, "field-app-offline.png")
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Disposition)) == 0

    queued = page.evaluate(OUTBOX)
    assert [op["kind"] for op in queued] == ["checkin", "result"] * 3
    # Sealed to the console: what she recorded at the doors (notes, amounts, where the
    # phone was) is in no readable form on the phone, only the visit, kind and key.
    assert all(set(op) == {"seq", "key", "visit_id", "kind", "url", "sealed"} for op in queued)
    stored = json.dumps(queued, ensure_ascii=False)
    for clear in ("sin señal", "1200", "titular", "promesa_pago", str(DOORS[0][0])[:7]):
        assert clear not in stored, clear
    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#pending")).to_be_hidden(timeout=20000)
    expect(page.locator("#route li.stop-done")).to_have_count(3, timeout=20000)
    expect(page.locator("#route li")).to_have_count(4)
    # Everything sent again (a lost answer, a second tab): the server applies nothing twice.
    replayed = page.evaluate(REPLAY, queued)
    assert [r["status"] for r in replayed] == [200] * 6
    assert all(r["replayed"] for r in replayed)
    page.evaluate("window.cobradorField.sync()")
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Disposition)) == 3
        assert s.scalar(select(func.count()).select_from(CallAttempt)) == 3
        assert sorted(s.scalars(select(FieldVisit.status))) == ["done", "done", "done", "planned"]
        # Opened by the console: the answers arrived whole.
        assert sorted(s.scalars(select(Disposition.notes))) == [
            f"Visita a {name} sin señal."
            for name in ("Juan Pérez Soto", "María López Hernández", "Rosa Díaz Luna")
        ]
    no_error_banner(page)
    page.context.close()


def test_given_a_debtor_reported_deceased_after_the_route_was_downloaded_then_the_app_stops_offering_the_visit(
    browser: Any, tuesday_console: str, engine: Engine, field_seed: dict[str, int]
) -> None:
    from playwright.sync_api import expect

    plan_mx(engine, field_seed)
    page = phone_page(browser, tuesday_console, TUESDAY, DOORS[0])
    expect(page.locator("#route li.stop-planned")).to_have_count(4)
    with transaction(engine) as s:
        account = s.get(Account, field_seed["MX-0002"])
        assert account is not None
        account.protection = "deceased"
    page.evaluate("window.cobradorField.sync()")  # the app's next sync refreshes its day
    expect(page.locator("#route li.stop-blocked")).to_have_count(1)
    expect(page.locator("#route li.stop-blocked")).to_contain_text("Juan Pérez Soto")
    expect(page.locator("#route-summary")).to_contain_text("3 por hacer")
    open_visit(page, "Juan Pérez Soto")
    expect(page.locator("#checkin")).to_be_hidden()
    expect(page.locator("#checkin-msg")).to_contain_text("No se puede visitar esta cuenta")
    # Kept offline: the phone restarted without a network still does not offer it.
    page.context.set_offline(True)
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    expect(page.locator("#route li.stop-blocked")).to_have_count(1)
    page.context.close()


CHECKIN_ANYWAY = """async ([visit, lat, lon]) => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const res = await fetch(`/api/field/visits/${visit}/checkin`, {method: 'POST',
    credentials: 'same-origin', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
    body: JSON.stringify({key: 'k-anyway-0000000000000', sent_at: new Date().toISOString(),
                          fix: {lat, lon, accuracy: 8, at: new Date().toISOString()}})});
  return [res.status, (await res.json()).reason];
}"""
OUTBOX = """async () => {
  const db = await new Promise((ok) => {
    const r = indexedDB.open('cobrador-field-' + document.body.dataset.agent, 1);
    r.onsuccess = () => ok(r.result);
  });
  return await new Promise((ok) => {
    const r = db.transaction('outbox').objectStore('outbox').getAll();
    r.onsuccess = () => ok(r.result);
  });
}"""
REPLAY = """async (ops) => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const out = [];
  for (const op of ops) {
    const res = await fetch(op.url, {method: 'POST', credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
      body: JSON.stringify(op.sealed ? {sealed: op.sealed} : op.body)});
    const body = await res.json();
    out.push({status: res.status, replayed: body.replayed === true});
  }
  return out;
}"""


def shot(page: Any, name: str, full_page: bool = True) -> None:
    if os.environ.get("COBRADOR_SCREENSHOTS", "1") == "1":
        page.screenshot(path=screenshot_path(name), full_page=full_page)


def supervisor_page(browser: Any, base: str, day: str) -> Any:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="es-MX",
                                  timezone_id="America/Mexico_City")  # fmt: skip
    page = context.new_page()
    login(page, base, "sofia")
    page.goto(f"{base}/supervisor/field?day={day}")
    page.wait_for_selector("#field-page[data-loaded='1']")
    return page


def plan_in_page(page: Any, refs: list[str], day: str) -> None:
    page.fill("#plan-refs", "\n".join(refs))
    page.fill("#plan-day", day)
    page.click("#plan-go")
    page.wait_for_selector("#plan-result .alert")


def test_given_co_account_without_authorisation_then_the_supervisor_cannot_plan_its_visit(
    browser: Any, tuesday_console: str, engine: Engine, field_seed: dict[str, int]
) -> None:
    from playwright.sync_api import expect

    page = supervisor_page(browser, tuesday_console, "2026-12-01")
    plan_in_page(page, ["CO-0001", "MX-0004"], "2026-12-01")
    expect(page.locator("#plan-result")).to_contain_text("Planeadas: 1")
    expect(page.locator("#plan-result .refused")).to_have_text(
        "CO-0001: no se planea (sin autorización firmada de visita)"
    )
    with transaction(engine) as s:
        visits = s.execute(select(FieldVisit.account_id)).scalars().all()
        assert visits == [field_seed["MX-0004"]]
        refused = s.scalars(
            select(Decision).where(Decision.account_id == field_seed["CO-0001"])
        ).one()
        assert not refused.allowed and "visit_not_authorised" in refused.reasons
        assert (refused.stage, refused.channel) == ("visit_plan", "visit")
        # With the signed authorisation on the account, the same visit is planned.
        s.get(Account, field_seed["CO-0001"]).visit_authorisation_ref = "MICROCREDITO-2026-77"  # type: ignore[union-attr]
    plan_in_page(page, ["CO-0001"], "2026-12-01")
    expect(page.locator("#plan-result")).to_contain_text("Planeadas: 1")
    page.context.close()


def test_given_pe_visit_on_saturday_then_refused_when_planned_and_at_the_door(
    browser: Any, settings: Settings, engine: Engine, field_seed: dict[str, int]
) -> None:
    from playwright.sync_api import expect

    with console_process(env_of(settings), at=SATURDAY) as base:
        page = supervisor_page(browser, base, "2026-12-05")
        plan_in_page(page, ["PE-0001"], "2026-12-05")
        expect(page.locator("#plan-result .refused")).to_have_text(
            "PE-0001: no se planea (día no permitido)"
        )
        page.context.close()
        # A visit put on Saturday's route anyway (planned before a rule changed, say)
        # is refused again at the door: the check runs at check-in too.
        visit = plans.assign(engine, field_seed["sofia"], "test", field_seed["lucia"],
                             SATURDAY.date(), [field_seed["PE-0001"]], allow_all, SATURDAY).planned[0]  # fmt: skip
        door = (-12.0464, -77.0428)
        phone = phone_page(browser, base, SATURDAY, north_of(door, 20))
        open_visit(phone, "Lucía Quispe")
        # The app learnt it with its day: no check-in offered, the reason in words.
        expect(phone.locator("#checkin")).to_be_hidden()
        expect(phone.locator("#checkin-msg")).to_contain_text("Día no permitido")
        # One sent anyway (queued before the day was refreshed) is refused at the server.
        status, reason = phone.evaluate(CHECKIN_ANYWAY, [visit, *north_of(door, 20)])
        assert (status, reason) == (403, "La ley no permite esta visita ahora: día no permitido.")
        with Session(engine) as s:
            attempt = s.scalars(select(CallAttempt)).one()
            assert (attempt.channel, attempt.result) == ("visit", "blocked")
            assert s.get(FieldVisit, visit).status == "planned"  # type: ignore[union-attr]
        phone.context.close()


def test_screenshots_of_the_field_app_and_the_supervisors_map(
    browser: Any, tuesday_console: str, engine: Engine, field_seed: dict[str, int]
) -> None:
    from playwright.sync_api import expect

    sup = supervisor_page(browser, tuesday_console, "2026-12-01")
    plan_in_page(sup, [f"MX-{i:04d}" for i in range(1, 5)], "2026-12-01")
    expect(sup.locator("#plan-result")).to_contain_text("Planeadas: 4")

    phone = phone_page(browser, tuesday_console, TUESDAY, north_of(DOORS[0], 25))
    phone.check("#consent")
    phone.click("#shift-start")
    expect(phone.locator("#shift-text")).to_contain_text("compartiendo ubicación")
    for door, name, outcome in [(DOORS[0], "María López Hernández", "promesa_pago"),
                                (DOORS[1], "Juan Pérez Soto", "rehusa")]:  # fmt: skip
        phone.context.set_geolocation({"latitude": door[0] + 25 * METRE_LAT,
                                       "longitude": door[1], "accuracy": 8})  # fmt: skip
        record_visit(phone, name, outcome)
    expect(phone.locator("#route li.stop-done")).to_have_count(2, timeout=20000)
    expect(phone.locator("#route li")).to_have_count(4)
    phone.context.set_geolocation({"latitude": DOORS[2][0] + 30 * METRE_LAT,
                                   "longitude": DOORS[2][1], "accuracy": 8})  # fmt: skip
    open_visit(phone, "Rosa Díaz Luna")
    phone.click("#checkin")
    expect(phone.locator("#checkin-msg")).to_have_text("Llegada registrada a 30 m del domicilio.")
    phone.check('#questions input[name="party"][value="titular"]')
    phone.check('#questions input[name="outcome"][value="promesa_pago"]')
    phone.fill("#q-promise_amount", "1500.00")
    phone.fill("#q-promise_date", "2026-12-12")
    no_error_banner(phone)
    phone.evaluate("window.scrollTo(0, 0)")
    shot(phone, "field-app.png", full_page=False)
    phone.click("#back")
    no_error_banner(phone)

    sup.reload()
    sup.wait_for_selector("#field-page[data-loaded='1']")
    # The app reported the position and the battery by itself (watchPosition, the
    # Battery Status API: a headless Chromium says 100 %).
    expect(sup.locator(".agent-label")).to_have_text("Lucía Campos · batería 100 %")
    expect(sup.locator("#visits-table tbody tr")).to_have_count(4)
    expect(sup.locator("#agents-table tbody tr")).to_have_text(["Lucía Campos11200100 %"])
    no_error_banner(sup)
    shot(sup, "field-map.png")
    sup.context.close()
    phone.context.close()


# What a phone keeps for the field app: its IndexedDB databases (with what each
# holds), its clock notes in localStorage, and the pages the service worker kept.
PHONE_STORAGE = """async () => {
  const out = {databases: {}, local: [], pages: []};
  for (const {name} of await indexedDB.databases()) {
    if (!name.startsWith('cobrador-field-')) continue;
    const db = await new Promise((ok) => { const r = indexedDB.open(name); r.onsuccess = () => ok(r.result); });
    const held = {};
    for (const store of db.objectStoreNames) {
      held[store] = await new Promise((ok) => {
        const r = db.transaction(store).objectStore(store).count(); r.onsuccess = () => ok(r.result); });
    }
    db.close();
    out.databases[name] = held;
  }
  for (const key of Object.keys(localStorage)) if (key.startsWith('cobrador-field')) out.local.push(key);
  for (const name of await caches.keys()) {
    const kept = await (await caches.open(name)).match('/field/');
    if (kept) out.pages.push(await kept.text());
  }
  return out;
}"""


def test_given_a_result_not_yet_sent_when_the_agent_logs_out_then_refused_until_synced_and_then_the_phone_keeps_nothing(
    browser: Any, tuesday_console: str, engine: Engine, field_seed: dict[str, int]
) -> None:
    from playwright.sync_api import expect

    plan_mx(engine, field_seed)
    page = phone_page(browser, tuesday_console, TUESDAY, DOORS[0])
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()  # served through the service worker, which kept the page
    page.wait_for_selector("body[data-ready='1']")
    page.context.set_offline(True)
    # Offline the server cannot end the session: wiped but still logged in, the phone
    # would hand the next person her session. Nothing is wiped, she stays.
    page.click("#logout button")
    expect(page.locator("#logout-msg")).to_have_text(
        "No se pudo cerrar la sesión: no hay conexión con el servidor. Inténtelo de nuevo "
        "cuando tenga conexión."
    )
    assert page.url.endswith("/field/")
    expect(page.locator("#route li")).to_have_count(4)
    open_visit(page, "María López Hernández")
    page.click("#checkin")
    expect(page.locator("#pending")).to_have_text("1 pendiente")

    # Offline, the check-in exists only on the phone: logging out would lose it.
    page.click("#logout button")
    expect(page.locator("#logout-msg")).to_have_text(
        "No puede salir todavía: 1 operación no se ha enviado. Conéctese a internet y pulse "
        "«Sincronizar»; podrá salir cuando se haya enviado."
    )
    assert page.url.endswith("/field/")
    assert len(page.evaluate(OUTBOX)) == 1

    # Online, logging out sends it first, then leaves nothing of the route behind.
    page.context.set_offline(False)
    page.click("#logout button")
    page.wait_for_url("**/login")
    with Session(engine) as s:
        assert s.scalars(
            select(FieldVisit.status).where(FieldVisit.status == "checked_in")
        ).all() == ["checked_in"]
    # No route, answers nor clock note, and no kept page for the service worker to
    # open offline for the next person.
    kept = page.evaluate(PHONE_STORAGE)
    assert kept == {"databases": {}, "local": [], "pages": []}
    # And the session is over on the server too.
    page.goto(f"{tuesday_console}/field/")
    assert "/login" in page.url
    page.context.close()


def test_given_an_agent_who_left_without_logging_out_when_another_logs_in_then_he_sees_nothing_of_hers(
    browser: Any, tuesday_console: str, engine: Engine, field_seed: dict[str, int]
) -> None:
    from playwright.sync_api import expect

    with transaction(engine) as s:
        s.add(User(username="pablo", display_name="Pablo Ruiz", role="field",
                   password_hash=_password_hash(), territory="CDMX-Coyoacán"))  # fmt: skip
    plan_mx(engine, field_seed)
    page = phone_page(browser, tuesday_console, TUESDAY, DOORS[0])
    lucia_db = f"cobrador-field-{field_seed['lucia']}"
    page.context.set_offline(True)
    open_visit(page, "María López Hernández")
    page.click("#checkin")
    expect(page.locator("#pending")).to_have_text("1 pendiente")
    # Her session ends without a logout (it expired, the phone was handed over).
    page.context.clear_cookies()
    page.context.set_offline(False)
    login(page, tuesday_console, "pablo")
    page.wait_for_selector("body[data-ready='1']")
    expect(page.locator("#route-empty")).to_be_visible()
    assert "María López" not in page.content()
    kept = page.evaluate(PHONE_STORAGE)
    # Her route and answers are gone; her unsent check-in stays for her to send, sealed:
    # the next person reads neither where she was nor anything she typed.
    assert kept["databases"][lucia_db] == {"answers": 0, "days": 0, "outbox": 1}
    (left,) = page.evaluate(
        OUTBOX.replace("document.body.dataset.agent", f"'{field_seed['lucia']}'")
    )
    assert set(left) == {"seq", "key", "visit_id", "kind", "url", "sealed"}
    assert str(DOORS[0][0])[:7] not in json.dumps(left)
    assert kept["local"] == [f"cobrador-field-sync-{page.evaluate('document.body.dataset.agent')}"]
    assert all("Lucía Campos" not in p for p in kept["pages"])

    # She logs in again on the phone: her check-in is sent, then her route is back.
    page.click("#logout button")
    page.wait_for_url("**/login")
    login(page, tuesday_console, "lucia")
    page.wait_for_selector("body[data-ready='1']")
    expect(page.locator("#pending")).to_be_hidden()
    with Session(engine) as s:
        assert s.scalars(
            select(FieldVisit.status).where(FieldVisit.status == "checked_in")
        ).all() == ["checked_in"]
    expect(page.locator("#route li")).to_have_count(4)
    page.context.close()


def test_given_a_visit_cancelled_while_the_agent_was_offline_at_the_door_when_the_phone_syncs_then_kept_as_evidence_and_said(
    browser: Any, tuesday_console: str, engine: Engine, field_seed: dict[str, int]
) -> None:
    from playwright.sync_api import expect

    ids = plan_mx(engine, field_seed)
    page = phone_page(browser, tuesday_console, TUESDAY, DOORS[0])
    page.context.set_offline(True)
    record_visit(page, "María López Hernández", "promesa_pago")
    expect(page.locator("#pending")).to_have_text("2 pendientes")
    # Meanwhile the supervisor took the visit off her day.
    plans.cancel(engine, "user:sofia", ids[0], TUESDAY)
    page.context.set_offline(False)
    page.evaluate("window.cobradorField.sync()")
    expect(page.locator("#pending")).to_be_hidden()
    item = page.locator("#route li:has-text('María López Hernández')")
    expect(item).to_have_class(re.compile(r"\bstop-evidence\b"))
    expect(item.locator(".stop-badge")).to_have_text("Cancelada · constancia guardada")
    open_visit(page, "María López Hernández")
    expect(page.locator("#form-msg")).to_have_text(
        "El supervisor canceló esta visita. Lo que registró en la puerta queda como constancia; "
        "la visita sigue cancelada y no se registró ninguna promesa."
    )
    expect(page.locator("#questionnaire")).to_be_hidden()
    assert page.evaluate(OUTBOX) == []
    with Session(engine) as s:
        visit = s.get(FieldVisit, ids[0])
        assert visit is not None and visit.status == "cancelled" and visit.answers
        disposition = s.scalars(select(Disposition)).one()
        assert (disposition.outcome, disposition.attempt_id) == ("promesa_pago", visit.attempt_id)
    page.context.close()
    # The supervisor who cancelled it sees the contact happened: marked, with its outcome.
    sup = supervisor_page(browser, tuesday_console, TUESDAY.date().isoformat())
    row = sup.locator(f"#visits-table tbody tr[data-visit='{ids[0]}']")
    expect(row.locator(".badge-visit-evidence")).to_have_text("Cancelada · constancia guardada")
    expect(row).to_contain_text("Promesa de pago")
    no_error_banner(sup)
    sup.context.close()


def test_given_a_door_contact_recorded_offline_when_the_law_refuses_its_arrival_at_the_sync_then_kept_as_evidence_and_said(
    browser: Any, tuesday_console: str, engine: Engine, field_seed: dict[str, int]
) -> None:
    """The result queued after a check-in the server refused got 409 and the contact
    was lost; it is kept as evidence, the visit still planned, and the agent is told."""
    from playwright.sync_api import expect

    ids = plan_mx(engine, field_seed)
    page = phone_page(browser, tuesday_console, TUESDAY, DOORS[0])
    page.context.set_offline(True)
    record_visit(page, "María López Hernández", "promesa_pago")
    expect(page.locator("#pending")).to_have_text("2 pendientes")
    # Meanwhile the debtor disputed the debt by phone: the law's check refuses the arrival.
    with transaction(engine) as s:
        visit = s.get(FieldVisit, ids[0])
        assert visit is not None
        account = s.get(Account, visit.account_id)
        assert account is not None
        account.status = "disputed"
    page.context.set_offline(False)
    page.evaluate("window.cobradorField.sync()")
    expect(page.locator("#pending")).to_be_hidden()
    item = page.locator("#route li:has-text('María López Hernández')")
    expect(item.locator(".stop-badge")).to_have_text("Llegada rechazada · constancia guardada")
    open_visit(page, "María López Hernández")
    expect(page.locator("#checkin-msg")).to_contain_text("La ley no permite esta visita ahora")
    expect(page.locator("#form-msg")).to_contain_text("lo que registró en la puerta queda guardado")
    assert page.evaluate(OUTBOX) == []
    with Session(engine) as s:
        visit = s.get(FieldVisit, ids[0])
        assert visit is not None and visit.status == "planned"
        disposition = s.scalars(select(Disposition)).one()
        attempt = s.get(CallAttempt, disposition.attempt_id)
        assert attempt is not None and attempt.details["evidence_only"] == "checkin_refused"  # type: ignore[index]
        assert s.scalar(select(func.count()).select_from(Promise)) == 0
    # A logout wipes the phone's answers: the day itself says the contact is kept, so
    # the visit is not offered again as if nothing had happened at that door.
    page.click("#back")
    page.click("#logout button")
    page.wait_for_url("**/login")
    login(page, tuesday_console, "lucia")
    page.wait_for_selector("body[data-ready='1']")
    item = page.locator("#route li:has-text('María López Hernández')")
    expect(item.locator(".stop-badge")).to_have_text("Llegada rechazada · constancia guardada")
    open_visit(page, "María López Hernández")
    expect(page.locator("#checkin")).to_be_hidden()
    expect(page.locator("#questionnaire")).to_be_hidden()
    expect(page.locator("#checkin-msg")).to_contain_text("La ley no permite esta visita ahora")
    expect(page.locator("#form-msg")).to_contain_text("No repita la visita")
    page.context.close()


def test_given_a_door_contact_recorded_offline_2km_from_the_address_when_the_phone_syncs_then_kept_as_evidence_and_said(
    browser: Any, tuesday_console: str, engine: Engine, field_seed: dict[str, int]
) -> None:
    """The geofence's refusal lost the result recorded at the door (409): a debtor's
    stop asked there bound nothing. Kept, the distance said, no check-in offered again."""
    from playwright.sync_api import expect

    ids = plan_mx(engine, field_seed)
    page = phone_page(browser, tuesday_console, TUESDAY, north_of(DOORS[0], 2000))
    page.context.set_offline(True)
    record_visit(page, "María López Hernández", "no_contactar")
    expect(page.locator("#pending")).to_have_text("2 pendientes")
    page.context.set_offline(False)
    page.evaluate("window.cobradorField.sync()")
    expect(page.locator("#pending")).to_be_hidden()
    item = page.locator("#route li:has-text('María López Hernández')")
    expect(item.locator(".stop-badge")).to_have_text("Llegada rechazada · constancia guardada")
    open_visit(page, "María López Hernández")
    expect(page.locator("#checkin")).to_be_hidden()
    expect(page.locator("#checkin-msg")).to_have_text(
        "La ubicación de la llegada estaba a 2,0 km del domicilio, demasiado lejos."
    )
    expect(page.locator("#form-msg")).to_contain_text("queda guardado como constancia")
    assert page.evaluate(OUTBOX) == []
    with Session(engine) as s:
        visit = s.get(FieldVisit, ids[0])
        assert visit is not None and visit.status == "planned"
        account = s.get(Account, visit.account_id)
        assert account is not None and account.status == "cease_contact"
        disposition = s.scalars(select(Disposition)).one()
        attempt = s.get(CallAttempt, disposition.attempt_id)
        assert attempt is not None and attempt.details["refused"] == ["too_far"]  # type: ignore[index]
    page.context.close()
    # Her supervisor, who would plan it again, sees a contact happened there.
    sup = supervisor_page(browser, tuesday_console, TUESDAY.date().isoformat())
    row = sup.locator(f"#visits-table tbody tr[data-visit='{ids[0]}']")
    expect(row.locator(".badge-visit-refused_evidence")).to_have_text(
        "Llegada rechazada · constancia guardada"
    )
    expect(row).to_contain_text("Pide no ser contactado")
    expect(row.locator("button")).to_have_count(1)  # she may cancel it to plan it again
    # On the map its mark is the legend's "Llegada rechazada" (colour and shape), and
    # that one no longer reads as "Fallida u omitida" (two near reds before): another
    # colour and another shape, for a supervisor who cannot tell the colours apart.
    legend = {code: look(sup, f'#map-legend [data-mark="{code}"] .mark') for code in MARKS}
    assert look(sup, f'.visit-mark[data-visit="{ids[0]}"] .mark') == legend["refused_evidence"]
    assert look(sup, f'.visit-mark[data-visit="{ids[1]}"] .mark') == legend["planned"]
    assert len({(c["background"], c["shape"]) for c in legend.values()}) == len(MARKS)
    refused, failed = legend["refused_evidence"], legend["failed"]
    assert refused["shape"] != failed["shape"]
    assert colour_distance(refused["background"], failed["background"]) > 40
    assert colour_distance(legend["evidence"]["background"], refused["background"]) > 40
    no_error_banner(sup)
    sup.context.close()


MARKS = ("planned", "in_progress", "done", "failed", "evidence", "refused_evidence")


def look(page: Any, selector: str) -> dict[str, str]:
    """What an element's mark looks like: its colour and its shape (clip path, corners)."""
    return dict(
        page.eval_on_selector(
            selector,
            """(el) => {
      const s = getComputedStyle(el);
      return {background: s.backgroundColor, shape: `${s.clipPath} ${s.borderRadius}`};
    }""",
        )
    )


def colour_distance(first: str, second: str) -> float:
    """CIE76 distance between two CSS rgb() colours (about 2: just noticeable; the old
    failed and refused reds were 11 apart)."""

    def lab(css: str) -> tuple[float, float, float]:
        r, g, b = (int(x) / 255 for x in re.findall(r"\d+", css)[:3])
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        x = (0.4124 * lin[0] + 0.3576 * lin[1] + 0.1805 * lin[2]) / 0.95047
        y = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
        z = (0.0193 * lin[0] + 0.1192 * lin[1] + 0.9505 * lin[2]) / 1.08883
        f = [t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116 for t in (x, y, z)]
        return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])

    return sum((a - b) ** 2 for a, b in zip(lab(first), lab(second), strict=True)) ** 0.5


def test_given_a_door_contact_recorded_offline_when_the_account_lost_its_coordinates_before_the_sync_then_kept_as_evidence_and_said(
    browser: Any, tuesday_console: str, engine: Engine, field_seed: dict[str, int]
) -> None:
    """A new import took the account's coordinates off while the agent was at the door
    offline: the check-in's 409 was written nowhere and the result queued after it was
    a 409 'Primero registre la llegada', dropped from the queue: the contact was lost.
    Kept as evidence now, and the app says so."""
    from playwright.sync_api import expect

    ids = plan_mx(engine, field_seed)
    page = phone_page(browser, tuesday_console, TUESDAY, DOORS[0])
    page.context.set_offline(True)
    record_visit(page, "María López Hernández", "no_contactar")
    expect(page.locator("#pending")).to_have_text("2 pendientes")
    with transaction(engine) as s:
        visit = s.get(FieldVisit, ids[0])
        assert visit is not None
        account = s.get(Account, visit.account_id)
        assert account is not None
        account.latitude = account.longitude = None
    page.context.set_offline(False)
    page.evaluate("window.cobradorField.sync()")
    expect(page.locator("#pending")).to_be_hidden()
    item = page.locator("#route li:has-text('María López Hernández')")
    expect(item.locator(".stop-badge")).to_have_text("Llegada rechazada · constancia guardada")
    open_visit(page, "María López Hernández")
    expect(page.locator("#checkin")).to_be_hidden()
    expect(page.locator("#checkin-msg")).to_have_text(
        "La cuenta ya no tenía coordenadas del domicilio: no se pudo comprobar el lugar de la "
        "llegada."
    )
    expect(page.locator("#form-msg")).to_contain_text("queda guardado como constancia")
    assert page.evaluate(OUTBOX) == []
    with Session(engine) as s:
        visit = s.get(FieldVisit, ids[0])
        assert visit is not None and visit.status == "planned"
        account = s.get(Account, visit.account_id)
        assert account is not None and account.status == "cease_contact"
        disposition = s.scalars(select(Disposition)).one()
        attempt = s.get(CallAttempt, disposition.attempt_id)
        assert attempt is not None and attempt.details["refused"] == ["no_coordinates"]  # type: ignore[index]
    page.context.close()


def test_given_a_phone_without_a_gps_fix_when_the_agent_checks_in_offline_then_nothing_is_queued_and_she_is_asked_again(
    browser: Any, tuesday_console: str, engine: Engine, field_seed: dict[str, int]
) -> None:
    """A phone without a fix reports (0, 0): the check-in was queued, refused at the sync
    with a 400 written nowhere, and the result queued after it answered 409 'Primero
    registre la llegada', the door contact lost. Such a reading is not queued now: the
    agent, at the door, is told to try again, and her next reading is."""
    from playwright.sync_api import expect

    plan_mx(engine, field_seed)
    page = phone_page(browser, tuesday_console, TUESDAY, DOORS[0])
    page.context.set_offline(True)
    page.context.set_geolocation({"latitude": 0, "longitude": 0, "accuracy": 5})
    open_visit(page, "María López Hernández")
    page.click("#checkin")
    expect(page.locator("#checkin-msg")).to_have_text(
        "No se pudo obtener la ubicación; inténtelo de nuevo."
    )
    assert page.evaluate(OUTBOX) == []
    expect(page.locator("#questionnaire")).to_be_hidden()
    page.context.set_geolocation({"latitude": DOORS[0][0], "longitude": DOORS[0][1], "accuracy": 8})
    page.click("#checkin")
    expect(page.locator("#pending")).to_have_text("1 pendiente")
    expect(page.locator("#questionnaire")).to_be_visible()
    page.context.close()


def test_given_an_agent_who_left_without_logging_out_when_the_phone_shows_the_login_page_then_her_route_goes_and_her_queue_stays(
    browser: Any, tuesday_console: str, engine: Engine, field_seed: dict[str, int]
) -> None:
    """Her route (names, addresses, amounts) stayed on the phone until another field
    agent opened the app: opening /field/ once her session was over only showed the
    login page. That page now forgets every field agent's data but a queue never sent."""
    from playwright.sync_api import expect

    plan_mx(engine, field_seed)
    page = phone_page(browser, tuesday_console, TUESDAY, DOORS[0])
    lucia_db = f"cobrador-field-{field_seed['lucia']}"
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()  # kept by the service worker
    page.wait_for_selector("body[data-ready='1']")
    page.context.set_offline(True)
    open_visit(page, "María López Hernández")
    page.click("#checkin")
    expect(page.locator("#pending")).to_have_text("1 pendiente")
    page.context.clear_cookies()  # her session is over; nobody pressed "Salir"
    page.context.set_offline(False)
    page.goto(f"{tuesday_console}/field/")
    page.wait_for_selector("body[data-field-leftovers='1']")
    assert "/login" in page.url
    kept = page.evaluate(PHONE_STORAGE)
    assert kept == {"databases": {lucia_db: {"answers": 0, "days": 0, "outbox": 1}},
                    "local": [], "pages": []}  # fmt: skip
    # She logs in again: her check-in is sent, her route is back.
    login(page, tuesday_console, "lucia")
    page.wait_for_selector("body[data-ready='1']")
    expect(page.locator("#pending")).to_be_hidden()
    expect(page.locator("#route li")).to_have_count(4)
    with Session(engine) as s:
        assert s.scalars(
            select(FieldVisit.status).where(FieldVisit.status == "checked_in")
        ).all() == ["checked_in"]
    # Her session over again with nothing unsent: nothing of hers stays.
    page.context.clear_cookies()
    page.goto(f"{tuesday_console}/field/")
    page.wait_for_selector("body[data-field-leftovers='1']")
    assert page.evaluate(PHONE_STORAGE) == {"databases": {}, "local": [], "pages": []}
    page.context.close()


ANSWERS = OUTBOX.replace("'outbox'", "'answers'")


def test_given_a_promise_recorded_offline_above_a_balance_lowered_before_the_sync_then_refused_and_her_answers_come_back_to_correct(
    browser: Any, tuesday_console: str, engine: Engine, field_seed: dict[str, int]
) -> None:
    """A payment lowered the balance after the route was downloaded: the promise she
    typed at the door is refused (422) at the sync. What she typed (who answered, the
    outcome, the amount, the date, her notes) was dropped with the queued operation and
    the questionnaire reopened empty; now it comes back, after a reload too, beside the
    reason in Spanish, kept sealed on the phone, and once corrected it is saved."""
    from playwright.sync_api import expect

    plan_mx(engine, field_seed)
    page = phone_page(browser, tuesday_console, TUESDAY, DOORS[0])
    page.context.set_offline(True)
    record_visit(page, "María López Hernández", "promesa_pago")
    expect(page.locator("#pending")).to_have_text("2 pendientes")
    with transaction(engine) as s:  # a payment since the route was downloaded
        account = s.get(Account, field_seed["MX-0001"])
        assert account is not None
        account.balance = Decimal("1000.00")
    page.context.set_offline(False)
    page.evaluate("window.cobradorField.sync()")
    expect(page.locator("#pending")).to_be_hidden()
    answers = page.evaluate(ANSWERS)
    assert sorted(a["status"] for a in answers) == [200, 422]
    stored = json.dumps(answers, ensure_ascii=False)
    for clear in ("sin señal", "1200", "2026-12-10", "titular"):
        assert clear not in stored, clear  # kept sealed to the console, as queued

    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    open_visit(page, "María López Hernández")
    expect(page.locator("#form-msg")).to_have_text(
        "Revise las respuestas marcadas. El monto no puede ser mayor que el saldo (1000.00)."
    )
    expect(page.locator("#questionnaire")).to_be_visible()
    expect(page.locator("#q-promise_amount")).to_have_value("1200.00")
    expect(page.locator("#q-promise_date")).to_have_value("2026-12-10")
    expect(page.locator("#q-notes")).to_have_value("Visita a María López Hernández sin señal.")
    expect(page.locator('#questions input[name="party"][value="titular"]')).to_be_checked()
    expect(page.locator('#questions input[name="outcome"][value="promesa_pago"]')).to_be_checked()
    expect(page.locator('#questions input[name="address_verified"][value="si"]')).to_be_checked()

    page.fill("#q-promise_amount", "900.00")
    page.click("#save")
    expect(page.locator("#form-msg")).to_have_text("Resultado guardado.")
    with Session(engine) as s:
        promise = s.scalars(select(Promise)).one()
        assert promise.amount == Decimal("900.00")
        assert s.scalars(select(Disposition.notes)).all() == [
            "Visita a María López Hernández sin señal."
        ]
    page.context.close()
