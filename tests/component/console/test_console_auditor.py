"""Auditor pages: search, decision detail, exports, chain status, PII-view evidence."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed, login, make_attempt
from sqlalchemy import Engine, func, select

from store.db import transaction
from store.models import AuditEntry, CallAttempt, Decision


def add_decisions(engine: Engine, seed: Seed) -> tuple[int, int]:
    with transaction(engine) as session:
        allowed = Decision(
            account_id=seed.account_id,
            phone_e164="+525512340001",
            campaign_id=seed.campaign_id,
            allowed=True,
            reasons=[],
            profile_version="MX@2026-11-01",
            registry_versions={"REUS": "2026-11-20"},
            evaluated_at=NOW - timedelta(minutes=3),
        )
        blocked = Decision(
            account_id=seed.other_account_id,
            phone_e164="+525512340002",
            campaign_id=seed.campaign_id,
            allowed=False,
            reasons=["outside_hours", "no_consent"],
            profile_version="MX@2026-11-01",
            registry_versions={"REUS": "2026-11-20"},
            evaluated_at=NOW - timedelta(minutes=2),
        )
        session.add_all([allowed, blocked])
        session.flush()
        return allowed.id, blocked.id


def pii_views(engine: Engine) -> int:
    with transaction(engine) as session:
        return (
            session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.kind == "pii_view"))
            or 0
        )


async def test_given_attempts_when_auditor_searches_by_ref_phone_agent_then_rows_and_pii_view(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    allowed_id, _ = add_decisions(engine, seed)
    make_attempt(engine, seed.account_id, seed.users["ana"], decision_id=allowed_id)
    make_attempt(engine, seed.other_account_id, None, result="no_answer")
    await login(client, "raul")
    before = pii_views(engine)
    for query in (
        "account_ref=MX-0001",
        "phone=5512340001",
        "agent=ana",
        "result=contact",
        "date_from=2026-11-24&date_to=2026-11-24&agent=ana",
    ):
        resp = await client.get(f"/auditor?{query}")
        assert resp.status == 200, query
        text = await resp.text()
        assert "María López Hernández" in text, query
        assert "Juan Pérez" not in text, query
    assert pii_views(engine) > before
    none = await client.get("/auditor?date_from=2020-01-01&date_to=2020-01-02")
    assert "Sin resultados" in await none.text()


async def test_given_empty_search_when_opening_auditor_then_no_personal_data_and_no_pii_view(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    make_attempt(engine, seed.account_id, seed.users["ana"])
    await login(client, "raul")
    before = pii_views(engine)
    text = await (await client.get("/auditor")).text()
    assert "María" not in text
    assert pii_views(engine) == before


async def test_given_bad_filters_when_searching_then_400_with_message_on_form(
    client: TestClient,
) -> None:
    await login(client, "raul")
    for query, message in [
        ("date_from=ayer", "Fecha no válida"),
        ("date_from=2026-11-25&date_to=2026-11-24", "anterior a la inicial"),
        ("date_to=9999-12-31", "fuera de rango"),  # a day past it: an OverflowError, a 500
        ("date_from=0001-01-01", "fuera de rango"),
        ("result=volado", "Resultado desconocido"),
        ("reason=' OR 1=1 --", "motivo no válido"),
    ]:
        resp = await client.get(f"/auditor?{query}")
        assert resp.status == 400, query
        assert message in await resp.text(), query
    resp = await client.get("/auditor/attempts.csv?date_from=ayer")
    assert resp.status == 400


async def test_given_blocked_decision_when_searching_by_reason_then_detail_shows_reasons_and_versions(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    _, blocked_id = add_decisions(engine, seed)
    await login(client, "raul")
    resp = await client.get("/auditor/decisions?reason=no_consent")
    text = await resp.text()
    assert f"/auditor/decisions/{blocked_id}" in text
    assert "MX-0001" not in text
    resp = await client.get("/auditor/decisions?allowed=blocked&phone=%2B525512340002")
    assert f"/auditor/decisions/{blocked_id}" in await resp.text()
    detail = await (await client.get(f"/auditor/decisions/{blocked_id}")).text()
    for expected in ("Fuera del horario permitido", "Sin consentimiento para ese número",
                     "MX@2026-11-01", "REUS: 2026-11-20"):  # fmt: skip
        assert expected in detail
    assert "outside_hours" not in detail and "no_consent" not in detail
    assert (await client.get("/auditor/decisions/999999")).status == 404


def add_message_decisions(engine: Engine, seed: Seed) -> tuple[int, int]:
    """A letter refused and an e-mail allowed: decisions that name an address, no number."""
    with transaction(engine) as session:
        letter = Decision(account_id=seed.account_id, channel="letter", allowed=False,
                          address="Av. Insurgentes Sur 1602, Col. Crédito Constructor, CDMX",
                          reasons=["outside_hours"], profile_version="MX@2026-11-01",
                          evaluated_at=NOW - timedelta(minutes=1))  # fmt: skip
        email = Decision(account_id=seed.account_id, channel="email", allowed=True,
                         address="maria@example.mx", reasons=[],
                         profile_version="MX@2026-11-01", evaluated_at=NOW)  # fmt: skip
        session.add_all([letter, email])
        session.flush()
        return letter.id, email.id


async def test_given_letter_and_email_decisions_when_auditor_looks_then_channel_and_address_shown(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    letter_id, email_id = add_message_decisions(engine, seed)
    street = "Av. Insurgentes Sur 1602, Col. Crédito Constructor, CDMX"
    await login(client, "raul")
    listing = await (await client.get("/auditor/decisions?account_ref=MX-0001")).text()
    assert re.search(rf'<td class="decision-address">{re.escape(street)}</td>', listing)
    assert '<td class="decision-address">maria@example.mx</td>' in listing
    assert "Carta" in listing
    detail = await (await client.get(f"/auditor/decisions/{letter_id}")).text()
    assert re.search(r"<dt>Dirección postal</dt><dd[^>]*>" + re.escape(street) + "</dd>", detail)
    assert "<dt>Canal</dt><dd>Carta</dd>" in detail
    detail = await (await client.get(f"/auditor/decisions/{email_id}?lang=en")).text()
    assert re.search(r"<dt>E-mail</dt><dd[^>]*>maria@example\.mx</dd>", detail)
    resp = await client.get("/auditor/decisions.csv?account_ref=MX-0001")
    rows = {int(r["id"]): r for r in csv.DictReader(io.StringIO(await resp.text()))}
    assert (rows[letter_id]["channel"], rows[letter_id]["address"]) == ("letter", street)
    assert (rows[email_id]["channel"], rows[email_id]["address"]) == ("email", "maria@example.mx")
    resp = await client.get("/auditor/decisions.jsonl?account_ref=MX-0001&allowed=blocked")
    [line] = [json.loads(x) for x in (await resp.text()).splitlines()]
    assert (line["id"], line["channel"], line["address"], line["phone"]) == (
        letter_id, "letter", street, "")  # fmt: skip


def listed_decisions(text: str, ids: list[int]) -> set[int]:
    return {i for i in ids if f'href="/auditor/decisions/{i}"' in text}


async def test_given_letter_and_email_decisions_when_searching_part_of_an_address_then_case_and_accents_ignored(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    letter_id, email_id = add_message_decisions(engine, seed)
    call_ids = list(add_decisions(engine, seed))
    every = [letter_id, email_id, *call_ids]
    await login(client, "raul")
    for query, expected in [
        ("address=insurgentes", {letter_id}),
        ("address=CREDITO%20constructor", {letter_id}),  # "Crédito": accent and case ignored
        ("address=cr%C3%89DITO", {letter_id}),  # "crÉDITO"
        ("address=%C2%A0Insurgentes%C2%A0Sur%20", {letter_id}),  # non-breaking spaces pasted
        ("address=MARIA%40EXAMPLE", {email_id}),
        ("address=example.mx&allowed=allowed", {email_id}),
        ("address=example.mx&allowed=blocked", set()),
        ("address=%25%25%25", set()),  # a literal "%", never a wildcard
        ("address=a_a", set()),  # a literal "_" too
        ("address=5512340001", set()),  # numbers are searched with "phone"
    ]:
        resp = await client.get(f"/auditor/decisions?{query}")
        assert resp.status == 200, query
        assert listed_decisions(await resp.text(), every) == expected, query
    resp = await client.get("/auditor/decisions.csv?address=insurgentes")
    assert [int(r["id"]) for r in csv.DictReader(io.StringIO(await resp.text()))] == [letter_id]
    resp = await client.get("/auditor/decisions.jsonl?address=Maria%40")
    assert [json.loads(x)["id"] for x in (await resp.text()).splitlines()] == [email_id]
    with transaction(engine) as session:
        searched = [json.loads(p)["filters"].get("address") for p in session.scalars(
            select(AuditEntry.payload).where(AuditEntry.kind.in_(("pii_view", "export"))))]  # fmt: skip
    assert "insurgentes" in searched and "Maria@" in searched  # what was searched is evidence


async def test_given_an_e_mail_attempt_when_searching_its_address_then_only_it_is_listed(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    email = make_attempt(engine, seed.account_id, None, channel="email",
                         address="Maria.Lopez@Example.MX", result="sent")  # fmt: skip
    call = make_attempt(engine, seed.account_id, seed.users["ana"])
    await login(client, "raul")
    text = await (await client.get("/auditor?address=lopez%40example")).text()
    assert f'href="/attempts/{email}"' in text and f'href="/attempts/{call}"' not in text
    resp = await client.get("/auditor/attempts.jsonl?address=LOPEZ")
    assert [json.loads(x)["id"] for x in (await resp.text()).splitlines()] == [email]


async def test_given_a_bad_address_when_searching_then_400_with_the_reason_and_no_rows(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    add_message_decisions(engine, seed)
    await login(client, "raul")
    longest = "a" * 320
    assert (await client.get(f"/auditor/decisions?address={longest}")).status == 200
    for value, reason in [
        ("ab", "al menos 3 caracteres"),
        ("%20%20ab%20", "al menos 3 caracteres"),
        ("a" * 321, "pasa de 320 caracteres"),
        ("a" * 4000, "pasa de 320 caracteres"),  # 8 KiB is the whole URL's bound
        ("Insurgentes%0ASur", "saltos de línea"),
        ("Insurgentes%09Sur", "saltos de línea"),
        ("Insurgentes%00", "caracteres de control"),
        ("Insurgentes%E2%80%AE", "caracteres de control"),  # a right-to-left override
        ("Insur%E2%80%8Bgentes", "caracteres de control"),  # a zero-width space
    ]:
        for page in ("/auditor/decisions", "/auditor"):
            resp = await client.get(f"{page}?address={value}")
            assert resp.status == 400, (page, value[:40])
            text = await resp.text()
            assert reason in text, (page, value[:40])
            assert "Insurgentes Sur 1602" not in text
        resp = await client.get(f"/auditor/decisions.csv?address={value}")
        assert resp.status == 400, value[:40]
        assert reason in (await resp.json())["errors"]["address"], value[:40]
    english = await client.get("/auditor/decisions.jsonl?address=ab&lang=en")
    assert (await english.json())["errors"][
        "address"
    ] == "Type at least 3 characters of the address."


async def test_given_search_when_exporting_csv_and_jsonl_then_same_rows_and_export_audited(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    allowed_id, blocked_id = add_decisions(engine, seed)
    make_attempt(engine, seed.account_id, seed.users["ana"], decision_id=allowed_id)
    await login(client, "raul")
    resp = await client.get("/auditor/attempts.csv?account_ref=MX-0001")
    assert resp.status == 200 and resp.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert [r["account_ref"] for r in rows] == ["MX-0001"]
    assert rows[0]["agent"] == "ana"
    resp = await client.get("/auditor/decisions.jsonl?allowed=blocked")
    lines = [json.loads(line) for line in (await resp.text()).splitlines()]
    assert [d["id"] for d in lines] == [blocked_id]
    assert lines[0]["reasons"] == ["outside_hours", "no_consent"]
    with transaction(engine) as session:
        assert (
            session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.kind == "export"))
            == 2
        )


async def test_given_chain_when_auditor_opens_status_then_intact_and_tamper_detected(
    client: TestClient, seed: Seed, engine: Engine, settings
) -> None:  # type: ignore[no-untyped-def]
    from compliance.transparency import runtime
    from compliance.transparency.integrator import integrate

    await login(client, "raul")
    await client.get("/auditor?account_ref=MX-0001")
    make_attempt(engine, seed.account_id, None)
    await client.get("/auditor?account_ref=MX-0001")
    integrate(engine)
    runtime.checkpointer(settings, engine).run_once(force=True)
    text = await (await client.get("/auditor/chain")).text()
    assert "Bitácora íntegra" in text
    assert "Verificado" in text and "#0" in text and "audit-witness" in text
    with transaction(engine) as session:
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).first()
        assert entry is not None
        entry.payload = entry.payload.replace("}", ',"x":1}', 1)
    text = await (await client.get("/auditor/chain")).text()
    assert "Bitácora alterada" in text and "entry_edited" in text


async def test_given_a_logged_attempt_when_auditor_downloads_its_proof_then_it_checks_offline(
    client: TestClient, seed: Seed, engine: Engine, settings
) -> None:  # type: ignore[no-untyped-def]
    from compliance.transparency import keys, runtime
    from compliance.transparency.integrator import integrate
    from compliance.transparency.proofs import check_proof
    from store.audit import append

    attempt_id = make_attempt(engine, seed.account_id, None)
    with transaction(engine) as session:
        entry_id = append(session, "attempt", {"attempt_id": attempt_id, "result": "contact"}).id
        append(session, "attempt", {"attempt_id": attempt_id * 10 + 1})  # not this attempt
    await login(client, "raul")
    page = await (await client.get(f"/attempts/{attempt_id}")).text()
    assert f"/auditor/audit-entries/{entry_id}/proof.json" in page
    assert page.count("audit-proof") == 1
    # Its time in the debtor's zone, which the section names once, as every time a
    # person reads.
    assert re.search(r'<code>attempt</code> · <time datetime="[^"]+">\d{1,2} \w+ \d{4}, '
                     r"\d\d:\d\d</time> ·", page)  # fmt: skip
    assert 'id="audit-zone">Horas en Ciudad de México.<' in page
    resp = await client.get(f"/auditor/audit-entries/{entry_id}/proof.json")
    assert resp.status == 409  # not signed yet
    integrate(engine)
    runtime.checkpointer(settings, engine).run_once(force=True)
    resp = await client.get(f"/auditor/audit-entries/{entry_id}/proof.json")
    assert resp.status == 200 and "attachment" in resp.headers["Content-Disposition"]
    doc = json.loads(await resp.text())
    public = runtime.signing_key(settings, create=False).public_key()
    assert check_proof(doc, public).ok
    doc["entry"]["payload"] = doc["entry"]["payload"].replace("contact", "contacT")
    assert not check_proof(doc, public).ok
    assert (await client.get("/auditor/audit-entries/99999999/proof.json")).status == 404
    assert keys.key_id(public)
    with transaction(engine) as session:
        exports = session.scalars(select(AuditEntry).where(AuditEntry.kind == "export")).all()
        assert any(f'"entry_id":{entry_id}' in e.payload for e in exports)


async def test_given_auditor_when_posting_anything_then_no_write_route_exists(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    token = await login(client, "raul")
    resp = await client.post("/auditor", data={"_csrf": token})
    assert resp.status == 405
    with transaction(engine) as session:
        assert session.scalar(select(func.count(CallAttempt.id))) == 0


def add_inbound_calls(engine: Engine, seed: Seed) -> dict[str, int]:
    """Three inbound calls as the dialer writes them: matched, unmatched, withheld."""
    from dialer.inbound import records
    from dialer.inbound.ani import AniStatus

    at = NOW - timedelta(minutes=5)
    ids: dict[str, int] = {}
    for name, account_id, ani, status in (
        ("matched", seed.account_id, "+525512340001", AniStatus.ok),
        ("unmatched", None, "+525599990000", AniStatus.ok),
        ("withheld", None, "", AniStatus.withheld),
    ):
        ids[name] = records.open_attempt(
            engine, campaign_id=seed.campaign_id, account_id=account_id, phone_id=None, ani=ani,
            ani_status=status, did="5215550001000", started_at=at, uniqueid=f"u-{name}",
            matches=1 if account_id else 0,
        )  # fmt: skip
        records.close_attempt(engine, ids[name], result="queue_abandoned", ended_at=at)
    return ids


async def test_given_inbound_calls_matched_or_not_when_auditor_searches_then_all_listed_with_direction(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    ids = add_inbound_calls(engine, seed)
    outbound = make_attempt(engine, seed.other_account_id, None, result="no_answer")
    await login(client, "raul")
    text = await (await client.get("/auditor?date_from=2026-11-24&date_to=2026-11-24")).text()
    for attempt_id in (*ids.values(), outbound):
        assert f'href="/attempts/{attempt_id}"' in text
    assert "+525599990000" in text and "Número oculto" in text and "Sin cuenta" in text
    assert text.count('class="direction-inbound">Entrante<') == 3
    assert text.count('class="direction-outbound">Saliente<') == 1

    inbound = await (await client.get("/auditor?direction=inbound")).text()
    assert {i for i in (*ids.values(), outbound) if f'href="/attempts/{i}"' in inbound} == set(
        ids.values()
    )
    by_number = await (await client.get("/auditor?phone=5599990000")).text()
    assert f'href="/attempts/{ids["unmatched"]}"' in by_number
    assert f'href="/attempts/{ids["withheld"]}"' not in by_number
    assert (await client.get("/auditor?direction=sideways")).status == 400

    english = await (await client.get("/auditor?direction=inbound&lang=en")).text()
    assert ">Inbound<" in english and "Withheld number" in english and "No account" in english


async def test_given_inbound_calls_when_exported_then_every_row_with_direction_and_caller(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    ids = add_inbound_calls(engine, seed)
    outbound = make_attempt(engine, seed.other_account_id, None, result="no_answer")
    await login(client, "raul")
    resp = await client.get("/auditor/attempts.csv?date_from=2026-11-24")
    rows = {int(r["id"]): r for r in csv.DictReader(io.StringIO(await resp.text()))}
    assert set(rows) == {*ids.values(), outbound}
    assert rows[ids["unmatched"]]["direction"] == "inbound"
    assert rows[ids["unmatched"]]["phone"] == "+525599990000"
    assert rows[ids["unmatched"]]["account_ref"] == ""
    assert rows[ids["withheld"]]["phone"] == ""
    assert rows[ids["matched"]]["account_ref"] == "MX-0001"
    assert rows[outbound]["direction"] == "outbound"
    resp = await client.get("/auditor/attempts.jsonl?direction=inbound")
    lines = [json.loads(line) for line in (await resp.text()).splitlines()]
    assert sorted(r["id"] for r in lines) == sorted(ids.values())
    assert {r["account_id"] for r in lines} == {seed.account_id, None}


async def test_given_a_withheld_inbound_call_when_auditor_opens_it_then_caller_shown_as_withheld(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    ids = add_inbound_calls(engine, seed)
    await login(client, "raul")
    resp = await client.get(f"/attempts/{ids['withheld']}")
    assert resp.status == 200
    text = await resp.text()
    assert "Entrante" in text and "Número oculto" in text and "Sin cuenta" in text


async def test_given_a_recorded_unmatched_inbound_call_when_auditor_searches_recordings_then_found(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    from store.models import Recording

    ids = add_inbound_calls(engine, seed)
    make_attempt(engine, seed.other_account_id, None, result="no_answer")
    with transaction(engine) as session:
        session.add(Recording(attempt_id=ids["unmatched"], storage_key="2026/11/24/1.wav",
                              status="ok", started_at=NOW, retention_until=NOW + timedelta(days=365)))  # fmt: skip
        session.add(Recording(attempt_id=ids["withheld"], storage_key="2026/11/24/2.wav",
                              status="ok", started_at=NOW, retention_until=NOW,
                              purged_at=NOW))  # fmt: skip
    await login(client, "raul")
    text = await (await client.get("/auditor?recording=with")).text()
    listed = {i for i in ids.values() if f'href="/attempts/{i}"' in text}
    assert listed == {ids["unmatched"], ids["withheld"]}
    assert f'href="/attempts/{ids["unmatched"]}#recording"' in text and "Eliminada" in text
    resp = await client.get("/auditor/attempts.jsonl?recording=with&direction=inbound")
    rows = {r["id"]: r for r in map(json.loads, (await resp.text()).splitlines())}
    assert rows[ids["unmatched"]]["recording"] == "ok"
    assert rows[ids["withheld"]]["recording"] == "purged"
    assert (await client.get("/auditor?recording=maybe")).status == 400


async def test_given_a_decision_in_two_candidate_zones_when_auditor_reads_it_then_the_debtors_time_with_its_city(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    with transaction(engine) as session:
        row = Decision(account_id=seed.account_id, phone_e164="+525512340001", allowed=True,
                       reasons=[], profile_version="MX@2026-11-01", evaluated_at=NOW,
                       local_time="2026-12-06T14:05:00-06:00",
                       timezone="America/Mexico_City,America/Cancun")  # fmt: skip
        session.add(row)
        session.flush()
        decision_id = row.id
    await login(client, "raul")
    detail = await (await client.get(f"/auditor/decisions/{decision_id}")).text()
    assert "6 dic 2026, 14:05 (Ciudad de México)" in detail
    assert "Ciudad de México, Cancún" in detail  # every candidate zone, by its city
    assert "America/Mexico_City" not in detail and "2026-12-06T14:05" not in detail
    detail = await (await client.get(f"/auditor/decisions/{decision_id}?lang=en")).text()
    assert "Dec 6, 2026, 14:05 (Mexico City)" in detail
    listing = await (await client.get("/auditor/decisions?account_ref=MX-0001&lang=es")).text()
    assert "6 dic 2026, 14:05 (Ciudad de México)" in listing
    # The export keeps the machine fields as they are.
    export = await (await client.get("/auditor/decisions.csv?account_ref=MX-0001")).text()
    rows = {int(r["id"]): r for r in csv.DictReader(io.StringIO(export))}
    assert rows[decision_id]["local_time"] == "2026-12-06T14:05:00-06:00"
    assert rows[decision_id]["timezone"] == "America/Mexico_City,America/Cancun"


async def test_given_utc_columns_when_the_auditor_reads_them_then_the_shared_words_with_seconds(
    client: TestClient, seed: Seed, engine: Engine, settings
) -> None:  # type: ignore[no-untyped-def]
    """Times under "(UTC)" read as every page words a time (cobrador/ground/shown_time.py),
    with their seconds (evidence); the machine's ISO stays in the <time> tag and exports."""
    from compliance.transparency import runtime
    from compliance.transparency.integrator import integrate

    allowed_id, blocked_id = add_decisions(engine, seed)
    make_attempt(engine, seed.account_id, seed.users["ana"], decision_id=allowed_id,
                 started_at=NOW - timedelta(minutes=2, seconds=-7))  # fmt: skip
    await login(client, "raul")
    attempts = await (await client.get("/auditor?account_ref=MX-0001")).text()
    assert "24 nov 2026, 16:58:07</time>" in attempts
    assert "2026-11-24 16:58" not in attempts
    decisions = await (await client.get("/auditor/decisions?allowed=blocked")).text()
    assert re.search(r'<time datetime="2026-11-24T16:58:00[^"]*">24 nov 2026, 16:58:00</time>',
                     decisions), decisions  # fmt: skip
    detail = await (await client.get(f"/auditor/decisions/{blocked_id}")).text()
    assert "24 nov 2026, 16:58:00</time>" in detail and "T16:58:00" not in detail.split("<time")[0]
    export = await (await client.get("/auditor/decisions.jsonl?allowed=blocked")).text()
    assert json.loads(export.splitlines()[0])["evaluated_at"].startswith("2026-11-24T16:58:00")
    integrate(engine)
    runtime.checkpointer(settings, engine).run_once(force=True)
    chain = await (await client.get("/auditor/chain")).text()
    signed = re.findall(r'<time datetime="[^"]+">([^<]+)</time>', chain)
    assert signed and all(re.fullmatch(r"\d{1,2} \w+ \d{4}, \d\d:\d\d:\d\d", s) for s in signed)
    english = await (await client.get("/auditor?account_ref=MX-0001&lang=en")).text()
    assert "Nov 24, 2026, 16:58:07</time>" in english


async def test_given_a_portal_visit_when_auditor_reads_it_then_no_withheld_number_is_claimed(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    # A portal visit has no phone at all: "Número oculto" said a caller hid theirs.
    visit = make_attempt(engine, seed.account_id, None, channel="portal", direction="inbound",
                         result="debtor_action")  # fmt: skip
    with transaction(engine) as session:
        row = session.get(CallAttempt, visit)
        assert row is not None
        row.phone_id, row.phone_e164 = None, None
    withheld = add_inbound_calls(engine, seed)["withheld"]
    await login(client, "raul")
    listing = await (await client.get("/auditor?direction=inbound")).text()
    cells = dict(
        re.findall(r'<a href="/attempts/(\d+)">.*?<td class="phone">(.*?)</td>', listing, re.S)
    )
    assert cells[str(visit)] == "—"
    assert "Número oculto" in cells[str(withheld)]
    page = await (await client.get(f"/attempts/{visit}")).text()
    assert re.search(r'<dd id="attempt-phone">—</dd>', page)
