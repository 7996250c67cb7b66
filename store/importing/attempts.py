"""`cobrador import attempts`: contact history from a previous system, so the
attempt and contact caps are right from the first day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, insert, select, tuple_
from sqlalchemy.orm import Session

from store.importing.csv_source import CsvRow, RowError
from store.importing.fields import FieldError, parse_instant
from store.importing.report import ImportResult
from store.importing.runner import audit_file_import, audit_or_default, run_import
from store.models import Account, AttemptResult, CallAttempt, Phone

IMPORTABLE_RESULTS = ("no_answer", "busy", "failed", "machine", "abandoned", "contact")
COLUMNS = {"external_ref", "phone", "started_at", "result"}

AuditFn = Callable[..., Any]


class AttemptImporter:
    kind = "attempts"
    required = COLUMNS
    allowed: set[str] | None = COLUMNS

    def __init__(self, actor: str, audit: AuditFn, clock: Callable[[], datetime]) -> None:
        self.actor = actor
        self.audit = audit
        self.now = clock()
        self.created = self.updated = self.unchanged = 0
        self.seen: set[tuple[str, str, datetime]] = set()

    def validate(self, row: CsvRow) -> dict[str, Any] | list[RowError]:
        v, errors = row.values, list(row.errors)
        ref = v.get("external_ref", "").strip()
        if not ref:
            errors.append(RowError(row.line, "external_ref", "external_ref is required"))
        phone = v.get("phone", "").strip()
        if not phone:
            errors.append(RowError(row.line, "phone", "phone is required"))
        started: datetime | None = None
        try:
            started = parse_instant(v.get("started_at", ""), "started_at")
            if started > self.now:
                errors.append(RowError(row.line, "started_at", "started_at is in the future"))
        except FieldError as exc:
            errors.append(RowError(row.line, "started_at", str(exc)))
        result = v.get("result", "").strip().lower()
        if result not in IMPORTABLE_RESULTS:
            errors.append(RowError(row.line, "result", f"unknown result {v.get('result', '')!r}; "
                                   f"expected one of {', '.join(IMPORTABLE_RESULTS)}"))  # fmt: skip
        if errors:
            return errors
        return {
            "ref": ref,
            "phone": phone,
            "started_at": started,
            "result": result,
            "line": row.line,
        }

    def resolve(self, session: Session, batch: list[tuple[CsvRow, Any]]) -> list[list[RowError]]:
        import phonenumbers

        refs = {rec["ref"] for _, rec in batch}
        accounts = {a.external_ref: a for a in session.execute(
            select(Account.id, Account.external_ref, Account.country)
            .where(Account.external_ref.in_(refs)))}  # fmt: skip
        ids = [a.id for a in accounts.values()]
        phones: dict[tuple[int, str], int] = {
            (p.account_id, p.number_e164): p.id
            for p in session.execute(select(Phone.id, Phone.account_id, Phone.number_e164)
                                     .where(Phone.account_id.in_(ids)))}  # fmt: skip
        keys = []
        out: list[list[RowError]] = []
        for row, rec in batch:
            account = accounts.get(rec["ref"])
            if account is None:
                out.append([RowError(row.line, "external_ref",
                                     f"unknown account {rec['ref']!r}; import the accounts first")])  # fmt: skip
                continue
            try:
                e164 = phonenumbers.format_number(phonenumbers.parse(rec["phone"], account.country),
                                                  phonenumbers.PhoneNumberFormat.E164)  # fmt: skip
            except phonenumbers.NumberParseException:
                out.append(
                    [RowError(row.line, "phone", f"phone {rec['phone']!r} is not a phone number")]
                )
                continue
            phone_id = phones.get((account.id, e164))
            if phone_id is None:
                out.append([RowError(row.line, "phone",
                                     f"phone {rec['phone']!r} is not one of account {rec['ref']!r}'s numbers")])  # fmt: skip
                continue
            key = (rec["ref"], e164, rec["started_at"])
            if key in self.seen:
                out.append([RowError(row.line, "", "the same attempt appears twice in the file")])
                continue
            self.seen.add(key)
            rec.update(account_id=account.id, phone_id=phone_id, e164=e164)
            keys.append((account.id, rec["started_at"]))
            out.append([])
        # Re-importing the same history must not double the attempts.
        self.already = set()
        if keys:
            self.already = {
                (a.account_id, a.started_at, a.phone_e164)
                for a in session.execute(
                    select(CallAttempt.account_id, CallAttempt.started_at, CallAttempt.phone_e164)
                    .where(CallAttempt.source == "import")
                    .where(tuple_(CallAttempt.account_id, CallAttempt.started_at).in_(keys)))}  # fmt: skip
        return out

    def write(self, session: Session, records: list[dict[str, Any]]) -> None:
        rows = []
        for r in records:
            if (r["account_id"], r["started_at"], r["e164"]) in self.already:
                self.unchanged += 1
                continue
            contact = r["result"] == AttemptResult.contact.value
            rows.append({
                "account_id": r["account_id"], "phone_id": r["phone_id"], "phone_e164": r["e164"],
                "source": "import", "direction": "outbound", "started_at": r["started_at"],
                "ended_at": r["started_at"], "result": r["result"],
                "answered_at": r["started_at"] if r["result"] in ("contact", "abandoned", "machine") else None,
                "right_party_contact": contact,
            })  # fmt: skip
        if rows:
            session.execute(insert(CallAttempt), rows)
            self.created += len(rows)

    def finish(self, session: Session, path: Path, result: ImportResult) -> None:
        audit_file_import(self.audit, session, "attempt", path, result, self.actor,
                          created=self.created, duplicates_skipped=self.unchanged)  # fmt: skip


def import_attempts(
    engine: Engine,
    path: Path,
    *,
    skip_invalid: bool = False,
    dry_run: bool = False,
    actor: str = "cli",
    progress_stream: IO[str] | None = None,
    audit: AuditFn | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ImportResult:
    audit = audit_or_default(audit)
    return run_import(engine, path, AttemptImporter(actor, audit, clock), skip_invalid=skip_invalid,
                      dry_run=dry_run, progress_stream=progress_stream)  # fmt: skip
