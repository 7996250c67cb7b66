"""`cobrador import payments`: reduce balances, mark accounts paid at zero, and
keep promises' kept/broken state right."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from store.importing.csv_source import CsvRow, RowError
from store.importing.fields import FieldError, parse_instant, parse_money
from store.importing.report import ImportResult
from store.importing.runner import audit_file_import, audit_or_default, run_import
from store.models import Account, AccountStatus, Payment, Promise
from store.plan_tracking import DebtorDay, break_overdue_everywhere, follow_plans

REQUIRED = {"external_ref", "amount", "paid_at"}
ALLOWED = REQUIRED | {"reference"}
AuditFn = Callable[..., Any]


def apply_payment(account: Account, promises: list[Promise], amount: Decimal,
                  paid_at: datetime, paid_day: date) -> list[Promise]:  # fmt: skip
    """Pure bookkeeping of one payment on an account and its open promises.

    The payment pays promises due on or after the payment date, oldest first;
    a promise fully paid by its date is kept. Returns the promises it kept. The
    payment's date, `paid_day`, is the debtor's (compliance/debtor_time.py account_day),
    not the offset the file or the gateway wrote it in.
    """
    account.balance = max(account.balance - amount, Decimal("0"))
    if account.balance == 0 and account.status in (
        AccountStatus.active.value,
        AccountStatus.disputed.value,
    ):
        account.status = AccountStatus.paid.value
    kept = []
    left = amount
    for promise in sorted(promises, key=lambda p: p.due_date):
        if left <= 0:
            break
        if promise.status != "open" or promise.due_date < paid_day:
            continue
        take = min(left, promise.amount - promise.paid_amount)
        promise.paid_amount += take
        left -= take
        if promise.paid_amount >= promise.amount:
            promise.status = "kept"
            promise.resolved_at = paid_at
            kept.append(promise)
    return kept


def record_payment(session: Session, account: Account, amount: Decimal, paid_at: datetime,
                   now: datetime, audit: AuditFn, actor: str, *, source: str = "import",
                   provider: str | None = None, provider_payment_id: str | None = None,
                   payment_link_id: int | None = None,
                   debtor_day: DebtorDay) -> Payment:  # fmt: skip
    """One payment on the account, in the caller's transaction: balance and status
    (apply_payment), its open promises kept or broken and their plans followed, the
    payment row, audited. The same path for imports and for a provider's payments."""
    promises = list(session.execute(
        select(Promise).where(Promise.account_id == account.id, Promise.status == "open")
    ).scalars())  # fmt: skip
    before = (account.balance, account.status)
    paid_before = {p.id: p.paid_amount for p in promises}
    kept = apply_payment(account, promises, amount, paid_at, debtor_day(paid_at, account))
    broken = break_overdue(promises, debtor_day(now, account), now)
    # What it changed, so that a refund or charge-back undoes exactly this
    # (store/payment_reversal.py).
    shares = {str(p.id): str(p.paid_amount - paid_before[p.id]) for p in promises
              if p.paid_amount != paid_before[p.id]}  # fmt: skip
    applied = {"balance": str(before[0] - account.balance), "status": before[1],
               "promises": shares}  # fmt: skip
    payment = Payment(account_id=account.id, amount=amount, paid_at=paid_at, source=source,
                      provider=provider, provider_payment_id=provider_payment_id,
                      payment_link_id=payment_link_id, applied=applied)  # fmt: skip
    session.add(payment)
    session.flush()
    follow_plans(session, kept, broken, now, audit, actor, debtor_day=debtor_day)
    entry: dict[str, Any] = {
        "external_ref": account.external_ref, "amount": amount,
        "paid_at": paid_at, "balance": [before[0], account.balance],
        "status": [before[1], account.status],
        "promises_kept": [p.id for p in kept], "promises_broken": [p.id for p in broken],
    }  # fmt: skip
    if provider is not None:
        entry.update(source=source, provider=provider, provider_payment_id=provider_payment_id,
                     payment_link_id=payment_link_id)  # fmt: skip
    audit(session, "payment", entry, actor=actor, subject=f"account:{account.id}")
    return payment


def break_overdue(promises: list[Promise], today: date, now: datetime) -> list[Promise]:
    """Open promises whose date has passed without full payment are broken."""
    broken = []
    for promise in promises:
        if promise.status == "open" and promise.due_date < today:
            promise.status = "broken"
            promise.resolved_at = now
            broken.append(promise)
    return broken


