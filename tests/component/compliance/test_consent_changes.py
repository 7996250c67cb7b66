"""Consent changes: evidence required to grant, every change in the audit chain."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from compliance_helpers import make_account
from sqlalchemy import Engine, select

from compliance.consent import ConsentError, record_consent
from compliance.transparency.verify import verify
from store.db import transaction
from store.models import AuditEntry, Phone


def test_given_withdraw_then_grant_when_recorded_then_phone_updated_and_audited(
    engine: Engine,
) -> None:
    make_account(engine)
    with transaction(engine) as session:
        phone = session.execute(select(Phone)).scalar_one()
        record_consent(session, phone, granted=False, evidence_ref=None, actor="agent:7")
        assert phone.consent is False and phone.consent_ref == "form-1"
        record_consent(
            session, phone, granted=True, evidence_ref="grabacion-991", actor="agent:7",
            at=datetime(2026, 1, 13, 18, tzinfo=UTC),
        )  # fmt: skip
        assert (phone.consent, phone.consent_ref) == (True, "grabacion-991")
    with transaction(engine) as session:
        entries = session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
        payloads = [json.loads(e.payload) for e in entries]
    assert [e.kind for e in entries] == ["consent_change", "consent_change"]
    assert payloads[0]["before"] == {"consent": True, "consent_ref": "form-1"}
    assert payloads[1]["after"] == {"consent": True, "consent_ref": "grabacion-991"}
    assert verify(engine).ok


@pytest.mark.parametrize(
    ("ref", "at", "message"),
    [
        (None, None, "evidence"),
        ("   ", None, "evidence"),
        ("x" * 101, None, "longer"),
        ("form-2", datetime(2026, 1, 13, 12), "time zone"),
    ],
)
def test_given_bad_consent_grant_when_recorded_then_refused_and_nothing_changes(
    engine: Engine, ref: str | None, at: datetime | None, message: str
) -> None:
    make_account(
        engine, phones=[{"number_e164": "+525512345678", "consent": False, "consent_ref": None}]
    )
    with transaction(engine) as session:
        phone = session.execute(select(Phone)).scalar_one()
        with pytest.raises(ConsentError, match=message):
            record_consent(session, phone, granted=True, evidence_ref=ref, actor="x", at=at)
        assert phone.consent is False
