"""`cobrador import accounts`: stream a CSV, validate every row, upsert accounts
and phones in batches inside one transaction, audit every change.

All-or-nothing unless skip_invalid: the first bad row stops the writing (the
transaction is rolled back at the end) but validation goes on, so the person
gets every error in one run.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.orm import Session

from cobrador.ground.masking import mask_phone
from store.importing import copy_text
from store.importing.account_copy import (
    ACCOUNT_COLUMNS,
    PHONE_COLUMNS,
    CopyReadyAccount,
    EncodedAccount,
    validate_and_encode,
)
from store.importing.account_rows import (
    ACCOUNT_FIELDS,
    KNOWN,
    REQUIRED,
    AccountRecord,
    PhoneRecord,
    RowDay,
    fixed_day,
    protection_values,
    validate_account_row,
)
from store.importing.bulk import (
    any_of,
    bulk_insert,
    copy_encoded_rows,
    id_sequence,
    insert_returning_ids,
    reserve_ids,
)
from store.importing.csv_source import CsvRow, RowError, make_row
from store.importing.fresh_load import FreshLoad, begin_fresh_load
from store.importing.report import ImportResult
from store.importing.runner import audit_file_import, audit_or_default, run_import
from store.models import Account, Phone, PhoneStatus

AuditFn = Callable[..., Any]
# The debtor's date of an instant from an account's time zone, country and region
# (compliance/debtor_time.py debtor_day): given by the layer that runs the import.
DebtorDate = Callable[[datetime, str | None, str, str | None], date]


class NoDebtorDate(ValueError):
    """An import told neither the debtors' date nor how to find it: it does not fall
    back to UTC's date (an evening import would start accounts a stage early)."""


def import_accounts(
    engine: Engine,
    path: Path,
    *,
    skip_invalid: bool = False,
    dry_run: bool = False,
    today: date | None = None,
    debtor_day: DebtorDate | None = None,
    actor: str = "cli",
    batch_size: int = 2000,
    progress_stream: IO[str] | None = None,
    audit: AuditFn | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    workers: int | None = None,
) -> ImportResult:
    """A new account's stage counts days past due on its debtor's date at the import
    (`debtor_day` at clock(); `today` instead gives one date for every row). Without
    either the import refuses to run (NoDebtorDate): never UTC's date."""
    now = clock()
    if today is not None:
        row_day: RowDay = partial(fixed_day, today)
    elif debtor_day is not None:
        row_day = partial(debtor_day, now)
    else:
        raise NoDebtorDate("the debtors' date is unknown: pass debtor_day or today")
    audit = audit_or_default(audit)
    # PostgreSQL takes rows as COPY text, encoded by the validation workers.
    copy_rows = engine.dialect.name == "postgresql"
    with ExitStack() as stack:
        lookup = None
        if copy_rows and not dry_run:
            # A second connection, outside the import's transaction, finds the refs
            # that already exist and reserves ids for the new ones while the import's
            # own connection COPYs the batch before: it reads committed data and
            # writes nothing (sequence values are never rolled back anyway).
            lookup = stack.enter_context(
                engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            )
            # Each nextval() batch commits on its own: no need to wait for the disk,
            # the import's own commit flushes the log up to and past those records.
            lookup.exec_driver_sql("SET synchronous_commit = off")
        importer = AccountImporter(row_day, actor, audit, lambda: now,
                                   copy_rows=copy_rows, lookup=lookup)  # fmt: skip
        return run_import(engine, path, importer, skip_invalid=skip_invalid, dry_run=dry_run,
                          batch_size=batch_size, progress_stream=progress_stream,
                          workers=workers)  # fmt: skip


@dataclass
class AccountBatch:
    """Valid rows on their way to the database. `existing` (the rows whose ref is
    already in the database) and `new_ids` are filled by prepare() when the import
    has a lookup connection; else write() looks them up through the session."""

    records: list[AccountRecord] | list[CopyReadyAccount]
    existing: dict[str, Any] | None = None
    new_ids: list[int] | None = None
    # The new rows as COPY text for accounts and phones, ids in place (COPY form only).
    copy_texts: tuple[str, str] | None = None


