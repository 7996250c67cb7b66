"""SQL side of the outreach scheduler: which accounts are due, their state for the pure
plan, and the one transaction that records a batch's decisions before anything leaves
(step rows unique per account and key, attempt rows, decisions and audit entries)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from compliance.debtor_time import date_zones
from compliance.engine import Decision
from compliance.service import DECISION_ADDRESS_MAX
from outreach.checks import RETRY_AFTER
from outreach.strategy import AccountState, PromiseFacts
from store import audit
from store.db import transaction
from store.importing.bulk import any_of
from store.models import (
    PHONE_CHANNELS,
    Account,
    CallAttempt,
    OutreachCursor,
    OutreachStep,
    OutreachStepStatus,
    Promise,
)
from store.models import Decision as DecisionRow

ACTOR = "outreach"
PROMISE_CURSOR = "promises"
# Promises are written with the writer's clock and committed a moment later: the cursor
# reads this far behind itself, and re-planning an account twice is harmless.
CURSOR_LAG = timedelta(minutes=2)
S = OutreachStepStatus


@dataclass
class Loaded:
    account: Account  # detached, phones loaded
    state: AccountState
    waiting: dict[str, datetime | None]  # key -> not_before of its waiting row
    promise_amounts: dict[int, Decimal] = field(default_factory=dict)


def due_accounts(sql: Engine, campaign_id: int, now: datetime, limit: int) -> list[int]:
    """Accounts of the campaign never planned, then those due longest (ix_accounts_next_step)."""
    with Session(sql) as s:
        base = select(Account.id).where(Account.campaign_id == campaign_id,
                                        Account.status == "active", Account.stage != "legal")  # fmt: skip
        ids = list(
            s.scalars(base.where(Account.next_step_at.is_(None)).order_by(Account.id).limit(limit))
        )
        if len(ids) < limit:
            ids += s.scalars(
                base.where(Account.next_step_at <= now)
                .order_by(Account.next_step_at, Account.id).limit(limit - len(ids))
            ).all()  # fmt: skip
        return ids


def load(sql: Engine, ids: Sequence[int]) -> list[Loaded]:
    if not ids:
        return []
    with Session(sql, expire_on_commit=False) as s:
        accounts = list(s.scalars(
            select(Account).options(selectinload(Account.phones)).where(any_of(Account.id, list(ids), s))
        ))  # fmt: skip
        promises: dict[int, list[PromiseFacts]] = {}
        amounts: dict[int, dict[int, Decimal]] = {}
        for p in s.scalars(select(Promise).where(any_of(Promise.account_id, list(ids), s))):
            promises.setdefault(p.account_id, []).append(
                PromiseFacts(p.id, p.created_at, p.due_date, p.status, p.resolved_at)
            )
            amounts.setdefault(p.account_id, {})[p.id] = p.amount
        done: dict[int, set[str]] = {}
        waiting: dict[int, dict[str, datetime | None]] = {}
        for account_id, key, status, not_before in s.execute(
            select(OutreachStep.account_id, OutreachStep.key, OutreachStep.status,
                   OutreachStep.not_before).where(any_of(OutreachStep.account_id, list(ids), s))
        ):  # fmt: skip
            if status == S.waiting.value:
                waiting.setdefault(account_id, {})[key] = not_before
            else:
                done.setdefault(account_id, set()).add(key)
        s.expunge_all()
    out = []
    for a in accounts:
        state = AccountState(
            account_id=a.id, status=a.status, stage=a.stage,
            stage_entered_at=a.stage_entered_at or a.created_at, due_date=a.due_date,
            promises=tuple(promises.get(a.id, ())), done=frozenset(done.get(a.id, ())),
            zones=date_zones(a.timezone, a.country, a.region, None),
        )  # fmt: skip
        out.append(Loaded(a, state, waiting.get(a.id, {}), amounts.get(a.id, {})))
    return out


def mark_promise_accounts(sql: Engine, now: datetime) -> int:
    """Accounts with a promise made or resolved since the cursor are due now (a
    confirmation, a broken promise's next step); returns how many."""
    with transaction(sql) as s:
        cursor = s.get(OutreachCursor, PROMISE_CURSOR)
        since = (cursor.at if cursor else now - timedelta(days=1)) - CURSOR_LAG
        ids = set(s.scalars(select(Promise.account_id).where(
            or_(Promise.created_at > since, Promise.resolved_at > since))))  # fmt: skip
        if ids:
            s.execute(
                update(Account).where(any_of(Account.id, sorted(ids), s),
                                      or_(Account.next_step_at.is_(None), Account.next_step_at > now))
                .values(next_step_at=now), execution_options={"synchronize_session": False},
            )  # fmt: skip
        if cursor is None:
            s.add(OutreachCursor(name=PROMISE_CURSOR, at=now))
        else:
            cursor.at = now
        return len(ids)


@dataclass
class StepRecord:
    """One step's row as the batch writes it; `attempt` for a message allowed to leave."""

    account_id: int
    campaign_id: int | None
    key: str
    stage: str
    channel: str
    template: str | None
    event: str | None
    promise_id: int | None
    status: OutreachStepStatus
    due_at: datetime
    reasons: Sequence[str] = ()
    not_before: datetime | None = None
    decision: Decision | None = None
    address: str | None = None
    attempt: Mapping[str, Any] | None = None  # details of the attempt row to write
    html: str | None = None  # an e-mail's HTML part (not stored: made again from the text)
    marks: Sequence[str] = ()
    decision_id: int | None = None  # set once written
    attempt_id: int | None = None


@dataclass
class BatchWrite:
    steps: list[StepRecord] = field(default_factory=list)
    stage_changes: list[tuple[int, str, str, str]] = field(
        default_factory=list
    )  # id, from, to, why
    next_step_at: dict[int, datetime] = field(default_factory=dict)
    dial_now: list[int] = field(default_factory=list)  # call steps: due in the hopper


def write_batch(sql: Engine, batch: BatchWrite, waiting: Mapping[int, Iterable[str]],
                now: datetime) -> None:  # fmt: skip
    """Everything the batch decided, in one transaction, before any message leaves:
    a crash after this commit never sends a step twice (its row says `sending`)."""
    with transaction(sql) as s:
        entries: list[audit.NewEntry] = []
        for account_id, old, new, why in batch.stage_changes:
            s.execute(update(Account).where(Account.id == account_id, Account.stage == old)
                      .values(stage=new, stage_entered_at=now))  # fmt: skip
            entries.append(audit.NewEntry("stage_change", {
                "account_id": account_id, "from": old, "to": new, "reason": why, "at": now,
            }, actor=ACTOR, subject=f"account:{account_id}"))  # fmt: skip
        decided = [r for r in batch.steps if r.decision is not None and r.decision_id is None]
        rows = [_decision_row(r, now) for r in decided]
        s.add_all(rows)
        s.flush()
        pending_attempts: list[tuple[StepRecord, CallAttempt]] = []
        for record, row in zip(decided, rows, strict=True):
            assert record.decision is not None
            entries.append(audit.NewEntry("decision", {
                "decision_id": row.id, "stage": "send", "account_id": record.account_id,
                "channel": record.channel, "address": record.address,
                "campaign_id": record.campaign_id, "step": record.key,
                "template": record.template, **record.decision.as_dict(),
            }, actor=ACTOR, subject=f"account:{record.account_id}"))  # fmt: skip
            record.decision_id = int(row.id)
            record.reasons = list(record.decision.reasons) or list(record.reasons)
            if record.attempt is not None:
                pending_attempts.append((record, _attempt(record, row.id, now)))
        queued = {id(r) for r, _ in pending_attempts}
        for record in batch.steps:
            if record.attempt is not None and id(record) not in queued:
                # Its decision was recorded by compliance's final check.
                pending_attempts.append((record, _attempt(record, record.decision_id, now)))
        s.add_all([a for _, a in pending_attempts])
        s.flush()  # one multi-row INSERT ... RETURNING for the batch's attempts
        for record, attempt in pending_attempts:
            record.attempt_id = int(attempt.id)
        waiting_keys = {(a, k) for a, keys in waiting.items() for k in keys}
        for record in batch.steps:
            values = dict(
                campaign_id=record.campaign_id, stage=record.stage, channel=record.channel,
                template=record.template, event=record.event, promise_id=record.promise_id,
                status=record.status.value, due_at=record.due_at, not_before=record.not_before,
                decided_at=now, reasons=list(record.reasons),
                decision_id=record.decision_id, attempt_id=record.attempt_id,
            )  # fmt: skip
            if (record.account_id, record.key) in waiting_keys:
                s.execute(update(OutreachStep).where(
                    OutreachStep.account_id == record.account_id, OutreachStep.key == record.key,
                    OutreachStep.status == S.waiting.value).values(**values))  # fmt: skip
            else:
                step = OutreachStep(account_id=record.account_id, key=record.key, **values)
                s.add(step)
            for mark in record.marks:
                s.add(OutreachStep(account_id=record.account_id, key=mark, **{
                    # The broken promise's "next step" is settled by this step: a marker
                    # row, no message of its own.
                    **values, "status": S.passed_over.value, "attempt_id": None,
                    "template": None, "event": "promise_broken", "decision_id": None,
                    "reasons": ["ran_as_next_step"]}))  # fmt: skip
            if record.decision is None:
                entries.append(audit.NewEntry("outreach_step", {
                    "account_id": record.account_id, "step": record.key, "stage": record.stage,
                    "channel": record.channel, "template": record.template,
                    "status": record.status.value, "reasons": list(record.reasons),
                }, actor=ACTOR, subject=f"account:{record.account_id}"))  # fmt: skip
        s.flush()
        if batch.dial_now:
            # A call step: the account is due in its campaign's hopper now (the dialer
            # checks it there and again at originate). An account already in a hopper
            # is left there.
            s.execute(update(Account).where(
                any_of(Account.id, batch.dial_now, s), Account.hopper_since.is_(None),
                or_(Account.next_attempt_at.is_(None), Account.next_attempt_at > now))
                .values(next_attempt_at=now), execution_options={"synchronize_session": False})  # fmt: skip
        by_time: dict[datetime, list[int]] = {}
        for account_id, at in batch.next_step_at.items():
            by_time.setdefault(at, []).append(account_id)
        for at, ids in by_time.items():
            s.execute(update(Account).where(any_of(Account.id, ids, s)).values(next_step_at=at),
                      execution_options={"synchronize_session": False})  # fmt: skip
        audit.append_many(s, entries, now=now)


def _attempt(record: StepRecord, decision_id: int | None, now: datetime) -> CallAttempt:
    """The message's attempt row, written with its decision before it is sent."""
    attempt = CallAttempt(
        account_id=record.account_id, campaign_id=record.campaign_id,
        phone_e164=record.address if record.channel in PHONE_CHANNELS else None,
        address=record.address if record.channel not in PHONE_CHANNELS else None,
        decision_id=decision_id, direction="outbound", source="outreach", started_at=now,
        debtor_local_time=record.decision.local_time if record.decision else None,
        channel=record.channel, details=dict(record.attempt or {}),
    )  # fmt: skip
    return attempt


def _decision_row(record: StepRecord, now: datetime) -> DecisionRow:
    decision = record.decision
    assert decision is not None
    return DecisionRow(
        account_id=record.account_id,
        phone_e164=(record.address or "")[:20] if record.channel in PHONE_CHANNELS else None,
        channel=record.channel,
        address=(record.address or "")[:DECISION_ADDRESS_MAX] or None
        if record.channel not in PHONE_CHANNELS else None,
        campaign_id=record.campaign_id, stage="send", allowed=decision.allowed,
        reasons=list(decision.reasons), profile_version=decision.profile_version,
        registry_versions=dict(decision.registry_versions), local_time=decision.local_time,
        timezone=(decision.timezone or "")[:200] or None,
        evaluated_at=decision.evaluated_at or now,
    )  # fmt: skip


@dataclass(frozen=True)
class SendResult:
    step_id_key: tuple[int, str]  # account, key
    attempt_id: int
    status: OutreachStepStatus  # sent | failed | uncertain
    channel: str = ""
    provider_id: str | None = None
    error: str | None = None


def finish_sends(sql: Engine, results: Sequence[SendResult], now: datetime) -> None:
    """What each send answered: sent, refused (the attempt ends failed) or unknown
    (never sent again; the channel's reconciliation or its receipts say what happened)."""
    if not results:
        return
    with transaction(sql) as s:
        by_status: dict[OutreachStepStatus, list[int]] = {}
        for r in results:
            by_status.setdefault(r.status, []).append(r.attempt_id)
        for status, ids in by_status.items():
            # One statement per status, through the steps' attempt_id index.
            s.execute(update(OutreachStep).where(any_of(OutreachStep.attempt_id, ids, s),
                                                 OutreachStep.status == S.sending.value)
                      .values(status=status.value), execution_options={"synchronize_session": False})  # fmt: skip
        for r in results:
            if r.status is S.waiting:
                # Refused by the count at sending (a cap another sender reached first):
                # nothing left; the attempt ends `blocked` (never an attempt for the caps),
                # the refusal is a decision with its audit entry, the step waits.
                account_id, key = r.step_id_key
                reasons = [x for x in (r.error or "").split(",") if x]
                retry = now + max((RETRY_AFTER.get(x, timedelta(hours=1)) for x in reasons),
                                  default=timedelta(hours=1))  # fmt: skip
                # Where it was refused to go: the address its attempt row was written for.
                attempt = s.get(CallAttempt, r.attempt_id)
                phone = attempt.phone_e164 if attempt is not None else None
                address = (
                    (attempt.address or "")[:DECISION_ADDRESS_MAX] or None if attempt else None
                )
                row = DecisionRow(account_id=account_id, campaign_id=None, stage="send",
                                  allowed=False, reasons=reasons, channel=r.channel,
                                  phone_e164=phone, address=address, evaluated_at=now)  # fmt: skip
                s.add(row)
                s.flush()
                s.execute(update(OutreachStep).where(OutreachStep.attempt_id == r.attempt_id)
                          .values(not_before=retry, reasons=reasons, decision_id=row.id,
                                  attempt_id=None))  # fmt: skip
                s.execute(update(CallAttempt).where(CallAttempt.id == r.attempt_id,
                                                    CallAttempt.result.is_(None))
                          .values(result="blocked", ended_at=now))  # fmt: skip
                s.execute(update(Account).where(
                    Account.id == account_id,
                    or_(Account.next_step_at.is_(None), Account.next_step_at > retry))
                    .values(next_step_at=retry))  # fmt: skip
                audit.append(s, "decision", {
                    "decision_id": row.id, "stage": "send", "account_id": account_id,
                    "channel": r.channel, "phone": phone, "address": address, "step": key,
                    "attempt_id": r.attempt_id,
                    "allowed": False, "reasons": reasons, "evaluated_at": now,
                }, actor=ACTOR, subject=f"account:{account_id}")  # fmt: skip
        if by_status.get(S.failed):
            # Refused: nothing left. A channel that records its own statuses may have
            # ended the attempt already; this only ends one it left open.
            s.execute(update(CallAttempt).where(any_of(CallAttempt.id, by_status[S.failed], s),
                                                CallAttempt.result.is_(None))
                      .values(result="failed", ended_at=now), execution_options={"synchronize_session": False})  # fmt: skip
        entries = []
        for r in results:
            account_id, key = r.step_id_key
            entries.append(audit.NewEntry("attempt", {
                "attempt_id": r.attempt_id, "account_id": account_id, "step": key,
                "channel": r.channel, "send": r.status.value,
                "provider_id": r.provider_id, "error": r.error,
            }, actor=ACTOR, subject=f"account:{account_id}"))  # fmt: skip
        audit.append_many(s, entries, now=now)


def close_unanswered_sends(sql: Engine, before: datetime, now: datetime) -> int:
    """Steps left `sending` by a scheduler that died between its commit and the send's
    answer: they may have left, so they are never sent again; marked `uncertain`
    (their attempts `lost`, still attempts for the caps) and audited."""
    with transaction(sql) as s:
        rows = list(s.scalars(select(OutreachStep).where(
            OutreachStep.status == S.sending.value, OutreachStep.decided_at < before)))  # fmt: skip
        entries = []
        for step in rows:
            step.status = S.uncertain.value
            if step.attempt_id is not None:
                s.execute(update(CallAttempt).where(CallAttempt.id == step.attempt_id,
                                                    CallAttempt.result.is_(None))
                          .values(result="lost", ended_at=now))  # fmt: skip
            entries.append(audit.NewEntry("attempt", {
                "attempt_id": step.attempt_id, "account_id": step.account_id, "step": step.key,
                "channel": step.channel, "send": S.uncertain.value,
                "reason": "the scheduler stopped before the send answered; never sent again",
            }, actor=ACTOR, subject=f"account:{step.account_id}"))  # fmt: skip
        audit.append_many(s, entries, now=now)
        return len(rows)


def recent_results(sql: Engine, since: datetime) -> list[tuple[int | None, str, str, int]]:
    """(campaign, channel, result, count) of strategy messages sent since `since`, as
    their attempt rows say now (a message without a report yet counts as `sent`)."""
    with Session(sql) as s:
        rows = s.execute(
            select(CallAttempt.campaign_id, CallAttempt.channel, CallAttempt.result, func.count())
            .where(CallAttempt.started_at >= since, CallAttempt.source == "outreach")
            .group_by(CallAttempt.campaign_id, CallAttempt.channel, CallAttempt.result)
        ).all()  # fmt: skip
    return [(c, ch, r or "sent", int(n)) for c, ch, r, n in rows]
