"""A person moves an account to legal: it is never contacted again, and one dossier
(JSON for systems, PDF for people) holds every contact with its decision, promises,
recordings' hashes; both files' SHA-256 are in the audit log."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from console.i18n import load_catalogs
from outreach.legal_dossier import (
    SECTIONS,
    UTC_ZONE,
    DossierError,
    build,
    move_to_legal,
    readable,
    render_pdf,
)
from store.db import transaction
from store.models import (
    Account,
    AuditEntry,
    CallAttempt,
    Decision,
    Disposition,
    OutreachStep,
    Payment,
    Phone,
    Promise,
)

NOW = datetime(2026, 12, 5, 16, 0, tzinfo=UTC)


def seed(engine: Engine) -> int:
    with transaction(engine) as s:
        account = Account(external_ref="L-1", debtor_name="Carlos Ruiz", country="MX",
                          region="CMX", balance=Decimal("12500.00"), currency="MXN",
                          due_date=date(2026, 6, 1), stage="prelegal")  # fmt: skip
        account.phones.append(Phone(position=1, number_e164="+525512345678", consent=True,
                                    consent_ref="f-1", channels="call,sms"))  # fmt: skip
        s.add(account)
        s.flush()
        allowed = Decision(account_id=account.id, phone_e164="+525512345678", stage="send",
                           allowed=True, reasons=[], profile_version="MX@1#abc",
                           evaluated_at=NOW - timedelta(days=3))  # fmt: skip
        refused = Decision(account_id=account.id, phone_e164="+525512345678", stage="send",
                           allowed=False, reasons=["outside_hours"], profile_version="MX@1#abc",
                           evaluated_at=NOW - timedelta(days=2))  # fmt: skip
        s.add_all([allowed, refused])
        s.flush()
        sms = CallAttempt(account_id=account.id, phone_e164="+525512345678", channel="sms",
                          source="outreach", decision_id=allowed.id, result="delivered",
                          started_at=NOW - timedelta(days=3),
                          details={"template": "aviso_prejudicial", "text": "Aviso"})  # fmt: skip
        s.add(sms)
        s.add(OutreachStep(account_id=account.id, key="c:x", stage="prelegal", channel="sms",
                           template="aviso_prejudicial", status="waiting", due_at=NOW,
                           decided_at=NOW - timedelta(days=2), reasons=["outside_hours"],
                           decision_id=refused.id))  # fmt: skip
        s.add(Promise(account_id=account.id, amount=Decimal("500"), currency="MXN",
                      due_date=date(2026, 11, 20), status="broken",
                      created_at=NOW - timedelta(days=20), resolved_at=NOW - timedelta(days=14)))  # fmt: skip
        return int(account.id)


def test_given_a_person_moves_an_account_to_legal_then_dossier_json_pdf_and_audit(
    engine: Engine, tmp_path: Path
) -> None:
    account_id = seed(engine)
    dossier, json_path, pdf_path = move_to_legal(engine, "L-1", by="supervisora Ana",
                                                 reason="tres promesas incumplidas", now=NOW,
                                                 out_dir=tmp_path)  # fmt: skip
    data = json.loads(json_path.read_bytes())
    assert data["account"]["stage"] == "legal" and data["handoff"]["from_stage"] == "prelegal"
    [contact] = data["contacts"]
    assert contact["channel"] == "sms" and contact["decision"]["allowed"] is True
    assert contact["decision"]["profile_version"] == "MX@1#abc"
    [unsent] = data["messages_not_sent"]
    assert unsent["reasons"] == ["outside_hours"] and unsent["decision"]["allowed"] is False
    assert [p["status"] for p in data["promises"]] == ["broken"]
    assert pdf_path.read_bytes().startswith(b"%PDF")
    with Session(engine) as s:
        account = s.get(Account, account_id)
        assert account is not None and account.stage == "legal" and account.stage_explicit
        entry = s.scalars(select(AuditEntry).where(AuditEntry.kind == "account_change")).one()
    payload = json.loads(entry.payload)
    assert payload["dossier_json_sha256"] == hashlib.sha256(json_path.read_bytes()).hexdigest()
    assert payload["dossier_pdf_sha256"] == hashlib.sha256(pdf_path.read_bytes()).hexdigest()
    assert entry.actor == "supervisora Ana" and dossier.data["handoff"]["reason"]


@pytest.mark.parametrize(
    ("ref", "by", "reason", "message"),
    [("NOPE", "Ana", "x", "no account"), ("L-1", " ", "x", "who moves"),
     ("L-1", "Ana", "", "say why")],
)  # fmt: skip
def test_given_a_bad_request_when_moving_to_legal_then_refused_and_nothing_changes(
    engine: Engine, tmp_path: Path, ref: str, by: str, reason: str, message: str
) -> None:
    seed(engine)
    with pytest.raises(DossierError, match=message):
        move_to_legal(engine, ref, by=by, reason=reason, now=NOW, out_dir=tmp_path / "out")
    with Session(engine) as s:
        assert s.scalars(select(Account.stage)).one() == "prelegal"
    assert not (tmp_path / "out").exists()


def test_given_a_legal_account_when_moved_again_then_refused(
    engine: Engine, tmp_path: Path
) -> None:
    seed(engine)
    move_to_legal(engine, "L-1", by="Ana", reason="x", now=NOW, out_dir=tmp_path)
    with pytest.raises(DossierError, match="already in legal"):
        move_to_legal(engine, "L-1", by="Ana", reason="x", now=NOW, out_dir=tmp_path)


def test_given_the_cli_when_an_account_goes_to_legal_then_files_are_named(
    engine: Engine, tmp_path: Path, capsys: Any, monkeypatch: Any, database_url: str
) -> None:
    from cobrador.cli import main

    seed(engine)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COBRADOR_DATA_DIR", str(tmp_path))
    assert main(["outreach", "legal", "L-1", "--by", "Ana", "--reason", "demanda"]) == 0
    out = capsys.readouterr().out
    assert "is in legal" in out and ".pdf" in out
    assert len(list((tmp_path / "dossiers").glob("L-1-*.json"))) == 1
    assert main(["outreach", "dossier", "L-1", "--out", str(tmp_path / "x")]) == 0
    assert main(["outreach", "dossier", "NOPE"]) == 2


def test_given_a_formal_notice_with_its_receipt_when_dossier_then_tracking_and_receipt(
    engine: Engine, tmp_path: Path
) -> None:
    account_id = seed(engine)
    with transaction(engine) as s:
        s.add(CallAttempt(account_id=account_id, channel="letter", source="outreach",
                          address="Av. Reforma 1, CDMX", result="delivered",
                          started_at=NOW - timedelta(days=10),
                          details={"template": "aviso_prejudicial", "pdf_sha256": "ab" * 32,
                                   "tracking_number": "MX123456789",
                                   "acknowledged_at": "2026-11-28T12:00:00+00:00",
                                   "received_by": "Carlos Ruiz"}))  # fmt: skip
    _, json_path, pdf_path = move_to_legal(engine, "L-1", by="Ana", reason="x", now=NOW,
                                           out_dir=tmp_path)  # fmt: skip
    [notice] = json.loads(json_path.read_bytes())["notices"]
    assert notice["tracking"] == "MX123456789" and notice["pdf_sha256"] == "ab" * 32
    assert notice["receipt"] == {"acknowledged_at": "2026-11-28T12:00:00+00:00",
                                 "received_by": "Carlos Ruiz"}  # fmt: skip


def seed_call(engine: Engine, account_id: int) -> None:
    """A call the agent dispositioned: the titular promised to pay."""
    with transaction(engine) as s:
        call = CallAttempt(account_id=account_id, phone_e164="+525512345678", channel="call",
                           source="dialer", result="contact",
                           started_at=datetime(2026, 12, 1, 20, 5, tzinfo=UTC))  # fmt: skip
        s.add(call)
        s.flush()
        s.add(Disposition(attempt_id=call.id, account_id=account_id, party="titular",
                          outcome="promesa_pago"))  # fmt: skip


RAW_CODES = ("outside_hours", "prelegal", "delivered", "waiting", "broken", "titular",
             "promesa_pago", "aviso_prejudicial", "active", "sms", "contact")  # fmt: skip


def _cells(words: Any) -> list[str]:
    """Every cell and line the PDF prints, one string each."""
    cells = [words.title, *words.lines, *words.account_header, *words.account_row]
    for heading, header, rows in words.sections:
        cells += [heading, *header, *(c for row in rows for c in row)]
    return cells


def test_given_a_legal_hand_off_when_the_dossier_is_read_in_spanish_then_words_and_debtor_times(
    engine: Engine, tmp_path: Path
) -> None:
    account_id = seed(engine)
    seed_call(engine, account_id)
    dossier, _, pdf_path = move_to_legal(engine, "L-1", by="supervisora Ana",
                                         reason="tres promesas incumplidas", now=NOW,
                                         out_dir=tmp_path)  # fmt: skip
    words = readable(dossier.data, ZoneInfo("America/Mexico_City"))
    text = words.text()
    # The account's state and stage, the hand-off's stage before, in words.
    assert "Activa" in words.account_row and "Legal" in words.account_row
    assert "(antes: Prejudicial)" in text
    contacts = dict((h, rows) for h, _, rows in words.sections)["Contactos en todos los canales"]
    call, sms = sorted(contacts, key=lambda r: r[1])
    assert call[1:4] == ("Llamada", "+525512345678", "Contacto")
    assert call[6] == "Titular: Promesa de pago"
    assert sms[1] == "SMS" and sms[3] == "Entregado" and sms[4] == "Aviso prejudicial"
    assert "permitida" in sms[5] and "MX@1#abc" in sms[5]
    # The refusal's reason and the step's state, in words.
    assert "En espera de horario permitido | Fuera del horario permitido" in text
    assert "Incumplida" in text
    # Every time in the debtor's zone named by its city, UTC kept beside it.
    assert call[0] == "1 dic 2026, 14:05 (Ciudad de México) · 20:05 UTC"
    assert "5 dic 2026, 10:00 (Ciudad de México) · 16:00 UTC" in text  # hand-off, generated
    # No code is printed as a word of its own, no ISO time either.
    cells = _cells(words)
    assert not [c for c in cells for code in RAW_CODES if code in c.split()], cells
    assert "T16:00" not in text and "+00:00" not in text
    # The file written is this text's layout, in the zone the account's data gives.
    assert pdf_path.read_bytes() == render_pdf(dossier.data, ZoneInfo("America/Mexico_City"))


def test_given_english_when_the_dossier_is_read_then_english_words_and_the_city_in_english(
    engine: Engine,
) -> None:
    account_id = seed(engine)
    seed_call(engine, account_id)
    dossier = build(engine, "L-1", NOW, tr=load_catalogs()["en"].gettext, lang="en")
    words = readable(dossier.data, ZoneInfo("America/Mexico_City"),
                     load_catalogs()["en"].gettext, "en")  # fmt: skip
    text = words.text()
    assert words.title == "Dossier for legal collection: account L-1"
    assert "Outside the allowed hours" in text and "Waiting for allowed hours" in text
    assert "Debtor: Promise to pay" in text and "Pre-legal notice" in text
    assert "Dec 1, 2026, 14:05 (Mexico City) · 20:05 UTC" in text
    assert not [c for c in _cells(words) for code in RAW_CODES if code in c.split()]
    english = render_pdf(dossier.data, ZoneInfo("America/Mexico_City"),
                         load_catalogs()["en"].gettext, "en")  # fmt: skip
    assert dossier.pdf_bytes == english


def test_given_a_late_evening_contact_when_the_utc_day_differs_then_utc_says_its_day(
    engine: Engine,
) -> None:
    account_id = seed(engine)
    with transaction(engine) as s:
        s.add(CallAttempt(account_id=account_id, phone_e164="+525512345678", channel="call",
                          source="dialer", result="no_answer",
                          started_at=datetime(2026, 12, 2, 3, 30, tzinfo=UTC)))  # fmt: skip
    dossier = build(engine, "L-1", NOW)
    text = readable(dossier.data, ZoneInfo("America/Mexico_City")).text()
    assert "1 dic 2026, 21:30 (Ciudad de México) · 2 dic 2026, 03:30 UTC" in text
    assert "No contesta" in text


@pytest.mark.parametrize(
    ("country", "region", "currency", "balance", "promise", "payment"),
    [("MX", "CMX", "MXN", "$12,500.00 MXN", "$500.00 MXN", "$1,250.50 MXN"),
     ("CO", "DC", "COP", "$12.500,00 COP", "$500,00 COP", "$1.250,50 COP"),
     ("PE", "LIM", "PEN", "S/\u00a012,500.00 PEN", "S/\u00a0500.00 PEN", "S/\u00a01,250.50 PEN")],
)  # fmt: skip
@pytest.mark.parametrize("lang", ["es", "en"])
def test_given_an_account_currency_when_the_dossier_is_read_then_amounts_in_its_notation(
    engine: Engine, country: str, region: str, currency: str, balance: str, promise: str,
    payment: str, lang: str,
) -> None:  # fmt: skip
    """Amounts read as the console shows them, in the account's locale and currency
    whatever the reader's language; the JSON keeps the plain amount."""
    account_id = seed(engine)
    with transaction(engine) as s:
        account = s.get(Account, account_id)
        assert account is not None
        account.country, account.region, account.currency = country, region, currency
        s.execute(Promise.__table__.update().values(currency=currency, paid_amount=Decimal("500")))
        s.add(Payment(account_id=account_id, amount=Decimal("1250.5"), paid_at=NOW,
                      source="import"))  # fmt: skip
    tr = load_catalogs()[lang].gettext
    dossier = build(engine, "L-1", NOW, tr=tr, lang=lang)
    words = readable(dossier.data, UTC_ZONE, tr, lang)
    assert balance in words.account_row
    sections = {key: rows for key, (_, _, rows) in zip(SECTIONS, words.sections, strict=True)}
    [promised] = sections["promises"]
    assert promised[1] == promise and promised[4] == promise  # amount, paid
    [paid] = sections["payments"]
    assert paid[1] == payment
    assert dossier.data["account"]["balance"] == "12500.00"
    assert dossier.data["payments"][0]["amount"] == "1250.50"
    assert dossier.data["account"]["currency"] == currency


