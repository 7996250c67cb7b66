"""The field app's API and the supervisors' field page through the console: roles,
plans, check-ins at the address, results synced once, positions only on shift with
consent, and every bad input answered 4xx with a reason."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from babel.dates import format_date
from console_fixtures import NOW, Seed, _password_hash, login
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from cobrador.ground.money_words import money_format
from cobrador.ground.settings import Settings
from compliance.engine import Decision
from console import field_views
from console.app import init_app
from metrics.definitions import REGISTRY
from store.db import transaction
from store.models import Account, AuditEntry, Campaign, Disposition, FieldPosition, FieldVisit, User

HOME = (19.3500, -99.1620)  # María López's door in the seed
DAY = NOW.date().isoformat()
CLOCK = [NOW]  # the console's clock; a test moves it


@pytest.fixture(autouse=True)
def reset_clock() -> None:
    CLOCK[0] = NOW


class Check:
    """Allows every visit except to the accounts in `refuse`."""

    def __init__(self) -> None:
        self.refuse: dict[int, tuple[str, ...]] = {}

    def __call__(self, session: Session, account: Account, at: Any) -> Decision:
        reasons = self.refuse.get(account.id, ())
        return Decision(not reasons, reasons, "TEST@1", {}, None, None, at)


@pytest.fixture
def check() -> Check:
    return Check()


@pytest.fixture
async def field_client(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, engine: Engine,
    aredis: aioredis.Redis, seed: Seed, check: Check,
) -> TestClient:  # fmt: skip
    with transaction(engine) as s:
        for name in ("lucia", "mario"):
            s.add(User(username=name, display_name=name.title(), role="field",
                       password_hash=_password_hash(), territory="CDMX"))  # fmt: skip
        s.execute(
            update(Account)
            .where(Account.id == seed.account_id)
            .values(latitude=HOME[0], longitude=HOME[1], address="Av. Universidad 3000")
        )
        s.execute(update(Account).where(Account.id == seed.other_account_id)
                  .values(latitude=HOME[0] + 0.01, longitude=HOME[1], address="Calle 2"))  # fmt: skip
    app = init_app(settings, engine, aredis, clock=lambda: CLOCK[0], visit_check=check)
    return await aiohttp_client(app)


def user_id(engine: Engine, name: str) -> int:
    with Session(engine) as s:
        uid = s.scalar(select(User.id).where(User.username == name))
        assert uid is not None
        return uid


async def post(client: TestClient, token: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    resp = await client.post(path, json=body, headers={"X-CSRF-Token": token})
    return resp.status, await resp.json()


async def planned(client: TestClient, engine: Engine) -> list[int]:
    token = await login(client, "sofia")
    status, data = await post(client, token, "/api/supervisor/field/plan",
                              {"agent_id": user_id(engine, "lucia"), "day": DAY,
                               "account_refs": ["MX-0001", "MX-0002"]})  # fmt: skip
    assert status == 200 and len(data["planned"]) == 2, data
    await client.post("/logout", data={"_csrf": token})
    return list(data["planned"])


def fix(metres_north: float = 0, accuracy: float = 10, at: Any = NOW) -> dict[str, Any]:
    return {"lat": HOME[0] + metres_north / 111_195.0, "lon": HOME[1], "accuracy": accuracy,
            "at": at if isinstance(at, str) else at.isoformat()}  # fmt: skip


def key() -> str:
    return "k-" + uuid.uuid4().hex


async def test_given_roles_then_field_pages_for_field_agents_and_supervisors_only(
    field_client: TestClient,
) -> None:
    for name, allowed, denied in [
        ("lucia", ["/field/", "/api/field/day", "/api/field/shift"],
         ["/supervisor/field", "/api/supervisor/field/live", "/agent"]),
        ("sofia", ["/supervisor/field", "/api/supervisor/field/live",
                   "/api/supervisor/field/accounts"], ["/field/", "/api/field/day"]),
        ("ana", [], ["/field/", "/api/field/day", "/supervisor/field"]),
    ]:  # fmt: skip
        token = await login(field_client, name)
        for path in allowed:
            assert (await field_client.get(path)).status == 200, (name, path)
        for path in denied:
            assert (await field_client.get(path, allow_redirects=False)).status == 403, (name, path)
        await field_client.post("/logout", data={"_csrf": token})
    assert (await field_client.get("/api/field/day")).status == 401
    # The route's day in words, the app's key in ISO.
    await login(field_client, "lucia")
    page = await (await field_client.get("/field/")).text()
    shown = format_date(
        NOW.astimezone(ZoneInfo("America/Mexico_City")).date(), "long", locale="es_MX"
    )
    assert f'<span id="day">{shown}</span>' in page and f'data-today="{DAY}"' in page
    assert (await field_client.get("/field/manifest.webmanifest")).status == 200
    sw = await field_client.get("/field/sw.js")
    assert sw.status == 200 and sw.headers["Service-Worker-Allowed"] == "/field/"


async def test_given_plan_then_agent_day_in_route_order_with_questionnaires(
    field_client: TestClient, engine: Engine
) -> None:
    ids = await planned(field_client, engine)
    await login(field_client, "lucia")
    day = await (await field_client.get("/api/field/day")).json()
    assert [v["id"] for v in day["visits"]] == sorted(ids, key=lambda i: ids.index(i)) or day
    assert {v["account_ref"] for v in day["visits"]} == {"MX-0001", "MX-0002"}
    assert day["route_m"] == pytest.approx(1112, abs=2)
    # The balance in the account's notation, beside the raw figure the app keys on.
    for v in day["visits"]:
        assert v["balance_shown"].startswith("$") and v["balance_shown"].endswith(" MXN")
        assert v["balance_shown"] == money_format("MX", "MXN").show(Decimal(v["balance"]))
    assert [q["key"] for q in day["questionnaires"]["firm"]][:2] == ["party", "outcome"]


async def test_given_checkin_40m_then_accepted_and_2km_refused_with_distance(
    field_client: TestClient, engine: Engine
) -> None:
    ids = await planned(field_client, engine)
    token = await login(field_client, "lucia")
    visit = _visit_of(engine, "MX-0001", ids)
    status, far = await post(field_client, token, f"/api/field/visits/{visit}/checkin",
                             {"key": key(), "fix": fix(2000)})  # fmt: skip
    assert status == 422 and far["distance_m"] == 2000 and "2,0 km" in far["reason"]
    status, near = await post(field_client, token, f"/api/field/visits/{visit}/checkin",
                              {"key": key(), "fix": fix(40)})  # fmt: skip
    assert status == 200 and near["distance_m"] == 40


async def test_given_phone_clock_13h_behind_when_checking_in_at_23h_then_judged_at_receipt(
    field_client: TestClient, engine: Engine
) -> None:
    ids = await planned(field_client, engine)
    token = await login(field_client, "lucia")
    visit = _visit_of(engine, "MX-0001", ids)
    CLOCK[0] = NOW + timedelta(hours=10)  # 21:00 in Mexico City (UTC-6)
    phone = CLOCK[0] - timedelta(hours=13)  # the phone shows 08:00
    status, body = await post(field_client, token, f"/api/field/visits/{visit}/checkin",
                              {"key": key(), "fix": fix(5, at=phone),
                               "sent_at": (phone + timedelta(seconds=2)).isoformat()})  # fmt: skip
    assert status == 200, body
    with Session(engine) as s:
        row = s.get(FieldVisit, visit)
        assert row is not None and row.checked_in_at is not None
        assert row.checked_in_at.replace(tzinfo=None) == CLOCK[0].replace(tzinfo=None)


@pytest.mark.parametrize("fast", [timedelta(minutes=3), timedelta(hours=5), timedelta(days=400)])
async def test_given_phone_clock_fast_when_checking_in_online_then_judged_at_receipt(
    field_client: TestClient, engine: Engine, fast: timedelta
) -> None:
    """A phone minutes, hours or a year fast, sent as the agent acted: its clock report
    shows the act and the sending seconds apart on its own clock, so the check-in is
    judged at the server's receipt (it was a 400, "dated in the future", at the door)."""
    ids = await planned(field_client, engine)
    token = await login(field_client, "lucia")
    visit = _visit_of(engine, "MX-0001", ids)
    phone = CLOCK[0] + fast
    status, body = await post(field_client, token, f"/api/field/visits/{visit}/checkin",
                              {"key": key(), "fix": fix(5, at=phone),
                               "sent_at": (phone + timedelta(seconds=3)).isoformat()})  # fmt: skip
    assert status == 200, body
    with Session(engine) as s:
        row = s.get(FieldVisit, visit)
        assert row is not None and row.checked_in_at is not None
        assert row.checked_in_at.replace(tzinfo=None) == CLOCK[0].replace(tzinfo=None)


