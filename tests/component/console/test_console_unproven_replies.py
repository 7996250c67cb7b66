"""Inbound e-mails whose sender the mail server did not prove act on no account; a
supervisor reads them on /supervisor/unproven-mail and marks them handled (audited)."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta

from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed, login
from sqlalchemy import Engine, select, update

from compliance.transparency.verify import verify as audit_verify
from console import unproven_replies
from outreach.channels.delivery import DeliveryBook
from store.audit import append as audit_append
from store.db import transaction
from store.models import (
    AuditEntry,
    ContactChannel,
    UnprovenReplyHandled,
    UnprovenReplyText,
    User,
)

PATH = "/supervisor/unproven-mail"
HANDLED = PATH + "/handled"


def keep(engine: Engine, address: str, subject: str, text: str, minutes: int = 0) -> None:
    """As the e-mail listener keeps a reply whose From: its server did not prove."""
    DeliveryBook(engine).unproven(ContactChannel.email, address, subject, text,
                                  NOW + timedelta(minutes=minutes), "dmarc=none")  # fmt: skip


def reply_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-reply="(\d+)"', page)]


async def test_given_an_unproven_stop_request_then_a_supervisor_reads_it_and_marks_it_handled(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    keep(engine, "maria@example.mx", "BAJA", "No me contacten más. <script>alert(1)</script>"
         + " relleno" * 200)  # fmt: skip
    token = await login(client, "sofia")
    page = await (await client.get(PATH + "?tz=America/Mexico_City")).text()
    [entry_id] = reply_ids(page)
    assert "maria@example.mx" in page and "BAJA" in page and "No me contacten más." in page
    assert "sin verificar" in page and "cualquiera puede escribir esa dirección" in page
    # Received 17:00 UTC, shown in the supervisor's zone, named once above the list.
    assert "24 nov 2026, 11:00" in page and "Horas en Ciudad de México." in page
    # What the sender wrote is escaped, and only an excerpt of it is shown.
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    excerpt = re.search(r'<td class="excerpt">([^<]*)</td>', page).group(1)  # type: ignore[union-attr]
    assert excerpt.endswith("…") and len(excerpt) < unproven_replies.EXCERPT_CHARS + 100
    english = await (await client.get(PATH + "?tz=America/Mexico_City&lang=en")).text()
    assert "Unverified e-mails" in english and "anyone can write that address" in english
    await client.get(PATH + "?lang=es")

    resp = await client.post(f"{PATH}/{entry_id}/done?tz=America/Mexico_City",
                             data={"_csrf": token, "note": "Llamé: confirma la baja"},
                             allow_redirects=False)  # fmt: skip
    assert resp.status == 303 and resp.headers["Location"] == PATH + "?tz=America/Mexico_City"
    page = await (await client.get(PATH)).text()
    assert reply_ids(page) == [] and "No hay correos sin verificar por atender." in page
    with transaction(engine) as s:
        handled = s.get(UnprovenReplyHandled, entry_id)
        assert handled is not None and handled.handled_by == seed.users["sofia"]
        assert handled.note == "Llamé: confirma la baja" and handled.words_purged_at is None
        [audit] = s.scalars(select(AuditEntry).where(AuditEntry.kind == "reply_unproven_handled"))
    # The note may name the debtor: the entry, kept for ever, proves it by its digest.
    assert json.loads(audit.payload) == {
        "entry_id": entry_id, "note_chars": len("Llamé: confirma la baja"),
        "note_sha256": hashlib.sha256("Llamé: confirma la baja".encode()).hexdigest()}  # fmt: skip
    assert "Llamé" not in audit.payload
    assert audit.subject == f"audit:{entry_id}" and audit.actor.endswith("sofia")
    # The handled list shows who handled it, when, and the note.
    done = await (await client.get(HANDLED + "?tz=America/Mexico_City")).text()
    assert reply_ids(done) == [entry_id] and "Llamé: confirma la baja" in done
    assert "maria@example.mx" in done and "BAJA" in done and "se borran 90 días después" in done
    assert "Borrado" not in done
    # Handled once: a second mark (another supervisor's page left open) says so.
    again = await client.post(f"{PATH}/{entry_id}/done", data={"_csrf": token})
    assert again.status == 409 and "ya marcó este correo" in await again.text()


async def test_given_bad_inputs_then_refused_with_a_reason_and_nothing_handled(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    keep(engine, "maria@example.mx", "Disputa", "No reconozco esta deuda")
    token = await login(client, "sofia")
    [entry_id] = reply_ids(await (await client.get(PATH)).text())
    for bad in ("Mars/Olympus", "x" * 200):
        resp = await client.get(PATH, params={"tz": bad})
        assert resp.status == 400 and "Zona horaria desconocida." in await resp.text()
        resp = await client.post(f"{PATH}/{entry_id}/done", params={"tz": bad},
                                 data={"_csrf": token})  # fmt: skip
        assert resp.status == 400
    for bad in ("0", "-1", "abc", "9" * 30, "²"):
        resp = await client.get(PATH, params={"before": bad})
        assert resp.status == 400 and "Página inválida." in await resp.text(), bad
        resp = await client.post(f"{PATH}/{bad}/done", data={"_csrf": token})
        assert resp.status == 404, bad
    resp = await client.post(f"{PATH}/{entry_id}/done", data={"_csrf": token, "note": "n" * 501})
    assert resp.status == 400 and "como máximo 500 caracteres" in await resp.text()
    # Another kind of audit entry is no unproven mail to close.
    with transaction(engine) as s:
        other = s.scalar(select(AuditEntry.id).where(AuditEntry.kind != "reply_unproven"))
    assert other is not None  # the login's
    assert (await client.post(f"{PATH}/{other}/done", data={"_csrf": token})).status == 404
    assert (await client.post(f"{PATH}/{entry_id}/done", data={})).status == 403  # no CSRF
    with transaction(engine) as s:
        assert s.scalars(select(UnprovenReplyHandled)).all() == []


async def test_given_many_unproven_mails_then_pages_of_bounded_size_newest_first(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    total = unproven_replies.PAGE_SIZE + 3
    for i in range(total):
        keep(engine, f"d{i}@example.mx", f"Asunto {i}", "texto", minutes=i)
    await login(client, "sofia")
    first = await (await client.get(PATH)).text()
    assert f'id="unproven-count">{total}<' in first
    ids = reply_ids(first)
    assert len(ids) == unproven_replies.PAGE_SIZE and ids == sorted(ids, reverse=True)
    older = re.search(r'href="(/supervisor/unproven-mail\?[^"]+)" id="unproven-older"', first)
    assert older is not None
    second = await (await client.get(older.group(1).replace("&amp;", "&"))).text()
    assert len(reply_ids(second)) == 3 and max(reply_ids(second)) < min(ids)
    assert 'id="unproven-older"' not in second


async def test_given_a_supervisor_of_one_campaign_then_the_mails_are_not_shown_to_them(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    """They name no account, so no campaign: a supervisor tied to one campaign could read
    another campaign's debtors' words."""
    keep(engine, "maria@example.mx", "BAJA", "No me contacten más")
    with transaction(engine) as s:
        s.execute(update(User).where(User.id == seed.users["sofia"]).values(
            campaign_id=seed.campaign_id))  # fmt: skip
        entry_id = s.scalar(select(AuditEntry.id).where(AuditEntry.kind == "reply_unproven"))
    token = await login(client, "sofia")
    page = await (await client.get(PATH)).text()
    assert "maria@example.mx" not in page and "solo los leen supervisores" in page
    assert (await client.post(f"{PATH}/{entry_id}/done", data={"_csrf": token})).status == 404
    with transaction(engine) as s:  # handled by someone else: still not theirs to read
        s.add(UnprovenReplyHandled(entry_id=entry_id, handled_at=NOW,
                                   handled_by=seed.users["root"], note="nota"))  # fmt: skip
    page = await (await client.get(HANDLED)).text()
    assert "maria@example.mx" not in page and "nota" not in page
    assert "solo los leen supervisores" in page
    await login(client, "root")  # an admin reads them
    assert "maria@example.mx" in await (await client.get(HANDLED)).text()


async def test_given_an_agent_then_the_page_is_refused(client: TestClient, seed: Seed) -> None:
    await login(client, "ana")
    assert (await client.get(PATH, allow_redirects=False)).status in (302, 403)


def entries(engine: Engine, kind: str) -> list[AuditEntry]:
    with transaction(engine) as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.kind == kind)
                              .order_by(AuditEntry.id)))  # fmt: skip


async def test_given_the_list_shown_then_a_pii_view_names_the_mails_and_the_reader(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    """Senders' addresses and what they wrote are personal data: every page that shows
    some is audited as any other personal-data view; an empty page shows none."""
    await login(client, "sofia")
    await client.get(PATH)
    assert entries(engine, "pii_view") == []
    keep(engine, "maria@example.mx", "BAJA", "No me contacten más")
    keep(engine, "jose@example.mx", "Disputa", "No reconozco esta deuda", minutes=1)
    ids = reply_ids(await (await client.get(PATH)).text())
    [view] = entries(engine, "pii_view")
    assert json.loads(view.payload) == {"page": "unproven_mail", "entries": ids,
                                        "fields": ["address", "subject", "text"]}  # fmt: skip
    assert view.actor.endswith("sofia") and len(ids) == 2


async def test_given_an_unproven_mail_then_its_audit_entry_keeps_a_digest_not_the_words(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    """The audit log is kept for ever: it proves who sent it and what arrived (SHA-256
    and length of the address, subject and text) without the debtor's address or
    words, which the page reads from their own table. A NUL or an undecodable byte in
    the mail is no reason to lose it."""
    words = "No me contacten más.\x00 Gracias \udcff" + " relleno" * 400
    keep(engine, "maria@example.mx", "BAJA\x00", words)
    [entry] = entries(engine, "reply_unproven")
    payload = json.loads(entry.payload)
    assert "text" not in payload and "subject" not in payload and "address" not in payload
    assert "No me contacten" not in entry.payload and "BAJA" not in entry.payload
    assert "maria" not in entry.payload and "example.mx" not in entry.payload
    with transaction(engine) as s:
        said = s.get(UnprovenReplyText, entry.id)
        assert said is not None and said.subject == "BAJA"
        assert said.text.startswith("No me contacten más. Gracias ?")
        assert said.address == "maria@example.mx"
    assert payload["address_sha256"] == hashlib.sha256(b"maria@example.mx").hexdigest()
    assert payload["address_chars"] == len("maria@example.mx")
    assert len(said.text) == 2000 - 1  # the bounded text, its NUL dropped
    assert payload["text_sha256"] == hashlib.sha256(said.text.encode()).hexdigest()
    assert payload["text_chars"] == len(said.text)
    assert payload["subject_sha256"] == hashlib.sha256(b"BAJA").hexdigest()
    assert payload["subject_chars"] == 4
    await login(client, "sofia")
    page = await (await client.get(PATH)).text()
    assert "No me contacten más. Gracias" in page and "BAJA" in page


async def test_given_an_entry_written_before_the_texts_table_then_still_read_from_the_entry(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    """Entries kept before the digest (append-only: never rewritten) still show their
    words, read from the entry itself."""
    with transaction(engine) as s:
        audit_append(s, "reply_unproven", {
            "channel": "email", "address": "viejo@example.mx", "subject": "Antigua",
            "text": "Dejen de llamar", "received_at": NOW.isoformat(), "why": "dmarc=none",
        }, actor="outreach")  # fmt: skip
    await login(client, "sofia")
    page = await (await client.get(PATH)).text()
    assert "viejo@example.mx" in page and "Antigua" in page and "Dejen de llamar" in page


async def test_given_an_entry_written_before_the_address_moved_then_its_address_is_still_shown(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    """Between the words' table and the address's (migrations 0033 to 0035) an entry kept
    the address and its words row has none: the page reads the address from the entry."""
    with transaction(engine) as s:
        entry = audit_append(s, "reply_unproven", {
            "channel": "email", "address": "medio@example.mx", "received_at": NOW.isoformat(),
            "why": "dmarc=none", "text_sha256": "0" * 64, "text_chars": 4,
        }, actor="outreach")  # fmt: skip
        s.add(UnprovenReplyText(entry_id=entry.id, subject="Intermedio", text="Baja"))
    await login(client, "sofia")
    page = await (await client.get(PATH)).text()
    assert "medio@example.mx" in page and "Intermedio" in page and "Baja" in page


async def test_given_handled_mails_past_retention_then_their_words_purged_and_the_audit_verifies(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    """What a handled mail said goes `retention` after it was handled, with one audit
    entry saying how many; open mails and ones handled since are kept; the audit chain
    still verifies (nothing in it was touched)."""
    keep(engine, "a@example.mx", "BAJA", "uno")
    keep(engine, "b@example.mx", "BAJA", "dos", minutes=1)
    keep(engine, "c@example.mx", "BAJA", "tres", minutes=2)
    token = await login(client, "sofia")
    first, second, _open = reply_ids(await (await client.get(PATH)).text())[::-1]
    for entry_id, note in ((first, "baja confirmada"), (second, "reenviado")):
        resp = await client.post(f"{PATH}/{entry_id}/done", data={"_csrf": token, "note": note})
        assert resp.status in (200, 303)
    with transaction(engine) as s:  # the first handled long ago
        s.execute(update(UnprovenReplyHandled).where(UnprovenReplyHandled.entry_id == first)
                  .values(handled_at=NOW - timedelta(days=91)))  # fmt: skip
    retention = timedelta(days=90)

    assert unproven_replies.purge_texts(engine, NOW, retention) == 1
    assert unproven_replies.purge_texts(engine, NOW, retention) == 0

    with transaction(engine) as s:
        kept = sorted(t.entry_id for t in s.scalars(select(UnprovenReplyText)))
        gone, recent = s.get(UnprovenReplyHandled, first), s.get(UnprovenReplyHandled, second)
    assert first not in kept and len(kept) == 2
    assert gone is not None and gone.note is None and gone.words_purged_at == NOW
    assert recent is not None and recent.note == "reenviado" and recent.words_purged_at is None
    [purged] = entries(engine, unproven_replies.PURGE_KIND)
    assert json.loads(purged.payload) == {"mails": 1, "texts": 1, "handled_before":
                                          (NOW - retention).isoformat()}  # fmt: skip
    assert purged.actor == "system"
    assert len(entries(engine, "reply_unproven")) == 3  # the evidence stays
    assert audit_verify(engine).ok
    # The handled list says what is gone and since when; the other is still readable.
    page = await (await client.get(HANDLED + "?tz=America/Mexico_City")).text()
    rows = dict(re.findall(r'<tr data-reply="(\d+)">(.*?)</tr>', page, re.S))
    assert "a@example.mx" not in page and "uno" not in rows[str(first)]
    assert (
        rows[str(first)].count("Borrado el 24 nov 2026, 11:00") == 4
    )  # sender, subject, text, note
    assert "b@example.mx" in rows[str(second)] and "reenviado" in rows[str(second)]
    assert "Borrado" not in rows[str(second)]
    english = await (await client.get(HANDLED + "?tz=America/Mexico_City&lang=en")).text()
    assert "Deleted on" in english and "deleted 90 days after it was handled" in english
    await client.get(PATH + "?lang=es")


async def test_given_the_handled_list_shown_then_a_pii_view_names_the_mails_and_the_note(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    """The handled list shows senders, words and notes: audited as its own page; a NUL
    in a note is dropped (a column refuses it), the note kept; no note reads as none."""
    keep(engine, "maria@example.mx", "BAJA", "No me contacten más")
    keep(engine, "jose@example.mx", "Disputa", "No reconozco", minutes=1)
    token = await login(client, "sofia")
    await client.get(HANDLED)
    assert entries(engine, "pii_view") == []  # nothing handled, nothing shown
    older, newer = sorted(reply_ids(await (await client.get(PATH)).text()))
    await client.post(f"{PATH}/{older}/done", data={"_csrf": token, "note": "nota\x00 con NUL"})
    await client.post(f"{PATH}/{newer}/done", data={"_csrf": token})
    page = await (await client.get(HANDLED)).text()
    assert reply_ids(page) == [newer, older] and "nota con NUL" in page and "Sin nota" in page
    assert 'id="unproven-handled-link"' not in page and 'id="unproven-open-link"' in page
    view = entries(engine, "pii_view")[-1]
    assert json.loads(view.payload) == {"page": "unproven_mail_handled", "entries": [newer, older],
                                        "fields": ["address", "subject", "text", "note"]}  # fmt: skip
    with transaction(engine) as s:
        assert s.scalar(select(UnprovenReplyHandled.note).where(
            UnprovenReplyHandled.entry_id == newer)) == ""  # fmt: skip
    for bad in ("0", "abc", "9" * 30):
        resp = await client.get(HANDLED, params={"before": bad})
        assert resp.status == 400 and "Página inválida." in await resp.text(), bad
