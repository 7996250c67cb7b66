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

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from outreach.legal_dossier import DossierError, move_to_legal
from store.db import transaction
from store.models import Account, AuditEntry, CallAttempt, Decision, OutreachStep, Phone, Promise

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