async def test_given_phone_clock_fast_when_a_queued_checkin_is_sent_then_the_offline_rules(
    field_client: TestClient, engine: Engine
) -> None:
    """Queued offline on a phone an hour fast: accepted at the act moved onto the
    server's clock when the clock was steady since the last sync; refused as
    clock_unsure when it changed meanwhile or no sync came before the act."""
    ids = await planned(field_client, engine)
    token = await login(field_client, "lucia")
    fast = timedelta(hours=1)
    CLOCK[0] = NOW + timedelta(hours=2)  # 13:00 in Mexico City; planned at 11:00
    synced = CLOCK[0] - timedelta(minutes=40)  # the server's time at the last sync
    acted = CLOCK[0] - timedelta(minutes=30)  # on the server's clock
    body = {"fix": fix(5, at=acted + fast), "sent_at": (CLOCK[0] + fast).isoformat()}
    changed = {**body, "key": key(), "synced": {"server_at": synced.isoformat(),
                                                "device_at": synced.isoformat()}}  # fmt: skip
    first = _visit_of(engine, "MX-0001", ids)
    status, refused = await post(field_client, token, f"/api/field/visits/{first}/checkin", changed)
    assert status == 422 and refused["why"] == "clock_changed", refused
    status, refused = await post(field_client, token, f"/api/field/visits/{first}/checkin",
                                 {**body, "key": key()})  # fmt: skip
    assert status == 422 and refused["why"] == "no_sync_before", refused
    steady = {**body, "key": key(), "synced": {"server_at": synced.isoformat(),
                                               "device_at": (synced + fast).isoformat()}}  # fmt: skip
    status, answer = await post(field_client, token, f"/api/field/visits/{first}/checkin", steady)
    assert status == 200, answer
    with Session(engine) as s:
        row = s.get(FieldVisit, first)
        assert row is not None and row.checked_in_at is not None
        assert row.checked_in_at.replace(tzinfo=None) == acted.replace(tzinfo=None)


async def test_given_phone_clock_fast_when_skipping_then_not_refused_for_its_time(
    field_client: TestClient, engine: Engine
) -> None:
    ids = await planned(field_client, engine)
    token = await login(field_client, "lucia")
    status, body = await post(field_client, token, f"/api/field/visits/{ids[0]}/skip",
                              {"key": key(), "reason": "No abren",
                               "fix": fix(5, at=CLOCK[0] + timedelta(hours=3))})  # fmt: skip
    assert status == 200, body


async def test_given_an_unsure_clock_then_refused_in_the_agents_language(
    field_client: TestClient, engine: Engine
) -> None:
    ids = await planned(field_client, engine)
    token = await login(field_client, "lucia")
    visit = _visit_of(engine, "MX-0001", ids)
    CLOCK[0] = NOW + timedelta(hours=10)
    phone = CLOCK[0] - timedelta(hours=13)
    status, body = await post(field_client, token, f"/api/field/visits/{visit}/checkin",
                              {"key": key(), "fix": fix(5, at=phone)})  # fmt: skip
    assert status == 422 and body["refusal"] == "clock_unsure"
    assert "reloj del teléfono" in body["reason"]
    assert body["device_at"] == phone.isoformat() and body["received_at"] == CLOCK[0].isoformat()
    await field_client.get("/field/?lang=en")
    status, body = await post(field_client, token + "", f"/api/field/visits/{visit}/checkin",
                              {"key": key(), "fix": fix(5, at=phone)})  # fmt: skip
    assert status == 422 and "phone's clock" in body["reason"], body


def _visit_of(engine: Engine, ref: str, ids: list[int]) -> int:
    with Session(engine) as s:
        return s.scalars(select(FieldVisit.id).join(Account, Account.id == FieldVisit.account_id)
                         .where(Account.external_ref == ref, FieldVisit.id.in_(ids))).one()  # fmt: skip


RESULT = {"party": "titular", "outcome": "promesa_pago", "promise_amount": "1000.00",
          "promise_date": "2026-11-30", "address_verified": True}  # fmt: skip


async def test_given_result_sent_three_times_then_one_disposition(
    field_client: TestClient, engine: Engine
) -> None:
    ids = await planned(field_client, engine)
    token = await login(field_client, "lucia")
    visit = _visit_of(engine, "MX-0001", ids)
    assert (await post(field_client, token, f"/api/field/visits/{visit}/checkin",
                       {"key": key(), "fix": fix(10)}))[0] == 200  # fmt: skip
    body = {"key": key(), "answers": RESULT}
    labels = {"country": "MX", "outcome": "promesa_pago"}
    before = REGISTRY.get_sample_value("cobrador_field_visits_total", labels) or 0
    hour = {"country": "MX", "region": "unknown", "hour": "11"}  # 17:00 UTC in Mexico City
    hour_before = REGISTRY.get_sample_value("cobrador_field_local_hour_contacts_total", hour) or 0
    answers = [
        await post(field_client, token, f"/api/field/visits/{visit}/result", body) for _ in range(3)
    ]
    assert [s for s, _ in answers] == [200, 200, 200]
    assert (
        "replayed" not in answers[0][1] and answers[1][1]["replayed"] and answers[2][1]["replayed"]
    )
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Disposition)) == 1
    # Counted once, whatever the replays.
    assert REGISTRY.get_sample_value("cobrador_field_visits_total", labels) == before + 1
    assert (
        REGISTRY.get_sample_value("cobrador_field_local_hour_contacts_total", hour)
        == hour_before + 1
    )


async def test_given_another_agents_visit_then_404_and_nothing_written(
    field_client: TestClient, engine: Engine
) -> None:
    ids = await planned(field_client, engine)
    token = await login(field_client, "mario")
    for path, body in [(f"/api/field/visits/{ids[0]}/checkin", {"key": key(), "fix": fix(0)}),
                       (f"/api/field/visits/{ids[0]}/result", {"key": key(), "answers": RESULT}),
                       (f"/api/field/visits/{ids[0]}/skip", {"key": key()})]:  # fmt: skip
        status, data = await post(field_client, token, path, body)
        assert status == 404, (path, data)
    day = await (await field_client.get("/api/field/day")).json()
    assert day["visits"] == []
    with Session(engine) as s:
        assert set(s.scalars(select(FieldVisit.status))) == {"planned"}


