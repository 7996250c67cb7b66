"""One timeline of every contact on every channel: the auditor's attempt page, the
agent's pop data, and the supervisor's messages per channel and step. No raw codes."""

from __future__ import annotations

import re
from datetime import timedelta

from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed, login, make_attempt
from sqlalchemy import Engine

from console.agent_service import _last_attempts
from console.debtor_locale import DebtorLocale
from console.timeline import message_figures, timeline_for
from store.db import transaction
from store.models import Account, CallAttempt, Disposition, OutreachStep


def seed_messages(engine: Engine, seed: Seed) -> dict[str, int]:
    call = make_attempt(
        engine, seed.account_id, seed.users["ana"], started_at=NOW - timedelta(days=2)
    )
    sms = make_attempt(engine, seed.account_id, None, channel="sms", result="delivered",
                       source="outreach", started_at=NOW - timedelta(days=1),
                       details={"template": "recordatorio", "stage": "friendly"})  # fmt: skip
    with transaction(engine) as s:
        row = CallAttempt(account_id=seed.account_id, campaign_id=seed.campaign_id, channel="email",
                          result="failed", source="outreach", address="juana.perez@example.mx",
                          started_at=NOW - timedelta(hours=3),
                          details={"template": "aviso_firme", "stage": "firm"})  # fmt: skip
        s.add(row)
        s.flush()
        email = row.id
    with transaction(engine) as s:
        for key, channel, template, status, attempt, reasons in (
            ("c:1", "sms", "recordatorio", "sent", sms, []),
            ("c:2", "email", "aviso_firme", "sent", email, []),
            ("c:3", "whatsapp", "aviso_firme", "blocked", None, ["no_consent"]),
            ("c:4", "sms", "recordatorio", "waiting", None, ["outside_hours"]),
        ):
            s.add(OutreachStep(account_id=seed.account_id, campaign_id=seed.campaign_id, key=key,
                               stage="firm", channel=channel, template=template, status=status,
                               due_at=NOW - timedelta(hours=1), decided_at=NOW - timedelta(hours=1),
                               not_before=NOW + timedelta(hours=9) if status == "waiting" else None,
                               reasons=reasons, attempt_id=attempt))  # fmt: skip
    return {"call": call, "sms": sms, "email": email}


RAW = ("no_consent", "outside_hours", "delivered", "aviso_firme", "recordatorio", "whatsapp",
       "juana.perez")  # fmt: skip


def test_given_contacts_on_every_channel_when_the_timeline_is_read_then_all_in_words_newest_first(
    engine: Engine, seed: Seed
) -> None:
    ids = seed_messages(engine, seed)
    rows = timeline_for(engine, seed.account_id)
    channels = [r["channel"] for r in rows]
    assert set(channels) == {"Llamada", "SMS", "Correo electrónico", "WhatsApp"}
    sms = next(r for r in rows if r["attempt_id"] == ids["sms"])
    assert (sms["what"], sms["result"], sms["stage"]) == (
        "Recordatorio de pago",
        "Entregado",
        "Amigable",
    )
    email = next(r for r in rows if r["attempt_id"] == ids["email"])
    assert email["result"] == "No entregado" and email["address"] == "j***@example.mx"
    unsent = [r for r in rows if r["attempt_id"] is None]
    assert {r["reasons"] for r in unsent} == {"Sin consentimiento para ese número",
                                             "Fuera del horario permitido"}  # fmt: skip
    assert any(r["waits_until"] for r in unsent)
    text = repr(rows)
    for raw in RAW:
        assert f"'{raw}'" not in text.replace("'channel_code': 'whatsapp'", "")
    with transaction(engine) as s:
        account = s.get(Account, seed.account_id)
        assert account is not None
        pop = _last_attempts(s, account, DebtorLocale("es_MX"))
    assert [p["channel"] for p in pop] == ["Correo electrónico", "SMS", "Llamada"]
    assert pop[1]["what"] == "Recordatorio de pago"