def test_given_both_languages_then_the_json_annex_is_the_same_and_only_the_pdf_differs(
    engine: Engine,
) -> None:
    account_id = seed(engine)
    seed_call(engine, account_id)
    spanish = build(engine, "L-1", NOW)
    english = build(engine, "L-1", NOW, tr=load_catalogs()["en"].gettext, lang="en")
    assert spanish.json_bytes == english.json_bytes
    assert spanish.pdf_bytes != english.pdf_bytes


def test_given_a_language_the_dossier_has_not_when_built_then_a_clear_refusal(
    engine: Engine, tmp_path: Path
) -> None:
    seed(engine)
    with pytest.raises(DossierError, match="no dossier in 'fr': choose one of es, en"):
        build(engine, "L-1", NOW, lang="fr")
    with pytest.raises(DossierError, match="choose one of es, en"):
        move_to_legal(engine, "L-1", by="Ana", reason="x", now=NOW, out_dir=tmp_path, lang="fr")
    with Session(engine) as s:
        assert s.scalars(select(Account.stage)).one() == "prelegal"


def test_given_the_cli_with_lang_when_a_dossier_is_written_then_its_pdf_in_that_language(
    engine: Engine, tmp_path: Path, capsys: Any, monkeypatch: Any, database_url: str
) -> None:
    from cobrador.cli import main
    from outreach.commands import DOSSIER_LANGUAGES
    from outreach.legal_dossier import LANGUAGES

    assert DOSSIER_LANGUAGES == LANGUAGES
    seed(engine)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COBRADOR_DATA_DIR", str(tmp_path))
    zone = ZoneInfo("America/Mexico_City")
    english = load_catalogs()["en"].gettext
    for lang, tr in (("en", english), ("es", str)):
        out = tmp_path / lang
        assert main(["outreach", "dossier", "L-1", "--out", str(out), "--lang", lang]) == 0
        [json_path] = out.glob("*.json")
        data = json.loads(json_path.read_bytes())
        assert out.joinpath(json_path.stem + ".pdf").read_bytes() == render_pdf(
            data, zone, tr, lang
        )
    assert main(["outreach", "legal", "L-1", "--by", "Ana", "--reason", "x", "--lang", "en",
                 "--out", str(tmp_path / "legal")]) == 0  # fmt: skip
    [json_path] = (tmp_path / "legal").glob("*.json")
    data = json.loads(json_path.read_bytes())
    assert json_path.with_suffix(".pdf").read_bytes() == render_pdf(data, zone, english, "en")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(["outreach", "dossier", "L-1", "--lang", "fr"])
    assert exit_.value.code == 2
    assert "--lang: invalid choice: 'fr' (choose from 'es', 'en')" in capsys.readouterr().err


def test_given_a_field_visit_when_the_dossier_is_read_then_its_result_in_the_visits_words(
    engine: Engine,
) -> None:
    account_id = seed(engine)
    with transaction(engine) as s:
        visit = CallAttempt(account_id=account_id, channel="visit", source="field",
                            address="Av. Reforma 1, CDMX", result="contact",
                            started_at=NOW - timedelta(days=4))  # fmt: skip
        s.add(visit)
        s.flush()
        s.add(Disposition(attempt_id=visit.id, account_id=account_id, party="tercero",
                          outcome="domicilio_incorrecto"))  # fmt: skip
    dossier = build(engine, "L-1", NOW)
    text = readable(dossier.data, ZoneInfo("America/Mexico_City")).text()
    assert "Tercero: El deudor no vive aquí" in text
    english = readable(dossier.data, ZoneInfo("America/Mexico_City"),
                       load_catalogs()["en"].gettext, "en").text()  # fmt: skip
    assert "Third party: The debtor does not live here" in english