BAD = [
    ("/api/field/visits/{v}/checkin", {"key": "short", "fix": fix(0)}, 400, "clave"),
    ("/api/field/visits/{v}/checkin", {"key": key()}, 400, "Ubicación no válida"),
    ("/api/field/visits/{v}/checkin", {"key": key(), "fix": {**fix(0), "lat": 95}}, 400, "not a point"),
    ("/api/field/visits/{v}/checkin", {"key": key(), "fix": {**fix(0), "lon": "oeste"}}, 400, "numbers"),
    # A phone an hour fast that reports no clock (an older app): it cannot show it was
    # sent as it acted, so it is refused as clock_unsure with the reason, not a 400.
    ("/api/field/visits/{v}/checkin", {"key": key(), "fix": fix(0, at=NOW + timedelta(hours=1))}, 422, "reloj del teléfono"),
    ("/api/field/visits/{v}/checkin", {"key": key(), "fix": fix(0, at="0001-01-01T00:00:00+00:00")}, 400, "between the years"),
    ("/api/field/visits/{v}/checkin", {"key": key(), "fix": {**fix(0), "at": 17}}, 400, "ISO 8601"),
    ("/api/field/visits/{v}/checkin", {"key": key(), "fix": fix(0), "sent_at": "9999-12-31T23:59:59+00:00"}, 400, "Reloj no válido"),
    ("/api/field/visits/{v}/checkin", {"key": key(), "fix": fix(0), "sent_at": NOW.isoformat(), "synced": {"server_at": "0001-01-01T00:00:00+00:00", "device_at": NOW.isoformat()}}, 400, "Reloj no válido"),
    ("/api/field/visits/abc/checkin", {"key": key(), "fix": fix(0)}, 400, "visit_id"),
    ("/api/field/visits/{v}/checkin", {"key": key(), "fix": fix(0), "sent_at": "ayer"}, 400, "Reloj no válido"),
    ("/api/field/visits/{v}/checkin", {"key": key(), "fix": fix(0), "synced": [1]}, 400, "synced"),
    ("/api/field/visits/99999999999999999999/checkin", {"key": key(), "fix": fix(0)}, 400, "visit_id"),
    ("/api/field/visits/{v}/skip", {"key": key(), "reason": 5}, 400, "texto"),
    ("/api/field/position", {"fix": fix(0), "battery": 7}, 400, "batería"),
    # JSON integers no float holds (OverflowError, a 500 before).
    ("/api/field/position", {"fix": fix(0), "battery": 10**400}, 400, "batería"),
    ("/api/field/visits/{v}/checkin", {"key": key(), "fix": {**fix(0), "lat": 10**400}}, 400, "finite"),
    ("/api/field/position", {"fix": "aquí", "battery": 0.5}, 400, "Ubicación"),
    ("/api/field/shift", {"action": "dormir"}, 400, "start o end"),
    ("/api/field/visits/{v}/result", {"key": key(), "answers": {}, "acted_at": "ayer"}, 400, "acted_at"),
    ("/api/field/visits/{v}/result", {"key": key(), "answers": {}, "acted_at": "2026-11-24T10:00:00"}, 400, "UTC offset"),
    ("/api/field/visits/{v}/result", {"key": key(), "answers": {}, "sent_at": 5}, 400, "Reloj no válido"),
    ("/api/field/position", {"fix": {**fix(0), "lat": 0, "lon": 0}, "battery": 0.5}, 400, "no reading"),
    ("/api/field/shift", {"action": "start", "consent": "sí"}, 400, "consent"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "status", "reason"), BAD)
async def test_given_bad_field_input_then_4xx_with_reason(
    field_client: TestClient,
    engine: Engine,
    path: str,
    body: dict[str, Any],
    status: int,
    reason: str,
) -> None:
    ids = await planned(field_client, engine)
    token = await login(field_client, "lucia")
    got, data = await post(field_client, token, path.format(v=ids[0]), body)
    assert got == status and reason in data["reason"], data


async def test_given_not_json_or_huge_photo_then_400_and_413(
    field_client: TestClient, engine: Engine
) -> None:
    ids = await planned(field_client, engine)
    token = await login(field_client, "lucia")
    resp = await field_client.post(f"/api/field/visits/{ids[0]}/result", data=b"[1, 2",
                                   headers={"X-CSRF-Token": token, "Content-Type": "application/json"})  # fmt: skip
    assert resp.status == 400 and "objeto JSON" in (await resp.json())["reason"]
    photo = (
        "data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8\xff" + b"0" * 3_000_000).decode()
    )
    resp = await field_client.post(f"/api/field/visits/{ids[0]}/result",
                                   json={"key": key(), "answers": {**RESULT, "photo": photo}},
                                   headers={"X-CSRF-Token": token})  # fmt: skip
    assert resp.status == 413 and "demasiado grande" in (await resp.json())["reason"]