class AccountImporter:
    """Validates account rows and upserts them: inserts new refs, updates changed
    ones, and audits every change (new accounts are audited once per import,
    with the file's sha256, so a million rows do not mean a million entries)."""

    kind = "accounts"
    required = REQUIRED
    allowed: set[str] | None = None  # unknown columns become custom fields
    session: Session

    # resolve() reads nothing: the refs that exist are found by prepare() or write().
    resolve_reads_session = False

    def __init__(self, today: RowDay, actor: str, audit: AuditFn, clock: Callable[[], datetime],
                 copy_rows: bool = False, lookup: Connection | None = None) -> None:  # fmt: skip
        self.today = today
        self.lookup = lookup
        self._sequence: str | None = None
        # Set by start() when the import loads an empty table (fresh_load.py).
        self.fresh: FreshLoad | None = None
        # One timestamp for every row the import writes, as now() is in its transaction.
        self.now = clock()
        self.copy_rows = copy_rows
        self.header: list[str] = []
        self._validate_row = self.pure_validator()
        self.seen_refs: dict[str, int] = {}
        self.actor = actor
        self.audit = audit
        self.created = self.updated = self.unchanged = 0
        self.first_id: int | None = None
        self.last_id: int | None = None

    def use_header(self, header: list[str]) -> None:
        self.header = header

    def pure_validator(self) -> Callable[[CsvRow], AccountRecord | EncodedAccount | list[RowError]]:
        if self.copy_rows:
            return partial(
                validate_and_encode, today=self.today, now_text=copy_text.instant(self.now)
            )
        return partial(validate_account_row, today=self.today)

    def validate(self, row: CsvRow) -> AccountRecord | CopyReadyAccount | list[RowError]:
        outcome = self._validate_row(row)
        return outcome if isinstance(outcome, list) else self.check(row, outcome)

    def check(self, row: CsvRow, outcome: AccountRecord | EncodedAccount
              ) -> AccountRecord | CopyReadyAccount | list[RowError]:  # fmt: skip
        """The in-order part of validation: a ref seen earlier in the file."""
        ref = outcome.external_ref if isinstance(outcome, AccountRecord) else outcome[0]
        first = self.seen_refs.setdefault(ref, row.line)
        if first != row.line:
            return [RowError(row.line, "external_ref", f"duplicate external_ref "
                             f"{ref!r} (first seen on line {first})")]  # fmt: skip
        if isinstance(outcome, AccountRecord):
            return outcome
        return CopyReadyAccount(*outcome, row.line, row.raw)

    def resolve(self, session: Session, batch: list[tuple[CsvRow, Any]]) -> list[list[RowError]]:
        return [[] for _ in batch]  # an unknown ref is a new account

    def start(self, session: Session) -> None:
        """Before the first row, with a lookup connection (PostgreSQL, writing): an
        empty accounts table is loaded without its plain indexes (fresh_load.py)."""
        if self.lookup is None:
            return
        # Named before the tables are locked: the lookup connection then only
        # touches the sequence, never the locked tables (it would wait for ever).
        self._sequence = id_sequence(self.lookup, Account.__table__)  # type: ignore[arg-type]
        self.fresh = begin_fresh_load(session)

    def prepare(self, records: list[AccountRecord] | list[CopyReadyAccount]) -> AccountBatch:
        """With a lookup connection: the refs of the batch that exist, and ids for the
        new ones. The file's refs are unique (check()), so what this import writes
        in its own transaction never changes the answer for a later batch."""
        if self.lookup is None:
            return AccountBatch(records)
        existing: dict[str, Any] = {}  # a fresh load: the table was empty, and is locked
        if self.fresh is None:
            existing = _existing_accounts(self.lookup, [r.external_ref for r in records])
        new = [r for r in records if r.external_ref not in existing]
        ids = reserve_ids(self.lookup, Account.__table__, len(new), self._sequence) if new else []  # type: ignore[arg-type]
        # The text is built here too: the writer thread only streams it.
        texts = _copy_texts(ids, new) if new and self.copy_rows else None  # type: ignore[arg-type]
        return AccountBatch(records, existing, ids, texts)

    def write(self, session: Session, batch: AccountBatch) -> None:
        self.session = session
        records = batch.records
        existing = batch.existing
        if existing is None:
            existing = _existing_accounts(session.connection(), [r.external_ref for r in records])
        new = [r for r in records if r.external_ref not in existing]
        if new:
            write_new = partial(self._copy_new, batch=batch) if self.copy_rows else self._insert_new
            ids = write_new(new)  # type: ignore[arg-type]
            self.created += len(new)
            self.first_id = self.first_id if self.first_id is not None else min(ids)
            self.last_id = max([*ids, self.last_id or 0])
        changed = [self._record(r) for r in records if r.external_ref in existing]
        if changed:
            self._update(changed, existing, self.now)

    def _insert_new(self, new: list[AccountRecord]) -> list[int]:
        now, conn = self.now, self.session.connection()
        account_rows = [{**r.account_values(), "email_consent_at": now if r.email_consent else None,
                         **protection_values(r, now), "created_at": now, "updated_at": now}
                        for r in new]  # fmt: skip
        ids = insert_returning_ids(conn, Account.__table__, account_rows)  # type: ignore[arg-type]
        phone_rows = [_phone_values(account_id, p, now)
                      for account_id, r in zip(ids, new, strict=True) for p in r.phones]  # fmt: skip
        if phone_rows:
            bulk_insert(conn, Phone.__table__, phone_rows)  # type: ignore[arg-type]
        return ids

    def _copy_new(self, new: list[CopyReadyAccount], batch: AccountBatch) -> list[int]:
        conn = self.session.connection()
        ids, texts = batch.new_ids, batch.copy_texts
        if ids is None:
            ids = reserve_ids(conn, Account.__table__, len(new))  # type: ignore[arg-type]
        accounts, phones = texts if texts is not None else _copy_texts(ids, new)
        copy_encoded_rows(conn, Account.__table__, ACCOUNT_COLUMNS, accounts)  # type: ignore[arg-type]
        if phones:
            copy_encoded_rows(conn, Phone.__table__, PHONE_COLUMNS, phones)  # type: ignore[arg-type]
        return ids

    def _record(self, row: AccountRecord | CopyReadyAccount) -> AccountRecord:
        """The full record of a row whose ref exists: the COPY form cannot be diffed,
        so it is validated again from its cells (it passed once: it passes again)."""
        if isinstance(row, AccountRecord):
            return row
        record = validate_account_row(make_row(self.header, row.line, row.raw), self.today)
        assert isinstance(record, AccountRecord), record
        return record

    def _update(
        self, records: list[AccountRecord], existing: dict[str, Any], now: datetime
    ) -> None:
        s = self.session
        ids = [existing[r.external_ref].id for r in records]
        phones_by_account: dict[int, list[Any]] = {}
        for p in s.execute(select(Phone).where(Phone.account_id.in_(ids))).scalars():
            phones_by_account.setdefault(p.account_id, []).append(p)
        for r in records:
            old = existing[r.external_ref]
            values = r.account_values()
            diff = {f: [_plain(getattr(old, f)), _plain(values[f])]
                    for f in ACCOUNT_FIELDS if getattr(old, f) != values[f]}  # fmt: skip
            phone_diff = self._sync_phones(old.id, r.phones, phones_by_account.get(old.id, []), now)
            protection = self._protection_change(r, old, now)
            if protection:
                diff["protection"] = [old.protection, protection["protection"]]
            if not diff and not phone_diff:
                self.unchanged += 1
                continue
            if diff:
                extra: dict[str, Any] = {}
                if {"email", "email_consent", "email_consent_ref"} & set(diff):
                    # The e-mail's consent is evidence: when it changes, its time and an entry.
                    extra["email_consent_at"] = now if r.email_consent else None
                    self.audit(s, "consent_change", {
                        "channel": "email", "consent": r.email_consent,
                        "consent_ref": r.email_consent_ref, "was": old.email_consent,
                        "source": "csv_import"}, actor=self.actor, subject=f"account:{old.id}")  # fmt: skip
                s.execute(update(Account).where(Account.id == old.id)
                          .values(**{f: values[f] for f in diff if f in values}, **extra,
                                  **protection, updated_at=now))  # fmt: skip
            self.updated += 1
            self.audit(s, "account_change", {"external_ref": r.external_ref, "fields": diff,
                                             "phones": phone_diff, "source": "csv_import"},
                       actor=self.actor, subject=f"account:{old.id}")  # fmt: skip

    def _protection_change(self, r: AccountRecord, old: Any, now: datetime) -> dict[str, Any]:
        """The protection columns to write when the row changes them (an empty cell keeps
        the account's, `none` clears it), with a `protection_change` audit entry."""
        if r.protection is None:
            return {}
        wanted = protection_values(r, now)
        if wanted["protection"] == old.protection and (
            wanted["protection"] is None or wanted["protection_ref"] == old.protection_ref
        ):
            return {}
        self.audit(self.session, "protection_change", {
            "protection": wanted["protection"], "ref": wanted["protection_ref"],
            "was": old.protection, "was_ref": old.protection_ref, "source": "csv_import"},
            actor=self.actor, subject=f"account:{old.id}")  # fmt: skip
        return wanted

    def _sync_phones(self, account_id: int, wanted: list[PhoneRecord], current: list[Phone],
                     now: datetime) -> list[dict[str, Any]]:  # fmt: skip
        """Bring the account's phones in line with the file; numbers no longer
        listed are retired (kept, with their history), never deleted."""
        s = self.session
        by_number = {p.number_e164: p for p in current}
        changes: list[dict[str, Any]] = []
        for w in wanted:
            have = by_number.pop(w.number_e164, None)
            if have is None:
                s.execute(insert(Phone), [_phone_values(account_id, w, now)])
                changes.append({"number": mask_phone(w.number_e164), "change": "added"})
                if w.third_party:
                    self._status_change(account_id, None, w.number_e164, w.status, None)
                continue
            updates: dict[str, Any] = {}
            if (have.consent != w.consent or have.consent_ref != w.consent_ref
                    or have.channels != w.channels):  # fmt: skip
                updates.update(consent=w.consent, consent_ref=w.consent_ref,
                               consent_at=now if w.consent else None, channels=w.channels)  # fmt: skip
                self.audit(s, "consent_change", {"phone_id": have.id, "consent": w.consent,
                                                 "consent_ref": w.consent_ref, "was": have.consent,
                                                 "channels": w.channels,
                                                 "channels_were": have.channels,
                                                 "source": "csv_import"},
                           actor=self.actor, subject=f"account:{account_id}")  # fmt: skip
            if have.phone_type != w.phone_type:
                updates["phone_type"] = w.phone_type
            if have.position != w.position:
                updates["position"] = w.position
            status = _status_from_file(have.status, w.third_party)
            if status != have.status:
                updates["status"] = status
                if PhoneStatus.third_party.value in (status, have.status):
                    self._status_change(account_id, have.id, w.number_e164, status, have.status)
            if updates:
                s.execute(
                    update(Phone).where(Phone.id == have.id).values(**updates, updated_at=now)
                )
                changes.append({"number": mask_phone(w.number_e164), "change": sorted(updates)})
        for gone in by_number.values():
            if gone.status == PhoneStatus.active.value:
                s.execute(
                    update(Phone)
                    .where(Phone.id == gone.id)
                    .values(status=PhoneStatus.retired.value, updated_at=now)
                )
                changes.append({"number": mask_phone(gone.number_e164), "change": "retired"})
        return changes

    def _status_change(self, account_id: int, phone_id: int | None, number: str, status: str,
                       was: str | None) -> None:  # fmt: skip
        """A number marked as a third party's by the file, or its mark cleared: the
        `phone_status_change` entry the supervisor's mark writes, source csv_import."""
        self.audit(self.session, "phone_status_change", {
            "phone_id": phone_id, "number": mask_phone(number), "status": status, "was": was,
            "source": "csv_import"}, actor=self.actor, subject=f"account:{account_id}")  # fmt: skip

    def finish(self, session: Session, path: Path, result: ImportResult) -> None:
        if self.fresh is not None:
            self.fresh.rebuild(session)
        audit_file_import(self.audit, session, "account", path, result, self.actor,
                          created=self.created, updated=self.updated, unchanged=self.unchanged,
                          created_id_range=[self.first_id, self.last_id])  # fmt: skip


