"""A number the carrier says does not exist, twice, a day apart: marked invalid on the
account, so the phone rotation leaves it and the account's other numbers are dialed.

The rule (docs/compliance.md "Dead numbers"): a phone is marked invalid when its two
latest results that reached the network, `invalid_number` both, are at least 24 h
apart, and nothing on that phone between them shows the number exists (it rang, it
was answered, a message reached it, the debtor called from it). The mark is durable in
SQL (phones.status, status_at, status_reason, status_evidence): every refill and
every final check read the phone from there, never from Redis. Each change is a
`phone_status_change` audit entry naming the attempts. A supervisor reactivates the
number with a reason; an answered call on it after the mark reactivates it too.
It lives with the store: the dialer's call ends, a history import and the console's
reactivation all write through it (the import cannot reach a layer above the store).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cobrador.ground.masking import mask_phone
from store import audit
from store.models import CallAttempt, Phone, PhoneStatus

DEAD_RESULT = "invalid_number"
APART = timedelta(hours=24)
# Results that show the number exists: it rang, someone or something answered, a
# message reached it. Any attempt answered, and any inbound contact from it, too.
ALIVE_RESULTS = frozenset(
    {
        "no_answer",
        "busy",
        "declined",
        "machine",
        "abandoned",
        "early_hangup",
        "contact",
        "delivered",
        "read",
        "replied",
    }
)
# Results that say nothing about the number (never dialed, our network, a dialer that
# died, hung up by us): skipped, they neither prove nor break the rule.
CARRIER_REASON = "carrier_no_such_number"
REACTIVATED_REASON = "reactivated"
ANSWERED_REASON = "answered_after_invalid"
MAX_REASON = 300
HISTORY_LIMIT = 50  # the phone's latest results read per check: enough for any chain


@dataclass(frozen=True)
class Seen:
    """One ended attempt on the phone, as the rule reads it."""

    attempt_id: int
    result: str
    at: datetime  # when it started
    alive: bool  # it shows the number exists


def shows_alive(result: str | None, *, answered: bool, direction: str) -> bool:
    """Whether an attempt with this result shows the number exists."""
    return answered or direction == "inbound" or (result or "") in ALIVE_RESULTS


def dead_evidence(history: Sequence[Seen]) -> tuple[Seen, Seen] | None:
    """The two attempts that make the phone dead, oldest first, or None.

    `history` is the phone's ended attempts, newest first. The newest must be an
    `invalid_number`; going back, the first one that shows the number exists ends the
    search; an earlier `invalid_number` at least APART before the newest proves it.
    Two `invalid_number` results within a day (a carrier's bad hour) do not."""
    if not history or history[0].result != DEAD_RESULT:
        return None
    latest = history[0]
    for seen in history[1:]:
        if seen.alive:
            return None
        if seen.result == DEAD_RESULT and latest.at - seen.at >= APART:
            return seen, latest
    return None


class ReactivationError(ValueError):
    """A reactivation the user can fix: a reason missing or too long."""


@dataclass(frozen=True)
class PhoneChange:
    phone_id: int
    account_id: int
    campaign_id: int | None
    changed: bool
    status: str


def _history(session: Session, phone: Phone) -> list[Seen]:
    """The phone's ended attempts, newest first: by its id, or by its number on its
    account (an attempt imported or written before the phone row had its id)."""
    rows = session.execute(
        select(CallAttempt.id, CallAttempt.result, CallAttempt.started_at,
               CallAttempt.answered_at, CallAttempt.direction)
        .where(CallAttempt.result.is_not(None),
               or_(CallAttempt.phone_id == phone.id,
                   (CallAttempt.account_id == phone.account_id)
                   & (CallAttempt.phone_e164 == phone.number_e164)))
        .order_by(CallAttempt.started_at.desc(), CallAttempt.id.desc())
        .limit(HISTORY_LIMIT)
    ).all()  # fmt: skip
    return [
        Seen(int(i), str(result), started,
             shows_alive(result, answered=answered is not None, direction=str(direction)))
        for i, result, started, answered, direction in rows
    ]  # fmt: skip


def _locked_phone(session: Session, phone_id: int) -> Phone | None:
    """The phone row, locked for this transaction (PostgreSQL; SQLite has one writer):
    two attempts on it that end at once are judged one after the other, the second
    seeing the first's result (read from the row, not from a copy the session holds)."""
    return session.scalar(
        select(Phone).where(Phone.id == phone_id).with_for_update()
        .execution_options(populate_existing=True)
    )  # fmt: skip


def phone_of_attempt(session: Session, attempt_id: int) -> int | None:
    """The phone an attempt reached: its phone_id, else its account's row of its number."""
    row = session.execute(
        select(CallAttempt.phone_id, CallAttempt.account_id, CallAttempt.phone_e164)
        .where(CallAttempt.id == attempt_id)
    ).one_or_none()  # fmt: skip
    if row is None:
        return None
    if row.phone_id is not None:
        return int(row.phone_id)
    if row.account_id is None or row.phone_e164 is None:
        return None
    found = session.scalar(
        select(Phone.id).where(Phone.account_id == row.account_id,
                               Phone.number_e164 == row.phone_e164)
    )  # fmt: skip
    return None if found is None else int(found)


def after_result(session: Session, phone_id: int, result: str | None, *, actor: str,
                 now: datetime, source: str) -> str | None:  # fmt: skip
    """Apply the rule to the phone after one of its attempts ended with `result` (in
    the caller's transaction): mark it invalid when the carrier said twice it does not
    exist, or bring back a number marked so when it was answered since. Returns the
    new status, or None when nothing changed. Only an active number is marked; only a
    number this rule marked is brought back (an import's `invalid` stays)."""
    phone = _locked_phone(session, phone_id)
    if phone is None:
        return None
    if result != DEAD_RESULT and phone.status != PhoneStatus.invalid.value:
        return None  # the common end of a call: nothing to read
    history = _history(session, phone)
    if phone.status == PhoneStatus.active.value:
        if phone.status_reason is not None and phone.status_at is not None:
            # Brought back (a supervisor, an answer): the evidence starts again from then.
            history = [s for s in history if s.at > phone.status_at]
        proof = dead_evidence(history)
        if proof is None:
            return None
        first, latest = proof
        evidence = {
            "attempt_ids": [first.attempt_id, latest.attempt_id],
            "first_at": first.at.isoformat(),
            "latest_at": latest.at.isoformat(),
        }
        _set(session, phone, PhoneStatus.invalid.value, CARRIER_REASON, evidence,
             actor=actor, now=now, source=source,
             why="the carrier said twice, at least 24 h apart, that the number does not "
                 "exist, and nothing on it answered between")  # fmt: skip
        return phone.status
    if phone.status == PhoneStatus.invalid.value and phone.status_reason == CARRIER_REASON:
        since = _proof_start(phone)
        answered = next(
            (s for s in history if s.alive and (since is None or _utc(s.at) > since)), None
        )
        if answered is None:
            return None
        _set(session, phone, PhoneStatus.active.value, ANSWERED_REASON,
             {"attempt_ids": [answered.attempt_id], "result": answered.result},
             actor=actor, now=now, source=source,
             why="the number answered after it was marked invalid")  # fmt: skip
        return phone.status
    return None


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # SQLite keeps no zone


def _proof_start(phone: Phone) -> datetime | None:
    """From when an answer undoes this rule's mark: the start of the first attempt of
    its proof. An answer after it breaks the proof whenever its end is written: a call
    answered while the proving one rang ends after the mark (two ends at once, judged
    in turn). A mark without it (never written so): from the mark itself."""
    first = (phone.status_evidence or {}).get("first_at")
    try:
        if isinstance(first, str):
            return _utc(datetime.fromisoformat(first))
    except ValueError:
        pass
    return None if phone.status_at is None else _utc(phone.status_at)


def reactivate(session: Session, phone_id: int, reason: str, *, actor: str, now: datetime,
               may_change: Callable[[int | None], bool] = lambda _campaign: True,
               source: str = "console") -> PhoneChange:  # fmt: skip
    """A supervisor brings back a number marked invalid (the debtor gave it again, the
    carrier's error is known), with a reason, audited. LookupError: no such phone, or
    one of a campaign the user may not change (told as not existing);
    ReactivationError: no reason, or one too long. A number that is not invalid keeps
    its status (a wrong number, a stop, a third party's are undone elsewhere)."""
    reason = " ".join((reason or "").split())
    phone = _locked_phone(session, phone_id)
    if phone is None or not may_change(phone.account.campaign_id):
        raise LookupError(f"no phone {phone_id}")
    if not reason:
        raise ReactivationError("a reason is required")
    if len(reason) > MAX_REASON:
        raise ReactivationError(f"the reason is longer than {MAX_REASON} characters")
    campaign_id = phone.account.campaign_id
    if phone.status != PhoneStatus.invalid.value:
        return PhoneChange(phone.id, phone.account_id, campaign_id, False, phone.status)
    _set(session, phone, PhoneStatus.active.value, REACTIVATED_REASON,
         {"reason": reason, "by": actor, "was_reason": phone.status_reason},
         actor=actor, now=now, source=source, why=reason)  # fmt: skip
    return PhoneChange(phone.id, phone.account_id, campaign_id, True, phone.status)


def _set(session: Session, phone: Phone, status: str, reason: str, evidence: dict[str, Any],
         *, actor: str, now: datetime, source: str, why: str) -> None:  # fmt: skip
    was = phone.status
    phone.status = status
    phone.status_at = now
    phone.status_reason = reason
    phone.status_evidence = evidence
    phone.updated_at = now
    audit.append(
        session,
        "phone_status_change",
        {
            "phone_id": phone.id,
            "number": mask_phone(phone.number_e164),
            "status": status,
            "was": was,
            "reason": reason,
            "why": why,
            "evidence": evidence,
            "source": source,
        },
        actor=actor,
        subject=f"account:{phone.account_id}",
    )
