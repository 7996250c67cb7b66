"""`cobrador import attempts`: contact history from a previous system, on every
channel (calls, SMS, WhatsApp, e-mail), so the attempt and contact caps across
channels are right from the first day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, insert, select, tuple_
from sqlalchemy.orm import Session

from store import number_validity
from store.email_address import is_email_address
from store.importing.csv_source import CsvRow, RowError
from store.importing.fields import FieldError, parse_instant, without_legacy_prefix
from store.importing.report import ImportResult
from store.importing.runner import audit_file_import, audit_or_default, run_import
from store.models import Account, AttemptResult, CallAttempt, Phone

# A call's result in another system's history. `invalid_number` (the carrier said the
# number does not exist) and `declined` (refused at the far end, SIP 603) too: the
# dead-number rule reads them as the dialer's own (store/number_validity.py).
IMPORTABLE_RESULTS = (
    "no_answer",
    "busy",
    "failed",
    "invalid_number",
    "declined",
    "machine",
    "abandoned",
    "contact",
)
# A message's fate as a gateway reports it: `replied` is a direct contact (two-way).
MESSAGE_RESULTS = ("sent", "delivered", "failed", "read", "replied")
RESULTS_BY_CHANNEL = {
    "call": IMPORTABLE_RESULTS,
    "sms": MESSAGE_RESULTS,
    "whatsapp": MESSAGE_RESULTS,
    "email": MESSAGE_RESULTS,
}
PHONE_CHANNELS = ("call", "sms", "whatsapp")
REQUIRED = {"external_ref", "started_at", "result"}
COLUMNS = REQUIRED | {"channel", "phone", "email"}

AuditFn = Callable[..., Any]


class AttemptImporter:
    kind = "attempts"
    required = REQUIRED
    allowed: set[str] | None = COLUMNS

    def __init__(self, actor: str, audit: AuditFn, clock: Callable[[], datetime]) -> None:
        self.actor = actor
        self.audit = audit
        self.now = clock()
        self.created = self.updated = self.unchanged = 0
        self.seen: set[tuple[str, str, str, datetime]] = set()
        # The phones whose history this file adds to, and the results it adds: the
        # dead-number rule reads each once the whole file is written (`finish`).
        self.touched: dict[int, set[str]] = {}

    def validate(self, row: CsvRow) -> dict[str, Any] | list[RowError]:
        v, errors = row.values, list(row.errors)
        ref = v.get("external_ref", "").strip()
        if not ref:
            errors.append(RowError(row.line, "external_ref", "external_ref is required"))
        channel = v.get("channel", "").strip().lower() or "call"
        if channel not in RESULTS_BY_CHANNEL:
            errors.append(RowError(row.line, "channel", f"unknown channel {v.get('channel', '')!r}; "
                                   f"expected one of {', '.join(RESULTS_BY_CHANNEL)}"))  # fmt: skip
        phone = v.get("phone", "").strip()
        email = v.get("email", "").strip()
        if channel in PHONE_CHANNELS:
            if not phone:
                errors.append(RowError(row.line, "phone", f"phone is required for a {channel}"))
            if email:
                errors.append(RowError(row.line, "email",
                                       f"a {channel} goes to a phone: leave email empty"))  # fmt: skip
        elif channel == "email":
            if phone:
                errors.append(RowError(row.line, "phone",
                                       "an e-mail goes to an address: leave phone empty"))  # fmt: skip
            if email and not is_email_address(email):
                errors.append(RowError(row.line, "email",
                                       f"email {email!r} is not an e-mail address"))  # fmt: skip
        started: datetime | None = None
        try:
            started = parse_instant(v.get("started_at", ""), "started_at")
            if started > self.now:
                errors.append(RowError(row.line, "started_at", "started_at is in the future"))
        except FieldError as exc:
            errors.append(RowError(row.line, "started_at", str(exc)))
        result = v.get("result", "").strip().lower()
        allowed = RESULTS_BY_CHANNEL.get(channel)
        if allowed is not None and result not in allowed:
            errors.append(RowError(row.line, "result", f"unknown result {v.get('result', '')!r} "
                                   f"for a {channel}; expected one of {', '.join(allowed)}"))  # fmt: skip
        if errors:
            return errors
        return {
            "ref": ref,
            "channel": channel,
            "phone": phone,
            "email": email,
            "started_at": started,
            "result": result,
            "line": row.line,
        }

    def resolve(self, session: Session, batch: list[tuple[CsvRow, Any]]) -> list[list[RowError]]:
        import phonenumbers

        refs = {rec["ref"] for _, rec in batch}
        accounts = {a.external_ref: a for a in session.execute(
            select(Account.id, Account.external_ref, Account.country, Account.email)
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
            e164 = address = None
            phone_id = None
            if rec["channel"] == "email":
                own = account.email or ""
                address = rec["email"] or own
                if not own:
                    out.append([RowError(row.line, "email", f"account {rec['ref']!r} has no "
                                         "e-mail address; import it with the accounts first")])  # fmt: skip
                    continue
                if address.lower() != own.lower():
                    out.append([RowError(row.line, "email",
                                         f"email {rec['email']!r} is not account {rec['ref']!r}'s address")])  # fmt: skip
                    continue
                address = own
            else:
                try:
                    e164 = phonenumbers.format_number(
                        phonenumbers.parse(without_legacy_prefix(rec["phone"], account.country),
                                           account.country),
                        phonenumbers.PhoneNumberFormat.E164)  # fmt: skip
                except phonenumbers.NumberParseException:
                    out.append(
                        [
                            RowError(
                                row.line, "phone", f"phone {rec['phone']!r} is not a phone number"
                            )
                        ]
                    )
                    continue
                phone_id = phones.get((account.id, e164))
                if phone_id is None:
                    out.append([RowError(row.line, "phone",
                                         f"phone {rec['phone']!r} is not one of account {rec['ref']!r}'s numbers")])  # fmt: skip
                    continue
            key = (rec["ref"], rec["channel"], e164 or address or "", rec["started_at"])
            if key in self.seen:
                out.append([RowError(row.line, "", "the same attempt appears twice in the file")])
                continue
            self.seen.add(key)
            rec.update(account_id=account.id, phone_id=phone_id, e164=e164, address=address)
            keys.append((account.id, rec["started_at"]))
            out.append([])
        # Re-importing the same history must not double the attempts.
        self.already = set()
        if keys:
            self.already = {
                (a.account_id, a.started_at, a.channel, a.phone_e164 or a.address)
                for a in session.execute(
                    select(CallAttempt.account_id, CallAttempt.started_at, CallAttempt.channel,
                           CallAttempt.phone_e164, CallAttempt.address)
                    .where(CallAttempt.source == "import")
                    .where(tuple_(CallAttempt.account_id, CallAttempt.started_at).in_(keys)))}  # fmt: skip
        return out

    def write(self, session: Session, records: list[dict[str, Any]]) -> None:
        rows = []
        for r in records:
            key = (r["account_id"], r["started_at"], r["channel"], r["e164"] or r["address"])
            if key in self.already:
                self.unchanged += 1
                continue
            if r["channel"] == "call":
                contact = r["result"] == AttemptResult.contact.value
                answered = r["result"] in ("contact", "abandoned", "machine")
            else:
                contact = r["result"] == "replied"  # the debtor answered: a direct contact
                answered = False
            rows.append({
                "account_id": r["account_id"], "phone_id": r["phone_id"], "phone_e164": r["e164"],
                "address": r["address"], "channel": r["channel"],
                "source": "import", "direction": "outbound", "started_at": r["started_at"],
                "ended_at": r["started_at"], "result": r["result"],
                "answered_at": r["started_at"] if answered else None,
                "right_party_contact": contact,
            })  # fmt: skip
        if rows:
            session.execute(insert(CallAttempt), rows)
            self.created += len(rows)
            for row in rows:
                if row["phone_id"] is not None:
                    self.touched.setdefault(row["phone_id"], set()).add(row["result"])

    def finish(self, session: Session, path: Path, result: ImportResult) -> None:
        # The whole history first, then the rule: an answer later in the file (or in
        # a later batch) is read before a number is judged dead.
        for phone_id in sorted(self.touched):
            results = self.touched[phone_id]
            said = number_validity.DEAD_RESULT if number_validity.DEAD_RESULT in results \
                else next(iter(sorted(results)))  # fmt: skip
            number_validity.after_result(session, phone_id, said, actor=self.actor,
                                         now=self.now, source="csv_import")  # fmt: skip
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