_EXISTING_COLUMNS = [getattr(Account, f) for f in ("id", "external_ref", *ACCOUNT_FIELDS,
                                                   "protection", "protection_ref")]  # fmt: skip


def _existing_accounts(conn: Connection, refs: list[str]) -> dict[str, Any]:
    """The accounts among `refs` that the connection sees, by ref."""
    query = select(*_EXISTING_COLUMNS).where(any_of(Account.external_ref, refs, conn))
    return {row.external_ref: row for row in conn.execute(query)}


def _copy_texts(ids: list[int], new: list[CopyReadyAccount]) -> tuple[str, str]:
    """COPY text of new accounts and of their phones, each line led by its (account) id."""
    pairs = list(zip(ids, new, strict=True))
    accounts = "".join([f"{i}\t{r.account_text}\n" for i, r in pairs])
    phones = "".join([f"{i}\t{p}\n" for i, r in pairs for p in r.phone_texts])
    return accounts, phones


def _phone_values(account_id: int, p: PhoneRecord, now: datetime) -> dict[str, Any]:
    return {
        "account_id": account_id, "position": p.position, "number_e164": p.number_e164,
        "phone_type": p.phone_type, "consent": p.consent, "consent_ref": p.consent_ref,
        "consent_at": now if p.consent else None, "status": p.status,
        "updated_at": now, "channels": p.channels,
    }  # fmt: skip


def _status_from_file(current: str, third_party: bool | None) -> str:
    """A listed number's status after the file: a retired number listed again is active;
    phone_N_third_party yes marks it, `none` clears a mark, empty keeps what it has (a
    wrong number or a stop stays, whatever the file says of third parties)."""
    if third_party:
        return PhoneStatus.third_party.value
    if current == PhoneStatus.retired.value:
        return PhoneStatus.active.value
    if third_party is False and current == PhoneStatus.third_party.value:
        return PhoneStatus.active.value
    return current


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "as_tuple"):
        return str(value)
    return value


__all__ = ["KNOWN", "import_accounts"]