def test_given_messages_when_a_supervisor_reads_figures_then_per_channel_and_step(
    engine: Engine, seed: Seed
) -> None:
    seed_messages(engine, seed)
    figures = {(f["channel"], f["step"]): f for f in message_figures(engine, seed.campaign_id, NOW)}
    assert figures[("SMS", "Recordatorio de pago")]["delivered"] == 1
    assert figures[("Correo electrónico", "Aviso firme")]["failed"] == 1
    assert figures[("WhatsApp", "Aviso firme")]["not_sent"] == 1
    assert message_figures(engine, seed.campaign_id + 99, NOW) == []


def _sent_step(engine: Engine, seed: Seed, key: str, channel: str, result: str) -> None:
    attempt = make_attempt(engine, seed.account_id, None, channel=channel, result=result,
                           source="outreach", started_at=NOW - timedelta(hours=2),
                           details={"template": "recordatorio", "stage": "friendly"})  # fmt: skip
    with transaction(engine) as s:
        s.add(OutreachStep(account_id=seed.account_id, campaign_id=seed.campaign_id, key=key,
                           stage="friendly", channel=channel, template="recordatorio",
                           status="sent", due_at=NOW - timedelta(hours=2),
                           decided_at=NOW - timedelta(hours=2), reasons=[],
                           attempt_id=attempt))  # fmt: skip


def test_given_messages_further_along_when_figures_are_read_then_each_counts_at_every_step_it_passed(
    engine: Engine, seed: Seed
) -> None:
    # A read WhatsApp was also sent and delivered; before, the table put each message in
    # its last status only and read "sent 0, delivered 0, read 1".
    for i, result in enumerate(("sent", "delivered", "read", "replied", "failed")):
        _sent_step(engine, seed, f"w:{i}", "whatsapp", result)
    for i, result in enumerate(("sent", "replied", "failed")):
        _sent_step(engine, seed, f"e:{i}", "email", result)
    for i, result in enumerate(("delivered", "replied")):
        _sent_step(engine, seed, f"s:{i}", "sms", result)
    figures = {f["channel"]: f for f in message_figures(engine, seed.campaign_id, NOW)}
    funnel = ("sent", "delivered", "read", "replied", "failed", "not_sent")
    assert [figures["WhatsApp"][k] for k in funnel] == [5, 3, 1, 1, 1, 0]
    # What a channel cannot report is unknown, never a zero that reads as a failure.
    assert [figures["Correo electrónico"][k] for k in funnel] == [3, None, None, 1, 1, 0]
    assert [figures["SMS"][k] for k in funnel] == [2, 2, None, 1, 0, 0]


async def test_given_an_email_step_when_the_supervisor_opens_the_wallboard_then_unknown_is_a_dash(
    client: TestClient, engine: Engine, seed: Seed
) -> None:
    _sent_step(engine, seed, "e:0", "email", "sent")
    await login(client, "sofia")
    page = await (await client.get("/supervisor")).text()
    row = page[page.index('id="message-figures"') :]
    row = row[row.index("Correo electrónico") : row.index("</tr>", row.index("Correo electrónico"))]
    assert re.findall(r"<td>([^<]*)</td>", row)[1:] == ["1", "—", "—", "0", "0", "0"]
    assert "el correo no confirma la entrega" in page


async def test_given_an_sms_attempt_when_the_auditor_opens_it_then_the_page_shows_the_channel_timeline(
    client: TestClient, engine: Engine, seed: Seed
) -> None:
    ids = seed_messages(engine, seed)
    await login(client, "raul")
    resp = await client.get(f"/attempts/{ids['sms']}")
    assert resp.status == 200
    page = await resp.text()
    assert 'id="contact-timeline"' in page and 'id="attempt-channel"' in page
    assert "Recordatorio de pago" in page and "Correo electrónico" in page
    assert "Sin consentimiento para ese número" in page and "no_consent" not in page
    listing = await (await client.get("/auditor?direction=outbound")).text()
    assert "Correo electrónico" in listing