class PaymentImporter:
    kind = "payments"
    required = REQUIRED
    allowed: set[str] | None = ALLOWED

    def __init__(self, actor: str, audit: AuditFn, clock: Callable[[], datetime],
                 debtor_day: DebtorDay) -> None:  # fmt: skip
        self.debtor_day = debtor_day
        self.actor = actor
        self.audit = audit
        self.now = clock()
        self.created = self.updated = self.unchanged = 0
        self.paid_accounts: set[int] = set()
        self.broken_overdue = 0
        self.seen: dict[tuple[str, Decimal, datetime], int] = {}
        self._accounts: dict[str, Account] = {}

    def validate(self, row: CsvRow) -> dict[str, Any] | list[RowError]:
        v, errors = row.values, list(row.errors)
        ref = v.get("external_ref", "").strip()
        if not ref:
            errors.append(RowError(row.line, "external_ref", "external_ref is required"))
        amount = paid_at = None
        try:
            amount = parse_money(v.get("amount", ""), "amount", allow_zero=False)
        except FieldError as exc:
            errors.append(RowError(row.line, "amount", str(exc)))
        try:
            paid_at = parse_instant(v.get("paid_at", ""), "paid_at")
            if paid_at > self.now:
                errors.append(RowError(row.line, "paid_at", "paid_at is in the future"))
        except FieldError as exc:
            errors.append(RowError(row.line, "paid_at", str(exc)))
        if errors or amount is None or paid_at is None:
            return errors
        key = (ref, amount, paid_at)
        first = self.seen.setdefault(key, row.line)
        if first != row.line:
            return [RowError(row.line, "", f"the same payment appears on line {first}")]
        return {"ref": ref, "amount": amount, "paid_at": paid_at}

    def resolve(self, session: Session, batch: list[tuple[CsvRow, Any]]) -> list[list[RowError]]:
        refs = {rec["ref"] for _, rec in batch}
        self._accounts = {a.external_ref: a for a in session.execute(
            select(Account).where(Account.external_ref.in_(refs))).scalars()}  # fmt: skip
        out: list[list[RowError]] = []
        for row, rec in batch:
            if rec["ref"] not in self._accounts:
                out.append([RowError(row.line, "external_ref",
                                     f"unknown account {rec['ref']!r}; import the accounts first")])  # fmt: skip
            else:
                out.append([])
        return out

    def write(self, session: Session, records: list[dict[str, Any]]) -> None:
        for rec in records:
            account = self._accounts[rec["ref"]]
            duplicate = session.execute(
                select(Payment.id).where(Payment.account_id == account.id,
                                         Payment.amount == rec["amount"],
                                         Payment.paid_at == rec["paid_at"])).first()  # fmt: skip
            if duplicate:
                self.unchanged += 1
                continue
            record_payment(session, account, rec["amount"], rec["paid_at"], self.now,
                           self.audit, self.actor, debtor_day=self.debtor_day)  # fmt: skip
            self.created += 1
            if account.status == AccountStatus.paid.value:
                self.paid_accounts.add(account.id)

    def finish(self, session: Session, path: Path, result: ImportResult) -> None:
        # Promises (and plan instalments) past their date without a payment in any
        # import: broken now, their plans too, and the accounts back in the queue.
        overdue = break_overdue_everywhere(session, self.now, self.debtor_day)
        follow_plans(session, [], overdue, self.now, self.audit, self.actor,
                     debtor_day=self.debtor_day)  # fmt: skip
        self.broken_overdue = len(overdue)
        audit_file_import(self.audit, session, "payment", path, result, self.actor,
                          created=self.created, duplicates_skipped=self.unchanged,
                          promises_broken=self.broken_overdue)  # fmt: skip


def import_payments(
    engine: Engine,
    path: Path,
    *,
    debtor_day: DebtorDay,
    skip_invalid: bool = False,
    dry_run: bool = False,
    actor: str = "cli",
    progress_stream: IO[str] | None = None,
    audit: AuditFn | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    on_paid: Callable[[set[int]], None] | None = None,
) -> ImportResult:
    """`debtor_day`: the debtor's date of an instant (compliance/debtor_time.py
    account_day), by which promises are kept and broken."""
    audit = audit_or_default(audit)
    importer = PaymentImporter(actor, audit, clock, debtor_day)
    result = run_import(engine, path, importer, skip_invalid=skip_invalid, dry_run=dry_run,
                        progress_stream=progress_stream, batch_size=500)  # fmt: skip
    if result.written and on_paid is not None and importer.paid_accounts:
        on_paid(importer.paid_accounts)
    return result