async def test_given_positions_then_kept_only_on_shift_with_consent_and_shown_on_the_map(
    field_client: TestClient, engine: Engine
) -> None:
    token = await login(field_client, "lucia")
    status, data = await post(
        field_client, token, "/api/field/position", {"fix": fix(0), "battery": 0.8}
    )
    assert (status, data["kept"]) == (200, False)  # off shift: dropped
    await post(field_client, token, "/api/field/shift", {"action": "start", "consent": False})
    assert (
        await post(field_client, token, "/api/field/position", {"fix": fix(0), "battery": 0.8})
    )[1]["kept"] is False
    status, shift = await post(
        field_client, token, "/api/field/shift", {"action": "start", "consent": True}
    )
    assert shift["on_shift"] and shift["sharing"]
    assert (
        await post(field_client, token, "/api/field/position", {"fix": fix(0), "battery": 0.8})
    )[1]["kept"] is True
    assert (
        await post(field_client, token, "/api/field/position", {"fix": fix(5), "battery": 0.8})
    )[1]["kept"] is False  # too soon
    await field_client.post("/logout", data={"_csrf": token})
    token = await login(field_client, "sofia")
    live = await (await field_client.get("/api/supervisor/field/live")).json()
    assert [(p["agent"], p["battery"]) for p in live["positions"]] == [("Lucia", 0.8)]
    assert (await field_client.get("/supervisor/field")).status == 200
    with Session(engine) as s:
        kinds = [e.kind for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert s.scalar(select(func.count()).select_from(FieldPosition)) == 1
    assert kinds.count("field_shift") == 2 and "field_map_view" in kinds


@pytest.mark.parametrize("off", [timedelta(minutes=3), timedelta(hours=-5), timedelta(days=400)])
async def test_given_a_phone_whose_clock_is_off_when_it_reports_then_kept_at_the_servers_time(
    field_client: TestClient, engine: Engine, off: timedelta
) -> None:
    # Sent live: a phone 3 min fast used to get 400 "dated in the future" on every report.
    token = await login(field_client, "lucia")
    await post(field_client, token, "/api/field/shift", {"action": "start", "consent": True})
    status, data = await post(field_client, token, "/api/field/position",
                              {"fix": fix(0, at=NOW + off), "battery": 0.8})  # fmt: skip
    assert (status, data["kept"]) == (200, True)
    with Session(engine) as s:
        at = s.scalars(select(FieldPosition.at)).one()
    assert at.replace(tzinfo=None) == NOW.replace(tzinfo=None)


async def test_given_shift_ended_then_position_off_the_map(
    field_client: TestClient, engine: Engine
) -> None:
    token = await login(field_client, "lucia")
    await post(field_client, token, "/api/field/shift", {"action": "start", "consent": True})
    await post(field_client, token, "/api/field/position", {"fix": fix(0), "battery": 0.5})
    await post(field_client, token, "/api/field/shift", {"action": "end"})
    assert (
        await post(field_client, token, "/api/field/position", {"fix": fix(0), "battery": 0.5})
    )[1]["kept"] is False
    await field_client.post("/logout", data={"_csrf": token})
    await login(field_client, "sofia")
    live = await (await field_client.get("/api/supervisor/field/live")).json()
    assert live["positions"] == []


BAD_PLANS = [
    ({"agent_id": "lucia", "account_refs": ["MX-0001"]}, 400, "gestor"),
    ({"agent_id": 1, "account_refs": "MX-0001"}, 400, "lista"),
    ({"agent_id": 1, "account_refs": ["MX-0001"], "day": "mañana"}, 400, "AAAA-MM-DD"),
    ({"agent_id": 1, "account_refs": ["x"] * 301}, 400, "hasta 300"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "status", "reason"), BAD_PLANS)
async def test_given_bad_plan_request_then_4xx_with_reason(
    field_client: TestClient, body: dict[str, Any], status: int, reason: str
) -> None:
    token = await login(field_client, "sofia")
    got, data = await post(field_client, token, "/api/supervisor/field/plan", body)
    assert got == status and reason in data["reason"], data


async def test_given_plan_for_a_non_field_user_or_refused_account_then_said(
    field_client: TestClient, engine: Engine, seed: Seed, check: Check
) -> None:
    token = await login(field_client, "sofia")
    got, data = await post(field_client, token, "/api/supervisor/field/plan",
                           {"agent_id": seed.users["ana"], "account_refs": ["MX-0001"]})  # fmt: skip
    assert got == 422 and "gestor de campo" in data["reason"]
    check.refuse[seed.other_account_id] = ("visit_not_authorised",)
    got, data = await post(field_client, token, "/api/supervisor/field/plan",
                           {"agent_id": user_id(engine, "lucia"),
                            "account_refs": ["MX-0001", "MX-0002", "NOPE"]})  # fmt: skip
    assert got == 200 and len(data["planned"]) == 1
    assert {r["external_ref"]: r["reasons"] for r in data["refused"]} == {
        "MX-0002": ["visit_not_authorised"],
        "NOPE": ["no_account"],
    }


async def test_given_visit_ended_then_supervisor_notified_once(
    field_client: TestClient, engine: Engine
) -> None:
    ids = await planned(field_client, engine)
    token = await login(field_client, "sofia")
    first = await (await field_client.get("/api/supervisor/field/live")).json()
    since = first["now"]
    await field_client.post("/logout", data={"_csrf": token})
    token = await login(field_client, "lucia")
    visit = _visit_of(engine, "MX-0001", ids)
    await post(
        field_client, token, f"/api/field/visits/{visit}/checkin", {"key": key(), "fix": fix(0)}
    )
    CLOCK[0] = NOW + timedelta(minutes=9)  # the result comes after the page's last look
    await post(
        field_client, token, f"/api/field/visits/{visit}/result", {"key": key(), "answers": RESULT}
    )
    await field_client.post("/logout", data={"_csrf": token})
    await login(field_client, "sofia")
    live = await (
        await field_client.get("/api/supervisor/field/live", params={"since": since})
    ).json()
    statuses = {v["id"]: v["status"] for v in live["visits"]}
    assert statuses[visit] == "done"
    assert [v["id"] for v in live["ended"]] == [visit]
    again = await (
        await field_client.get("/api/supervisor/field/live", params={"since": live["now"]})
    ).json()
    assert again["ended"] == []  # told once
    bad = await field_client.get("/api/supervisor/field/live", params={"since": "ayer"})
    assert bad.status == 400


async def test_given_supervisor_tied_to_another_campaign_then_neither_plans_nor_sees_its_visits(
    field_client: TestClient, engine: Engine
) -> None:
    ids = await planned(field_client, engine)  # MX-0001/2 of mx-demo, by Sofía (any campaign)
    with transaction(engine) as s:
        other = Campaign(name="otra", country="MX", profile="MX")
        s.add(other)
        s.flush()
        s.add(User(username="tito", display_name="Tito", role="supervisor",
                   password_hash=_password_hash(), campaign_id=other.id))  # fmt: skip
    token = await login(field_client, "tito")
    got, data = await post(field_client, token, "/api/supervisor/field/plan",
                           {"agent_id": user_id(engine, "mario"),
                            "account_refs": ["MX-0001", "MX-NOPE"]})  # fmt: skip
    assert got == 200 and data["planned"] == []
    # Another campaign's account is answered like a reference that exists nowhere.
    assert data["refused"] == [{"external_ref": "MX-0001", "reasons": ["no_account"]},
                               {"external_ref": "MX-NOPE", "reasons": ["no_account"]}]  # fmt: skip
    live = await (await field_client.get("/api/supervisor/field/live")).json()
    assert live["visits"] == [] and live["positions"] == []
    accounts = await (await field_client.get("/api/supervisor/field/accounts")).json()
    assert accounts["accounts"] == []
    # Another campaign's visit is answered like a visit that does not exist ("not your
    # campaign" told which visit ids the others have).
    got, data = await post(field_client, token, f"/api/supervisor/field/visits/{ids[0]}/cancel", {})
    assert (got, data) == await post(
        field_client, token, "/api/supervisor/field/visits/999999/cancel", {}
    )
    assert got == 409
    with Session(engine) as s:
        assert set(s.scalars(select(FieldVisit.status))) == {"planned"}


async def share_position(client: TestClient, name: str, metres_north: float) -> None:
    token = await login(client, name)
    await post(client, token, "/api/field/shift", {"action": "start", "consent": True})
    status, data = await post(client, token, "/api/field/position",
                              {"fix": fix(metres_north), "battery": 0.5})  # fmt: skip
    assert status == 200 and data["kept"], data
    await client.post("/logout", data={"_csrf": token})


@pytest.fixture
async def two_campaign_floor(field_client: TestClient, engine: Engine) -> dict[str, int]:
    """mx-demo and "otra"; field agents Lucia and Mario of the pool (tied to no
    campaign), Marta tied to mx-demo, Olga tied to otra; Mario's day has one visit of
    each campaign, Lucia's only mx-demo's; every agent shares a position; supervisor
    Tito is tied to mx-demo."""
    with transaction(engine) as s:
        mx_demo = s.scalar(select(Campaign.id).where(Campaign.name == "mx-demo"))
        other = Campaign(name="otra", country="MX", profile="MX")
        s.add(other)
        s.flush()
        s.add(Account(external_ref="OT-0001", debtor_name="Otro Deudor", country="MX",
                      timezone="America/Mexico_City", balance=Decimal("100.00"), currency="MXN",
                      due_date=NOW.date(), stage="firm", campaign_id=other.id,
                      latitude=HOME[0] + 0.02, longitude=HOME[1], address="Calle 3"))  # fmt: skip
        for name, campaign_id in (("marta", mx_demo), ("olga", other.id)):
            s.add(User(username=name, display_name=name.title(), role="field",
                       password_hash=_password_hash(), territory="CDMX",
                       campaign_id=campaign_id))  # fmt: skip
        s.add(User(username="tito", display_name="Tito", role="supervisor",
                   password_hash=_password_hash(), campaign_id=mx_demo))  # fmt: skip
    token = await login(field_client, "sofia")
    for agent, refs in (("lucia", ["MX-0001"]), ("mario", ["MX-0002", "OT-0001"])):
        status, data = await post(field_client, token, "/api/supervisor/field/plan",
                                  {"agent_id": user_id(engine, agent), "day": DAY,
                                   "account_refs": refs})  # fmt: skip
        assert status == 200 and len(data["planned"]) == len(refs), data
    await field_client.post("/logout", data={"_csrf": token})
    for i, name in enumerate(("lucia", "mario", "marta", "olga")):
        await share_position(field_client, name, 10.0 * i)
    return {n: user_id(engine, n) for n in ("lucia", "mario", "marta", "olga")}


def agent_options(page: str) -> set[int]:
    form = page[page.index('id="plan-agent"') :]
    form = form[: form.index("</select>")]
    return {int(v) for v in re.findall(r'<option value="(\d+)"', form)}


@pytest.mark.parametrize("supervisor", ["tito", "sofia"])
async def test_given_field_agents_of_several_campaigns_then_a_tied_supervisor_sees_only_hers_and_the_pools(
    field_client: TestClient, engine: Engine, two_campaign_floor: dict[str, int], supervisor: str
) -> None:
    """The field page listed every field agent to a supervisor tied to a campaign, and
    the map showed the position of an agent who also visits another campaign's debtors
    that day (perhaps at one of their doors)."""
    ids = two_campaign_floor
    await login(field_client, supervisor)
    page = await (await field_client.get("/supervisor/field")).text()
    live = await (await field_client.get("/api/supervisor/field/live")).json()
    if supervisor == "sofia":  # tied to no campaign: everything
        assert agent_options(page) == set(ids.values())
        assert {a["id"] for a in live["agents"]} == set(ids.values())
        assert {v["account_ref"] for v in live["visits"]} == {"MX-0001", "MX-0002", "OT-0001"}
        assert {p["agent_id"] for p in live["positions"]} == set(ids.values())
        return
    mine = {ids["lucia"], ids["mario"], ids["marta"]}  # the pool's and mx-demo's
    assert agent_options(page) == mine
    assert "Olga" not in page
    assert {a["id"] for a in live["agents"]} == mine
    assert {v["account_ref"] for v in live["visits"]} == {"MX-0001", "MX-0002"}
    # Lucia works only mx-demo today; Mario also otra's; Marta has no visit today.
    assert [p["agent_id"] for p in live["positions"]] == [ids["lucia"]]
    assert "Olga" not in json.dumps(live)
    # Tomorrow's map shows today's positions by today's work, not tomorrow's plan.
    tomorrow = (NOW + timedelta(days=1)).date().isoformat()
    later = await (
        await field_client.get("/api/supervisor/field/live", params={"day": tomorrow})
    ).json()
    assert [p["agent_id"] for p in later["positions"]] == [ids["lucia"]]


async def test_given_a_tied_supervisor_when_planning_for_another_campaigns_agent_then_answered_as_no_agent(
    field_client: TestClient, engine: Engine, two_campaign_floor: dict[str, int]
) -> None:
    ids = two_campaign_floor
    token = await login(field_client, "tito")
    answers = []
    for agent in (ids["olga"], 999999):
        answers.append(await post(field_client, token, "/api/supervisor/field/plan",
                                  {"agent_id": agent, "day": DAY, "account_refs": ["MX-0001"]}))  # fmt: skip
    assert answers[0][0] == 422
    assert answers[0] == answers[1]
    for agent in ("marta", "lucia"):  # hers and the pool's: planned
        status, data = await post(field_client, token, "/api/supervisor/field/plan",
                                  {"agent_id": ids[agent], "day": DAY,
                                   "account_refs": ["MX-0002" if agent == "marta" else "MX-9"]})  # fmt: skip
        assert status == 200, data
    with Session(engine) as s:
        agents = set(s.scalars(select(FieldVisit.agent_id).where(FieldVisit.status == "planned")))
    assert ids["olga"] not in agents


@pytest.mark.parametrize(("lang", "cap_week", "opted_out"), [
    ("es", "límite de contactos", "pidió no recibir este canal"),
    ("en", "contact limit", "opted out of this channel"),
])  # fmt: skip
async def test_given_any_reason_the_law_gives_then_the_field_map_has_its_words(
    field_client: TestClient, lang: str, cap_week: str, opted_out: str
) -> None:
    """The planner's refusals on the map had their own list of 17 words: a visit refused
    for the week's contact cap, an opted-out debtor or a recent abandon read only
    "Otro motivo", which tells the supervisor nothing."""
    from cobrador.ground.code_words import REASON_LABELS

    await login(field_client, "sofia")
    page = await (await field_client.get(f"/supervisor/field?lang={lang}")).text()
    config = json.loads(re.search(r'<script id="field-config"[^>]*>(.*?)</script>', page, re.S)[1])
    assert set(REASON_LABELS) | set(field_views.PLAN_REFUSAL_LABELS) <= set(config["reason"])
    assert config["reason"]["contact_cap_week"].lower() == cap_week
    assert config["reason"]["opted_out"].lower() == opted_out
    assert config["reason"]["already_planned"] in (
        "ya está planeada ese día",
        "already planned that day",
    )
    assert all(config["reason"].values())


SPANISH_HEADINGS = ("Campo", "Avisos", "Planear visitas", "Por gestor", "Visitas del día",
                    "Gestor de campo", "Planeada", "Fallida u omitida")  # fmt: skip


async def test_given_lang_en_then_field_page_in_english_with_the_maps_texts(
    field_client: TestClient,
) -> None:
    await login(field_client, "sofia")
    page = await (await field_client.get("/supervisor/field?lang=en")).text()
    headings = re.findall(r"<(?:h1|h2|label|th|title)[^>]*>([^<]*)<", page)
    for spanish in SPANISH_HEADINGS:
        assert spanish not in [h.strip(" ·") for h in headings], spanish
        assert f">{spanish}<" not in page, spanish
    for english in ("Field", "Notices", "Plan visits", "By field agent", "The day's visits"):
        assert f">{english}" in page, english
    config = json.loads(re.search(r'<script id="field-config"[^>]*>(.*?)</script>', page, re.S)[1])
    assert config["status"]["planned"] == "Planned"
    assert config["reason"]["holiday"] == "holiday"
    assert config["t"]["cancel"] == "Cancel"
    # Spanish stays the default.
    page = await (await field_client.get("/supervisor/field?lang=es")).text()
    assert ">Planear visitas<" in page and ">Plan visits<" not in page


async def test_given_a_mexico_city_evening_when_planning_today_then_today_is_the_local_day(
    field_client: TestClient, engine: Engine
) -> None:
    # 20:30 in Mexico City is 02:30 UTC the next day: "today" is still the local 24th.
    CLOCK[0] = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
    token = await login(field_client, "sofia")
    status, data = await post(field_client, token, "/api/supervisor/field/plan",
                              {"agent_id": user_id(engine, "lucia"), "day": "2026-11-24",
                               "account_refs": ["MX-0001"]})  # fmt: skip
    assert status == 200 and len(data["planned"]) == 1, data
    status, data = await post(field_client, token, "/api/supervisor/field/plan",
                              {"agent_id": user_id(engine, "lucia"), "day": "2026-11-23",
                               "account_refs": ["MX-0002"]})  # fmt: skip
    assert status == 422 and "pasado" in data["reason"], data


async def test_given_a_supervisor_searching_accounts_to_plan_then_each_search_is_a_pii_view(
    field_client: TestClient, seed: Seed, engine: Engine
) -> None:
    """The search lists debtors' names, addresses and coordinates: a supervisor who
    pages through it to harvest addresses leaves evidence of every page."""
    await login(field_client, "sofia")
    found = await (await field_client.get("/api/supervisor/field/accounts?q=Universidad")).json()
    assert [a["id"] for a in found["accounts"]] == [seed.account_id]
    with Session(engine) as s:
        views = [(e.actor, json.loads(e.payload)) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.kind == "pii_view"))]  # fmt: skip
    [(actor, payload)] = [(a, p) for a, p in views if p.get("page") == "field_accounts"]
    assert actor == "user:sofia" and payload["results"] == [seed.account_id]
    assert set(payload["fields"]) == {"name", "address", "coordinates"}