async def test_given_messages_when_the_supervisor_page_opens_then_the_figures_show(
    client: TestClient, engine: Engine, seed: Seed
) -> None:
    seed_messages(engine, seed)
    await login(client, "sofia")
    page = await (await client.get("/supervisor")).text()
    assert 'id="message-figures"' in page and "Recordatorio de pago" in page


def test_given_a_letter_sent_when_the_timeline_is_read_then_its_destination_is_the_town_not_the_door(
    engine: Engine, seed: Seed
) -> None:
    with transaction(engine) as s:
        row = CallAttempt(account_id=seed.account_id, campaign_id=seed.campaign_id, channel="letter",
                          result="delivered", source="outreach",
                          address="Av. Reforma 100, Col. Juárez, 06600 Ciudad de México, CDMX",
                          started_at=NOW - timedelta(hours=2))  # fmt: skip
        s.add(row)
        s.flush()
        letter = row.id
    (shown,) = [r for r in timeline_for(engine, seed.account_id) if r["attempt_id"] == letter]
    # Before, a letter's destination was empty: only phones and e-mail were masked.
    assert shown["address"] == "***, 06600 Ciudad de México, CDMX"
    assert "Reforma" not in repr(shown)


async def test_given_a_message_waiting_for_allowed_hours_then_its_until_time_says_its_zone(
    client: TestClient, engine: Engine, seed: Seed
) -> None:
    ids = seed_messages(engine, seed)
    await login(client, "raul")
    page = await (await client.get(f"/attempts/{ids['sms']}")).text()
    until = re.search(r'hasta ([^<]+?) <span class="muted small zone">([^<]+)</span>', page)
    assert until is not None, "the 'until' time has no zone of its own"
    row_zones = re.findall(r'</a> <span class="muted small zone">([^<]+)</span>', page)
    assert until[2].strip() and until[2] in row_zones


def test_given_a_visit_when_the_timeline_is_read_then_its_result_as_the_field_agent_picked_it(
    engine: Engine, seed: Seed
) -> None:
    visit = make_attempt(engine, seed.account_id, None, channel="visit", source="field",
                         result="contact", started_at=NOW - timedelta(hours=5))  # fmt: skip
    with transaction(engine) as s:
        s.add(Disposition(attempt_id=visit, account_id=seed.account_id, party="tercero",
                          outcome="domicilio_incorrecto"))  # fmt: skip
    [row] = [r for r in timeline_for(engine, seed.account_id) if r["attempt_id"] == visit]
    assert (row["channel"], row["outcome"]) == ("Visita", "El deudor no vive aquí")
    with transaction(engine) as s:
        account = s.get(Account, seed.account_id)
        assert account is not None
        [pop] = _last_attempts(s, account, DebtorLocale("es_MX"))
    assert pop["outcome"] == "El deudor no vive aquí"


def test_given_a_stage_this_version_does_not_know_when_the_timeline_is_read_then_a_neutral_word(
    engine: Engine, seed: Seed
) -> None:
    """A strategy written by a newer version (or by hand) may name a stage with no label
    here: the timeline says "Otra etapa", never a blank nor the code."""
    sms = make_attempt(engine, seed.account_id, None, channel="sms", result="delivered",
                       source="outreach", started_at=NOW - timedelta(hours=2),
                       details={"template": "recordatorio", "stage": "prejuridica"})  # fmt: skip
    with transaction(engine) as s:
        s.add(OutreachStep(account_id=seed.account_id, campaign_id=seed.campaign_id, key="c:9",
                           stage="prejuridica", channel="sms", template="recordatorio",
                           status="blocked", due_at=NOW - timedelta(hours=1),
                           decided_at=NOW - timedelta(hours=1), reasons=["no_consent"]))  # fmt: skip
    rows = timeline_for(engine, seed.account_id)
    sent = next(r for r in rows if r["attempt_id"] == sms)
    unsent = next(r for r in rows if r["attempt_id"] is None)
    assert sent["stage"] == unsent["stage"] == "Otra etapa"
