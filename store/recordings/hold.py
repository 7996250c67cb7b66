"""Legal hold: an auditor's hold keeps a recording past its retention date.

A disputed account holds its recordings too, without a flag on the row: the
purge checks the account's status at the moment it would delete.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from store.audit import append as audit_append
from store.db import transaction
from store.models import AccountStatus, CallAttempt, Recording
from store.recordings.evidence import account_subject

MAX_REASON = 500


class HoldError(ValueError):
    """The hold cannot be set or released as asked; the message says why, `code` what."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code  # reason_required | reason_too_long | purged | not_held


class NoRecording(LookupError):
    """No recording for that attempt."""


@dataclass(frozen=True)
class HoldState:
    recording_id: int
    attempt_id: int
    legal_hold: bool
    hold_reason: str | None
    hold_by: str | None


def clean_reason(reason: str | None, required: bool) -> str | None:
    text = " ".join((reason or "").split())
    if not text:
        if required:
            raise HoldError(
                "reason_required",
                "a legal hold needs a reason (e.g. the case or request it serves)",
            )
        return None
    if len(text) > MAX_REASON:
        raise HoldError(
            "reason_too_long",
            f"the reason is too long ({len(text)} characters, {MAX_REASON} at most)",
        )
    return text


def set_hold(
    engine: Engine, attempt_id: int, *, reason: str, actor: str, now: datetime
) -> HoldState:
    """Put the attempt's recording under legal hold (again: the new reason replaces the old)."""
    text = clean_reason(reason, required=True)
    return _change(engine, attempt_id, hold=True, reason=text, actor=actor, now=now)


def release_hold(
    engine: Engine, attempt_id: int, *, actor: str, now: datetime, reason: str | None = None
) -> HoldState:
    """Lift an auditor's hold; a disputed account keeps holding the recording anyway."""
    text = clean_reason(reason, required=False)
    return _change(engine, attempt_id, hold=False, reason=text, actor=actor, now=now)


def _change(
    engine: Engine, attempt_id: int, *, hold: bool, reason: str | None, actor: str, now: datetime
) -> HoldState:
    with transaction(engine) as session:
        found = session.execute(
            select(Recording, CallAttempt.account_id)
            .join(CallAttempt, CallAttempt.id == Recording.attempt_id)
            .where(Recording.attempt_id == attempt_id)
            .with_for_update(of=Recording)
        ).first()
        if found is None:
            raise NoRecording(f"no recording for attempt {attempt_id}")
        row, account_id = found
        if row.purged_at is not None:
            raise HoldError("purged", f"the recording of attempt {attempt_id} was purged on "
                            f"{row.purged_at:%Y-%m-%d}; there is no file to hold")  # fmt: skip
        if not hold and not row.legal_hold:
            raise HoldError(
                "not_held", f"the recording of attempt {attempt_id} is not under a legal hold"
            )
        previous = {"legal_hold": row.legal_hold, "hold_reason": row.hold_reason,
                    "hold_by": row.hold_by}  # fmt: skip
        row.legal_hold = hold
        row.hold_reason = reason if hold else None
        row.hold_by = actor if hold else None
        audit_append(
            session,
            "recording_hold",
            {"action": "hold" if hold else "release", "recording_id": row.id,
             "attempt_id": attempt_id, "reason": reason, "previous": previous},
            actor=actor, subject=account_subject(account_id), now=now,
        )  # fmt: skip
        return HoldState(row.id, attempt_id, row.legal_hold, row.hold_reason, row.hold_by)


def held_by_dispute(account_status: str | None) -> bool:
    return account_status == AccountStatus.disputed.value