async def test_given_every_status_the_map_can_show_then_each_has_its_words_and_no_code_fallback(
    field_client: TestClient,
) -> None:
    from field.day import MAP_OTHER, MAP_STATUSES, _map_status
    from field.questionnaire import OUTCOMES as VISIT_OUTCOMES
    from store.models import VisitStatus

    # Every visit state the model allows, with every outcome, is one the map knows (a
    # cancelled visit is off the map; a state it does not know is "other", never "done").
    shown = {_map_status(s.value, o) for s in VisitStatus for o in (None, *VISIT_OUTCOMES)}
    assert shown <= {*MAP_STATUSES, MAP_OTHER}
    await login(field_client, "sofia")
    for lang in ("es", "en"):
        page = await (await field_client.get(f"/supervisor/field?lang={lang}")).text()
        config = json.loads(
            re.search(r'<script id="field-config"[^>]*>(.*?)</script>', page, re.S)[1]
        )
        assert set(config["status"]) == set(MAP_STATUSES), lang
        assert set(VISIT_OUTCOMES) <= set(config["outcome"]), lang
        words = [*config["status"].values(), *config["outcome"].values()]
        assert not set(words) & {*MAP_STATUSES, *VISIT_OUTCOMES}, lang
        assert config["t"]["other_status"] and config["t"]["other_outcome"], lang
        if lang == "es":  # the words the field agent picked in the app, not a second wording
            assert config["outcome"] == {c: o.label for c, o in VISIT_OUTCOMES.items()}
    assert config["t"]["other_status"] == "Other state"
    assert config["status"]["evidence"] == "Cancelled · kept as evidence"
    assert config["outcome"]["domicilio_incorrecto"] == "The debtor does not live here"


