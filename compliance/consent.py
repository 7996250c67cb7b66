"""Consent per number: granted only with an evidence reference, every change audited."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from store import audit
from store.models import Phone


class ConsentError(ValueError):
    """A consent change that cannot be recorded as given."""


def record_consent(
    session: Session,
    phone: Phone,
    *,
    granted: bool,
    evidence_ref: str | None,
    actor: str,
    at: datetime | None = None,
) -> audit.LoggedEntry:
    """Grant or withdraw consent for one number in the caller's transaction.

    Granting needs the evidence (a signed form, a recording id...): consent
    without evidence protects nobody. Withdrawing keeps the old reference in
    the audit entry.
    """
    evidence = (evidence_ref or "").strip()
    if granted and not evidence:
        raise ConsentError("consent needs an evidence reference (form, recording, document id)")
    if len(evidence) > 100:
        raise ConsentError("evidence reference is longer than 100 characters")
    if at is not None and at.tzinfo is None:
        raise ConsentError("consent time needs a time zone")
    when = (at or datetime.now(UTC)).astimezone(UTC)
    before = {"consent": phone.consent, "consent_ref": phone.consent_ref}
    phone.consent = granted
    if granted:
        phone.consent_ref = evidence
    phone.consent_at = when
    session.flush()
    return audit.append(
        session,
        "consent_change",
        {
            "phone_id": phone.id,
            "account_id": phone.account_id,
            "phone": phone.number_e164,
            "before": before,
            "after": {"consent": granted, "consent_ref": phone.consent_ref},
            "at": when,
        },
        actor=actor,
        subject=f"account:{phone.account_id}",
    )
