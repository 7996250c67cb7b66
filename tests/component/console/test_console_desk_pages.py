"""The supervisor's and the auditor's pages as people read them: every campaign at a
glance, per-agent figures, the agent's day from their own midnight, the auditor's
empty search, the richer CSV, role-true controls, and no raw code on any page."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from decimal import Decimal

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed, login, make_attempt
from sqlalchemy import Engine, select
from test_console_auditor import add_decisions, pii_views

from console.agent_pauses import paused_seconds, record_pause
from console.wallboard import wallboard_key
from dialer.agent_state import AgentStates
from store.db import transaction
from store.models import CallAttempt, Campaign, Disposition, Promise

# Codes that must never reach a person (Spanish pages); in English a few codes are
# also plain words ("break", "contact", "running"), so only the coded ones are checked.
RAW_ES = ("outside_hours", "no_consent", "registry_listed", "login", "break", "contact",
          "no_answer", "promesa_pago", "recado", "numero_equivocado", "sin_contacto",
          "running", "stopped", "predictive", "progressive", "tercero · recado",
          "titular · promesa_pago")  # fmt: skip
RAW_EN = tuple(c for c in RAW_ES if "_" in c or "·" in c) + ("recado",)


def visible_text(html: str) -> str:
    """What a person reads: no scripts, tags, attributes or option values."""
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    html = re.sub(r"<[^>]+>", " ", html)
    return " ".join(html.split())


def raw_codes(text: str, codes: tuple[str, ...]) -> list[str]:
    return [c for c in codes if re.search(rf"(?<![\w/]){re.escape(c)}(?![\w])", text)]


def worked_day(engine: Engine, seed: Seed) -> None:
    """Ana: a promise call 3 min of talk and 30 s of wrap-up; a message left with a
    third party; a call the night before in Mexico City (05:30 UTC today)."""
    ana = seed.users["ana"]
    first = make_attempt(engine, seed.account_id, ana, right_party_contact=True,
                         started_at=NOW - timedelta(minutes=10),
                         ended_at=NOW - timedelta(minutes=6), hangup_cause=16)  # fmt: skip
    second = make_attempt(engine, seed.other_account_id, ana, started_at=NOW - timedelta(minutes=5),
                          ended_at=NOW - timedelta(minutes=4))  # fmt: skip
    night = make_attempt(engine, seed.other_account_id, ana, result="no_answer",
                         started_at=NOW.replace(hour=5, minute=30))  # fmt: skip
    with transaction(engine) as session:
        for attempt_id, bridged in (
            (first, NOW - timedelta(minutes=9)),
            (second, NOW - timedelta(minutes=5)),
            (night, None),
        ):
            row = session.get(CallAttempt, attempt_id)
            assert row is not None
            row.bridged_at = bridged
        session.add_all([
            Disposition(attempt_id=night, account_id=seed.other_account_id, agent_id=ana,
                        party="nadie", outcome="sin_contacto", notes="",
                        created_at=NOW.replace(hour=5, minute=31)),
            Disposition(attempt_id=first, account_id=seed.account_id, agent_id=ana,
                        party="titular", outcome="promesa_pago", notes="",
                        created_at=NOW - timedelta(minutes=5, seconds=30)),
            Disposition(attempt_id=second, account_id=seed.other_account_id, agent_id=ana,
                        party="tercero", outcome="recado", notes="",
                        created_at=NOW - timedelta(minutes=3)),
            Promise(account_id=seed.account_id, attempt_id=first, agent_id=ana,
                    amount=Decimal("1500.00"), currency="MXN", due_date=NOW.date(),
                    created_at=NOW - timedelta(minutes=5)),
        ])  # fmt: skip


async def test_given_agent_in_mexico_city_when_reading_my_day_then_counted_from_local_midnight(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    worked_day(engine, seed)
    await login(client, "ana")
    # 05:30 UTC is 23:30 of the day before in Mexico City: not today there.
    local = await (await client.get("/api/agent/figures?tz=America/Mexico_City")).json()
    utc = await (await client.get("/api/agent/figures?tz=UTC")).json()
    assert local["zone"] == "America/Mexico_City"
    # "desde las 00:00 de Ciudad de México": the agent reads a city, not an IANA id.
    assert (local["zone_label"], utc["zone_label"]) == ("Ciudad de México", "UTC")
    english = await (await client.get("/api/agent/figures?tz=America/Bogota&lang=en")).json()
    assert english["zone_label"] == "Bogotá"
    assert local["figures"]["calls"] == 2 and local["figures"]["right_party_contacts"] == 1
    assert local["figures"]["promised_display"] == "$1,500.00 MXN"
    assert local["figures"]["talk_seconds"] == 180 + 60
    assert utc["figures"]["calls"] == 3
    bad = await client.get("/api/agent/figures?tz=Mars/Olympus")
    assert bad.status == 400 and (await bad.json())["field"] == "tz"
    assert (await client.get("/api/agent/figures?tz=../../etc/passwd")).status == 400


async def test_given_worked_day_when_supervisor_opens_then_all_campaigns_and_agent_figures(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    worked_day(engine, seed)
    with transaction(engine) as session:  # idle, first by name: never the default any more
        session.add(Campaign(name="a-idle", country="MX", profile="MX"))
    # The dialers' states on the console's clock (console.app gives its own the same).
    states = AgentStates(aredis, clock=lambda: NOW.timestamp())
    await states.login(seed.users["ana"], "mx-demo")
    beto = await states.login(seed.users["beto"], "mx-demo")
    await record_pause(aredis, seed.users["beto"], beto.since - 120, beto.since - 60)
    await aredis.set(wallboard_key("mx-demo"), json.dumps({
        "abandonment": {"1h": 0.012}, "dialer": {"ok": False, "reason": "AMI disconnected"},
        "hopper": {"size": 0, "empty_reasons": {"outside_hours": 40}}}))  # fmt: skip
    await login(client, "sofia")
    page = await (await client.get("/supervisor")).text()
    assert 'id="wallboard" data-campaign="mx-demo"' in page
    text = visible_text(page)
    assert "a-idle" in text and "El marcador perdió la conexión con Asterisk." in text
    assert "1.20 %" in text
    # The inbound service level's threshold shows before any inbound dialer publishes it.
    assert "nivel de servicio: atendidas en 20 s" in text
    assert raw_codes(text, RAW_ES) == []
    overview = await (await client.get("/api/supervisor/overview")).json()
    rows = {c["name"]: c for c in overview["campaigns"]}
    assert rows["mx-demo"]["agents"] == 2 and rows["mx-demo"]["by_state"] == {"paused": 2}
    assert rows["mx-demo"]["empty_reasons"] == [
        {"label": "Fuera del horario permitido", "count": 40}
    ]
    assert rows["a-idle"]["agents"] == 0 and rows["a-idle"]["status_label"] == "detenida"

    figures = await (await client.get(
        "/api/supervisor/agents?campaign=mx-demo&tz=America/Mexico_City")).json()  # fmt: skip
    by_name = {a["name"]: a for a in figures["agents"]}
    ana = by_name["Ana"]
    assert (ana["calls"], ana["right_party_contacts"], ana["promises"]) == (2, 1, 1)
    assert ana["talk_seconds"] == 180 + 60
    assert ana["wrap_seconds"] == 30 + 60
    assert ana["promised_display"] == "$1,500.00 MXN" and ana["kept_rate"] is None
    assert by_name["Beto"]["pause_seconds"] >= 60
    # Nothing promised: no amount and no bare "0" without a currency.
    assert by_name["Beto"]["promises"] == 0 and by_name["Beto"]["promised_display"] == "—"
    # "Agentes hoy desde las 00:00 de Ciudad de México": a human zone label.
    assert figures["zone"] == "America/Mexico_City"
    assert figures["zone_label"] == "Ciudad de México"
    lima = await (
        await client.get("/api/supervisor/agents?campaign=mx-demo&tz=America/Lima")
    ).json()
    assert lima["zone_label"] == "Lima"
    assert (await client.get("/api/supervisor/agents?campaign=nope&tz=UTC")).status == 404
    assert (await client.get("/api/supervisor/agents?campaign=mx-demo&tz=Nowhere")).status == 400

    english = visible_text(await (await client.get("/supervisor?lang=en")).text())
    assert "All campaigns" in english and "The dialer lost its connection to Asterisk." in english
    assert raw_codes(english, RAW_EN) == []


async def test_given_pauses_when_adding_up_then_only_the_part_since_the_start_counts(
    aredis: aioredis.Redis,
) -> None:
    await record_pause(aredis, 7, 1000.0, 1100.0)
    await record_pause(aredis, 7, 1200.0, 1150.0)  # ends before it starts: ignored
    await record_pause(aredis, 7, 2000.0, 2050.0)
    got = await paused_seconds(aredis, [7, 8], since=1050.0, now=3000.0, paused_now={8: 2900.0})
    assert got == {7: 50.0 + 50.0, 8: 100.0}


async def test_given_attempts_when_auditor_presses_search_without_filters_then_latest_listed(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    allowed, blocked = add_decisions(engine, seed)
    worked_day(engine, seed)
    await login(client, "raul")
    before = pii_views(engine)
    opened = await (await client.get("/auditor")).text()
    assert "María" not in opened and "Pulse «Buscar» sin filtros" in opened
    assert pii_views(engine) == before
    empty = "account_ref=&phone=&agent=&date_from=&date_to=&result=&direction=&recording=&reason="
    page = await (await client.get(f"/auditor?{empty}")).text()
    text = visible_text(page)
    assert "Últimos intentos" in text and "María López Hernández" in text
    assert "Tercero · Recado con tercero" in text and "Titular · Promesa de pago" in text
    assert pii_views(engine) == before + 1
    assert raw_codes(text, RAW_ES) == []
    decisions = visible_text(await (await client.get(f"/auditor/decisions?{empty}")).text())
    assert "Fuera del horario permitido; Sin consentimiento para ese número" in decisions
    assert raw_codes(decisions, RAW_ES) == []
    english = visible_text(await (await client.get(f"/auditor?{empty}&lang=en")).text())
    assert "Third party" in english or "Tercero" not in english
    assert raw_codes(english, RAW_EN) == []
    # Role-true: the auditor's page says what the role may change.
    assert "Solo lectura" not in visible_text(opened.replace("lang=en", ""))

    rows = list(csv.DictReader(io.StringIO(await (await client.get(
        f"/auditor/attempts.csv?{empty}")).text())))  # fmt: skip
    first = next(r for r in rows if r["hangup_cause"] == "16")
    assert first["ended_at"].startswith((NOW - timedelta(minutes=6)).isoformat()[:16])
    assert first["duration_seconds"] == "240"
    open_call = next(r for r in rows if r["result"] == "no_answer")
    assert open_call["ended_at"] == "" and open_call["duration_seconds"] == ""


async def test_given_supervisor_on_an_attempt_page_then_no_legal_hold_control(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    attempt = make_attempt(engine, seed.account_id, seed.users["ana"])
    await login(client, "sofia")
    resp = await client.get(f"/attempts/{attempt}")
    assert resp.status == 200
    assert "Poner bajo retención legal" not in await resp.text()


async def test_given_a_disposed_call_when_its_attempt_page_opens_then_result_and_disposition_in_words(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    worked_day(engine, seed)
    with transaction(engine) as session:
        first = session.scalars(select(CallAttempt.id).where(CallAttempt.hangup_cause == 16)).one()
        night = session.scalars(
            select(CallAttempt.id).where(CallAttempt.result == "no_answer")
        ).one()
    await login(client, "raul")
    page = await (await client.get(f"/attempts/{first}")).text()
    text = visible_text(page)
    assert "Titular · Promesa de pago" in text
    assert raw_codes(text, RAW_ES) == []
    night_text = visible_text(await (await client.get(f"/attempts/{night}")).text())
    assert "No contesta" in night_text and raw_codes(night_text, RAW_ES) == []