def test_given_the_map_script_when_a_code_has_no_word_then_it_never_shows_the_code() -> None:
    from pathlib import Path

    script = (Path(__file__).resolve().parents[3] / "console/map-src/src/map.js").read_text()
    assert not re.search(
        r"(STATUS|OUTCOME|REASON)\[[^\]]+\]\s*\|\|\s*(v\.status|v\.outcome|c\b)", script
    )
    assert "T.other_status" in script and "T.other_outcome" in script


async def test_given_the_map_not_built_then_the_field_page_says_so_instead_of_staying_blank(
    field_client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fresh clone's `make demo` built no map.js: the page showed empty tables, no map,
    # and a plan button that did nothing (the map's script draws all three).
    await login(field_client, "sofia")
    page = await (await field_client.get("/supervisor/field")).text()
    assert 'id="map-missing"' not in page  # the checkout's bundle (make install)
    monkeypatch.setattr(field_views, "STATIC", tmp_path)
    page = await (await field_client.get("/supervisor/field")).text()
    assert 'id="map-missing"' in page and "make install" in page


async def test_given_lang_en_then_the_field_app_and_its_questionnaire_in_english(
    field_client: TestClient, engine: Engine
) -> None:
    """Every agent-facing page reads in Spanish with English available: the field app
    was Spanish only, in its page, its script's words and its questionnaire."""
    await planned(field_client, engine)
    await login(field_client, "lucia")
    page = await (await field_client.get("/field/?lang=en")).text()
    assert '<html lang="en">' in page
    for english in ("Start shift", "Record arrival", "Save result", "I cannot make this visit"):
        assert f">{english}<" in page, english
    for spanish in ("Iniciar turno", "Registrar llegada", "Guardar resultado", "Ruta del"):
        assert spanish not in page, spanish
    shown = format_date(NOW.astimezone(ZoneInfo("America/Mexico_City")).date(), "long", locale="en")
    assert f'<span id="day">{shown}</span>' in page
    config = json.loads(
        re.search(r'<script id="field-app-config"[^>]*>(.*?)</script>', page, re.S)[1]
    )
    assert config["t"]["arrived_at"] == "Arrival recorded {distancia} from the address."
    assert config["t"]["pending_many"] == "{n} pending" and config["stages"]["firm"] == "Firm"
    day = await (await field_client.get("/api/field/day")).json()
    firm = {q["key"]: q for q in day["questionnaires"]["firm"]}
    assert firm["party"]["label"] == "Who answered?"
    assert firm["party"]["options"]["tercero"] == "Someone else (third party)"
    assert firm["outcome"]["options"]["promesa_pago"] == "Promise to pay"
    assert firm["reason_not_paying"]["options"]["desacuerdo"] == "Disagrees with the amount"
    # The codes the app sends back do not change with the language.
    assert set(firm["outcome"]["options"]) == {"promesa_pago", "pago", "rehusa", "disputa",
                                               "no_contactar", "recado", "sin_contacto",
                                               "domicilio_incorrecto"}  # fmt: skip
    # Spanish stays the default.
    page = await (await field_client.get("/field/?lang=es")).text()
    assert ">Iniciar turno<" in page and '<html lang="es">' in page
    config = json.loads(
        re.search(r'<script id="field-app-config"[^>]*>(.*?)</script>', page, re.S)[1]
    )
    assert config["t"]["pending_many"] == "{n} pendientes" and config["stages"]["firm"] == "Firme"
    day = await (await field_client.get("/api/field/day")).json()
    assert day["questionnaires"]["firm"][0]["label"] == "¿Quién atendió?"


async def test_given_an_account_forbidden_since_the_plan_when_the_app_syncs_its_day_then_flagged_in_words(
    field_client: TestClient, engine: Engine, seed: Seed, check: Check
) -> None:
    # The route was downloaded this morning; the debtor has since been reported deceased.
    await planned(field_client, engine)
    token = await login(field_client, "lucia")
    day = await (await field_client.get("/api/field/day")).json()
    assert [v["blocked"] for v in day["visits"]] == [[], []]
    check.refuse[seed.account_id] = ("protected_person",)
    day = await (await field_client.get("/api/field/day")).json()
    shown = {v["id"]: v for v in day["visits"]}
    blocked = [v for v in shown.values() if v["blocked"]]
    assert [v["blocked"] for v in blocked] == [["protected_person"]]
    assert blocked[0]["blocked_reason"] and "protected_person" not in blocked[0]["blocked_reason"]
    assert [v["blocked_reason"] for v in shown.values() if not v["blocked"]] == [""]
    assert day["route_m"] == 0  # one visit left to make: no leg
    # The app's words for it, in the agent's language.
    page = await (await field_client.get("/field/")).text()
    assert "No visitar" in page
    english = await (await field_client.get("/field/?lang=en")).text()
    assert "Do not visit" in english
    await field_client.post("/logout", data={"_csrf": token})


async def test_given_the_debtor_reported_deceased_after_the_checkin_when_the_result_syncs_then_saved_with_a_notice(
    field_client: TestClient, engine: Engine, seed: Seed
) -> None:
    ids = await planned(field_client, engine)
    token = await login(field_client, "lucia")
    visit = _visit_of(engine, "MX-0001", ids)
    assert (await post(field_client, token, f"/api/field/visits/{visit}/checkin",
                       {"key": key(), "fix": fix(10)}))[0] == 200  # fmt: skip
    with transaction(engine) as s:
        s.execute(update(Account).where(Account.external_ref == "MX-0001")
                  .values(protection="deceased"))  # fmt: skip
    await field_client.get("/field/?lang=en")
    status, body = await post(field_client, token, f"/api/field/visits/{visit}/result",
                              {"key": key(), "answers": RESULT})  # fmt: skip
    assert status == 200 and body["barred"] and "not recorded as a promise" in body["notice"]
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Disposition)) == 1


async def test_given_a_shared_phone_then_the_field_page_is_never_kept_by_the_browser_and_says_why_logout_waits(
    field_client: TestClient,
) -> None:
    """The page names the agent and opens her route: kept by the browser, "back" after
    a logout showed it to the next person. The words the app uses to refuse a logout
    while results are unsent (console/static/field/app.js), in both languages."""
    await login(field_client, "lucia")
    for lang, one, many in [
        ("es", "No puede salir todavía: 1 operación no se ha enviado.",
         "No puede salir todavía: {n} operaciones no se han enviado."),
        ("en", "You cannot log out yet: 1 operation has not been sent.",
         "You cannot log out yet: {n} operations have not been sent."),
    ]:  # fmt: skip
        resp = await field_client.get(f"/field/?lang={lang}")
        assert resp.headers["Cache-Control"] == "no-store"
        page = await resp.text()
        assert '<form id="logout" method="post" action="/logout"' in page
        config = json.loads(
            re.search(r'<script id="field-app-config"[^>]*>(.*?)</script>', page, re.S)[1]
        )
        assert config["t"]["logout_pending_one"].startswith(one)
        assert config["t"]["logout_pending_many"].startswith(many)
        assert config["t"]["logout_offline"].startswith(
            {"es": "No se pudo cerrar la sesión", "en": "The session could not be closed"}[lang]
        )


async def test_given_a_visit_cancelled_while_the_agent_was_at_the_door_then_the_console_says_so_in_her_language(
    field_client: TestClient, engine: Engine
) -> None:
    ids = await planned(field_client, engine)
    visit = _visit_of(engine, "MX-0001", ids)
    token = await login(field_client, "sofia")
    assert (await post(field_client, token, f"/api/supervisor/field/visits/{visit}/cancel", {}))[
        0
    ] == 200
    await field_client.post("/logout", data={"_csrf": token})
    token = await login(field_client, "lucia")
    await field_client.get("/field/?lang=en")
    status, body = await post(field_client, token, f"/api/field/visits/{visit}/checkin",
                              {"key": key(), "fix": fix(10)})  # fmt: skip
    assert (
        status == 200
        and body["evidence_only"]
        and "Your arrival is recorded as evidence" in body["notice"]
    )
    status, body = await post(field_client, token, f"/api/field/visits/{visit}/result",
                              {"key": key(), "answers": RESULT})  # fmt: skip
    assert status == 200 and "the visit stays cancelled" in body["notice"]
    day = await (await field_client.get("/api/field/day")).json()
    assert [(v["id"], v["status"], v["evidence"]) for v in day["visits"] if v["id"] == visit] == [
        (visit, "cancelled", "recorded")
    ]
    page = await (await field_client.get("/field/?lang=es")).text()
    config = json.loads(
        re.search(r'<script id="field-app-config"[^>]*>(.*?)</script>', page, re.S)[1]
    )
    assert config["t"]["cancelled_recorded"] == "Cancelada · constancia guardada"


def _app_texts(page: str) -> dict[str, str]:
    config = re.search(r'<script id="field-app-config"[^>]*>(.*?)</script>', page, re.S)
    assert config is not None
    return dict(json.loads(config[1])["t"])


async def test_given_a_far_checkin_when_the_result_recorded_at_the_door_syncs_then_kept_and_said_in_her_language(
    field_client: TestClient, engine: Engine
) -> None:
    """The geofence's refusal was Spanish for everyone (an f-string) and its result a
    409: the contact was lost. Kept, and told why in the agent's language; the day
    says so again to a phone that lost the answer (wiped at a logout)."""
    ids = await planned(field_client, engine)
    token = await login(field_client, "lucia")
    visit = _visit_of(engine, "MX-0001", ids)
    await field_client.get("/field/?lang=en")
    status, far = await post(field_client, token, f"/api/field/visits/{visit}/checkin",
                             {"key": key(), "fix": fix(2000)})  # fmt: skip
    assert status == 422
    assert far["reason"] == "You are 2.0 km from the address; an arrival is recorded within 150 m."
    status, kept = await post(field_client, token, f"/api/field/visits/{visit}/result",
                              {"key": key(), "answers": RESULT})  # fmt: skip
    assert status == 200 and kept["evidence_only"] and kept["refused"] == ["too_far"], kept
    assert kept["refused_reason"] == "The arrival's location was 2.0 km from the address, too far."
    assert kept["notice"].startswith("Your arrival was not accepted, but what you recorded")
    day = await (await field_client.get("/api/field/day")).json()
    (shown,) = [v for v in day["visits"] if v["id"] == visit]
    assert (shown["status"], shown["evidence"], shown["refused"]) == (
        "planned",
        "recorded",
        ["too_far"],
    )
    assert shown["outcome"] == "promesa_pago" and shown["leg_m"] is None
    assert shown["refused_reason"] == kept["refused_reason"]
    await field_client.get("/field/?lang=es")
    day = await (await field_client.get("/api/field/day")).json()
    (shown,) = [v for v in day["visits"] if v["id"] == visit]
    assert shown["refused_reason"] == (
        "La ubicación de la llegada estaba a 2,0 km del domicilio, demasiado lejos."
    )
    # The other visit is untouched: still to make, nothing kept on it.
    (other,) = [v for v in day["visits"] if v["id"] != visit]
    assert (other["evidence"], other["refused"], other["refused_reason"]) == (None, [], "")


async def test_given_an_account_without_coordinates_since_the_plan_when_the_result_recorded_at_the_door_syncs_then_kept_and_said_in_her_language(
    field_client: TestClient, engine: Engine
) -> None:
    """The check-in's 409 left nothing behind, so the result recorded at the door was a
    409 too and the contact was lost. Kept now, why told in her language."""
    ids = await planned(field_client, engine)
    token = await login(field_client, "lucia")
    visit = _visit_of(engine, "MX-0001", ids)
    with transaction(engine) as s:
        s.execute(update(Account).where(Account.external_ref == "MX-0001")
                  .values(latitude=None, longitude=None))  # fmt: skip
    await field_client.get("/field/?lang=en")
    status, refused = await post(field_client, token, f"/api/field/visits/{visit}/checkin",
                                 {"key": key(), "fix": fix(10)})  # fmt: skip
    assert status == 409 and refused["refusal"] == "no_coordinates", refused
    assert refused["reason"] == "The account no longer has coordinates."
    status, kept = await post(field_client, token, f"/api/field/visits/{visit}/result",
                              {"key": key(), "answers": RESULT})  # fmt: skip
    assert status == 200 and kept["evidence_only"] and kept["refused"] == ["no_coordinates"], kept
    assert kept["refused_reason"] == (
        "The account no longer had the address's coordinates: the arrival's place could not "
        "be checked."
    )
    day = await (await field_client.get("/api/field/day")).json()
    (shown,) = [v for v in day["visits"] if v["id"] == visit]
    assert (shown["evidence"], shown["refused"]) == ("recorded", ["no_coordinates"])
    assert shown["refused_reason"] == kept["refused_reason"]


@pytest.mark.parametrize("lang", ["es", "en"])
async def test_given_an_unsure_clock_when_the_result_recorded_at_the_door_is_kept_then_what_she_reads_agrees(
    field_client: TestClient, engine: Engine, lang: str
) -> None:
    """The clock's refusal said 'check in again at the address' while the kept notice
    said 'do not repeat it': one of the two was wrong. Once the result is kept, the app
    shows why (refused_reason) and the notice, from the answer or, wiped since, from the
    day and its own words: one advice, not to repeat the visit. The check-in's own
    refusal (shown while no result is in) says what it recorded is kept, as it is."""
    ids = await planned(field_client, engine)
    token = await login(field_client, "lucia")
    visit = _visit_of(engine, "MX-0001", ids)
    texts = _app_texts(await (await field_client.get(f"/field/?lang={lang}")).text())
    CLOCK[0] = NOW + timedelta(hours=10)
    phone = CLOCK[0] - timedelta(hours=13)
    status, refused = await post(field_client, token, f"/api/field/visits/{visit}/checkin",
                                 {"key": key(), "fix": fix(5, at=phone)})  # fmt: skip
    assert status == 422 and refused["refusal"] == "clock_unsure"
    status, kept = await post(field_client, token, f"/api/field/visits/{visit}/result",
                              {"key": key(), "answers": RESULT})  # fmt: skip
    assert status == 200 and kept["refused"] == ["clock_unsure"], kept
    day = await (await field_client.get("/api/field/day")).json()
    (shown,) = [v for v in day["visits"] if v["id"] == visit]
    words = {
        "es": {"kept": "queda guardado como constancia", "again": "registre la llegada",
               "no_repeat": "No repita la visita", "clock": "reloj del teléfono"},
        "en": {"kept": "kept as evidence", "again": "check in again",
               "no_repeat": "Do not repeat the visit", "clock": "phone's clock"},
    }[lang]  # fmt: skip
    # What the visit shows once kept: from the answer, or from the day after a wipe.
    for why, notice in ((kept["refused_reason"], kept["notice"]),
                        (shown["refused_reason"], texts["refused_recorded_msg"])):  # fmt: skip
        assert words["clock"] in why and words["again"] not in why
        assert words["no_repeat"] in notice and words["again"] not in notice
        assert words["kept"] in notice
    assert kept["notice"] == texts["refused_recorded_msg"]
    # Told before the result was in: check in again only while no result is recorded,
    # and what was recorded is kept, as the notice then says.
    assert words["kept"] in refused["reason"]


async def test_given_a_session_over_on_a_shared_phone_then_the_login_page_and_the_app_run_the_field_leftovers_wipe(
    field_client: TestClient,
) -> None:
    """The login page (shown only when no session is open) forgets field agents' data
    left on the phone; the app runs the same before its own, and the service worker
    keeps the script for the app offline."""
    script = '<script src="/static/field/leftovers.js"></script>'
    assert script in await (await field_client.get("/login")).text()
    assert (await field_client.get("/static/field/leftovers.js")).status == 200
    sw = await (await field_client.get("/field/sw.js")).text()
    assert '"/static/field/leftovers.js"' in sw
    await login(field_client, "lucia")
    page = await (await field_client.get("/field/")).text()
    assert page.index(script) < page.index('<script src="/static/field/app.js">')


@pytest.fixture
async def sealed_client(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, engine: Engine,
    aredis: aioredis.Redis, field_client: TestClient, check: Check,
) -> TestClient:  # fmt: skip
    """The field app's console with a console_secret: it hands out a key to seal with."""
    secret = base64.urlsafe_b64encode(b"q" * 32).decode()
    app = init_app(dataclasses.replace(settings, console_secret=secret), engine, aredis,
                   clock=lambda: CLOCK[0], visit_check=check)  # fmt: skip
    return await aiohttp_client(app)


async def test_given_a_queue_sealed_to_the_console_when_synced_then_opened_for_her_visit_only(
    sealed_client: TestClient, field_client: TestClient, engine: Engine
) -> None:
    """Queued acts lay readable in the phone's storage after her session (a promise, a
    note, where she was). The page hands the console's public key; a body sealed with
    it is opened by the console for the agent, visit and kind it was sealed for, and
    refused (400) for any other; one sealed to a key the console lacks is a 503 (kept
    on the phone, sent again); a console without console_secret hands out none."""
    from console.field_seal import FieldSeal, associated

    ids = await planned(sealed_client, engine)
    token = await login(sealed_client, "lucia")
    page = await (await sealed_client.get("/field/")).text()
    raw = re.search(r'data-seal-key="([^"]+)" data-seal-kid="([0-9a-f]+)"', page)
    assert raw is not None
    seal = FieldSeal.from_secret(b"q" * 32)
    assert base64.b64decode(raw[1]) == seal.public_raw and raw[2] == seal.kid
    lucia_id = user_id(engine, "lucia")
    visit, other = _visit_of(engine, "MX-0001", ids), _visit_of(engine, "MX-0002", ids)
    body = {"key": key(), "fix": fix(10)}
    sealed = seal.seal(body, associated(lucia_id, visit, "checkin"))
    status, answer = await post(sealed_client, token, f"/api/field/visits/{other}/checkin",
                                {"sealed": sealed})  # fmt: skip
    assert status == 400 and answer["field"] == "sealed", answer
    status, answer = await post(sealed_client, token, f"/api/field/visits/{visit}/result",
                                {"sealed": sealed})  # fmt: skip
    assert status == 400 and answer["field"] == "sealed", answer
    elsewhere = FieldSeal.from_secret(b"z" * 32).seal(body, associated(lucia_id, visit, "checkin"))
    resp = await sealed_client.post(f"/api/field/visits/{visit}/checkin", json={"sealed": elsewhere},
                                    headers={"X-CSRF-Token": token})  # fmt: skip
    assert resp.status == 503 and "clave" in (await resp.json())["reason"]
    status, answer = await post(sealed_client, token, f"/api/field/visits/{visit}/checkin",
                                {"sealed": sealed, "sent_at": NOW.isoformat()})  # fmt: skip
    assert status == 200 and answer["ok"], answer
    result = seal.seal({"key": key(), "answers": RESULT}, associated(lucia_id, visit, "result"))
    status, answer = await post(sealed_client, token, f"/api/field/visits/{visit}/result",
                                {"sealed": result})  # fmt: skip
    assert status == 200 and answer["outcome"] == "promesa_pago", answer
    status, again = await post(sealed_client, token, f"/api/field/visits/{visit}/result",
                               {"sealed": result})  # fmt: skip
    assert again["replayed"] is True
    with Session(engine) as s:
        assert s.scalars(select(Disposition.outcome)).all() == ["promesa_pago"]
    # Without console_secret (the fixture's console): no key in the page, a seal is 503.
    token = await login(field_client, "lucia")
    assert "data-seal-key" not in await (await field_client.get("/field/")).text()
    resp = await field_client.post(f"/api/field/visits/{other}/skip",
                                   json={"sealed": seal.seal({"key": key()}, associated(lucia_id, other, "skip"))},
                                   headers={"X-CSRF-Token": token})  # fmt: skip
    assert resp.status == 503


async def test_given_a_result_refused_at_the_sync_when_she_reopens_it_then_her_sealed_answers_come_back_for_her_visit_only(
    sealed_client: TestClient, engine: Engine
) -> None:
    """A refused result stays on the phone sealed; the console opens it again for the
    agent, visit and a result it was sealed for (never a photo: it is taken again),
    refuses any other (400) and records nothing."""
    from console.field_seal import FieldSeal, associated

    ids = await planned(sealed_client, engine)
    token = await login(sealed_client, "lucia")
    seal = FieldSeal.from_secret(b"q" * 32)
    lucia_id = user_id(engine, "lucia")
    visit, other = _visit_of(engine, "MX-0001", ids), _visit_of(engine, "MX-0002", ids)
    typed = {**RESULT, "notes": "Pagará el viernes.", "photo": "data:image/jpeg;base64,AAAA"}
    sealed = seal.seal({"key": key(), "answers": typed}, associated(lucia_id, visit, "result"))
    status, answer = await post(sealed_client, token, f"/api/field/visits/{visit}/result/reopen",
                                {"sealed": sealed})  # fmt: skip
    assert status == 200, answer
    assert answer["answers"] == {k: v for k, v in typed.items() if k != "photo"}
    for path in (f"/api/field/visits/{other}/result/reopen", f"/api/field/visits/{visit}/checkin"):
        status, answer = await post(sealed_client, token, path, {"sealed": sealed})
        assert status == 400 and answer["field"] == "sealed", (path, answer)
    no_answers = seal.seal({"key": key()}, associated(lucia_id, visit, "result"))
    status, answer = await post(sealed_client, token, f"/api/field/visits/{visit}/result/reopen",
                                {"sealed": no_answers})  # fmt: skip
    assert status == 400 and answer["reason"] == "No hay respuestas que abrir.", answer
    with Session(engine) as s:
        assert s.scalars(select(Disposition)).all() == []
