"""The portal's identity check: before anything about the debt is shown, the debtor
types the last four digits of their national document (INE/CURP, cédula, DNI).

cobrador never keeps the digits: the operator imports them (`cobrador portal
identities`) and only a keyed hash is stored, HMAC-SHA256 under
``portal_identity_key`` over the account's reference and the digits, so a copy
of the database alone cannot be searched for them. Each way in is a gate
(`store.models.PortalGate`): one signed link, or one account's reference path.
Three wrong answers lock the gate for good (a link) or for a day (a reference); an
answer through a link counts on its account's reference row too (every link, the
chat assistant and agents asking the document share that count, and a locked
reference refuses the account's links). The anonymous way in by reference (`/p`, the
reference printed on every letter) has a row of its own (``entry:<account>``), refused
while the shared row is locked but never counting on it: a stranger's guesses there
lock only that path, not the debtor's links nor the agents' check. A reference (shared
or anonymous) that has had REFERENCE_HOLD_FAILURES wrong answers in all, from any
addresses, since its last success stays locked until a person unlocks it (a
supervisor task opens: /supervisor/tasks; or `cobrador portal unlock`): a guesser
holding thousands of addresses gets that many guesses per account, not three a day
for ever. A client address (an IPv6 one by its /64) gets at most ``ADDRESS_FAILURES``
wrong answers per window over every gate; an unknown reference, and a guess at a locked
gate, count as wrong answers there, answered the same way (no reference enumeration).
State is in SQL: no restart unlocks.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cobrador.ground.addresses import throttle_bucket
from store.audit import append as audit_append
from store.db import transaction
from store.models import Account, PortalGate, SupervisorTask

DIGITS = 4
GATE_FAILURES = 3  # wrong answers that lock a link or a reference
ADDRESS_FAILURES = 10  # wrong answers per client address per window, over every gate
ADDRESS_WINDOW = timedelta(minutes=15)
REFERENCE_LOCK = timedelta(days=1)  # a reference unlocks after this (a link never does)
# Wrong answers on a reference in all (every address, every day) since its last success
# or unlock, after which its lock waits for a person: three day locks.
REFERENCE_HOLD_FAILURES = 9
PORTAL_LOCK_TASK = "portal_locked"  # the supervisor task a held reference opens
MIN_KEY_BYTES = 32
MAX_ANSWER = 40  # characters read from a form: more is refused unread
MAX_REFERENCE = 64  # accounts.external_ref's size
_NOT_DIGITS = re.compile(r"[\s.\-]")


class IdentityError(ValueError):
    """A key, answer or reference that cannot be used as given (says what to fix)."""


def identity_key(encoded: str) -> bytes:
    """The key from settings (base64, 32+ bytes); IdentityError when unusable."""
    if not encoded:
        raise IdentityError("portal_identity_key is not set: the identity check cannot run")
    try:
        key = base64.b64decode(encoded + "==", validate=False)
    except (binascii.Error, ValueError) as exc:
        raise IdentityError("portal_identity_key must be base64") from exc
    if len(key) < MIN_KEY_BYTES:
        raise IdentityError(f"portal_identity_key must be {MIN_KEY_BYTES} bytes or more")
    return key


def normalise_answer(answer: str) -> str:
    """What the debtor typed as exactly DIGITS digits (spaces, dots and dashes
    dropped); IdentityError otherwise (not counted as a wrong answer)."""
    if not isinstance(answer, str) or len(answer) > MAX_ANSWER:
        raise IdentityError("answer too long")
    digits = _NOT_DIGITS.sub("", answer)
    if len(digits) != DIGITS or not digits.isascii() or not digits.isdigit():
        raise IdentityError(f"type the last {DIGITS} digits")
    return digits


def last_digits(document: str) -> str:
    """The last DIGITS digits of a document number as the creditor's file has it
    (letters dropped: a CURP or a DNI with its check letter); IdentityError when fewer."""
    digits = "".join(c for c in document if c.isascii() and c.isdigit())
    if len(digits) < DIGITS:
        raise IdentityError(f"a document number needs at least {DIGITS} digits")
    return digits[-DIGITS:]


def identity_hash(key: bytes, external_ref: str, digits: str) -> str:
    """The stored form: keyed, and bound to the account (equal digits of two accounts
    hash differently)."""
    message = b"cobrador-identity-v1\0" + external_ref.encode() + b"\0" + digits.encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def link_gate(token: str) -> str:
    return "link:" + hashlib.sha256(token.encode()).hexdigest()


def reference_gate(account_id: int) -> str:
    """The account's shared count of the document's digits: its links, the chat
    assistant and agents asking the document (the debtor's own channels)."""
    return f"ref:{account_id}"


def entry_gate(account_id: int) -> str:
    """The anonymous way in by reference (`/p`, the reference typed): its own count.
    The reference is printed on every letter, so whoever holds one could lock the
    shared row and with it the debtor's links and the agents' document check; the
    anonymous path's wrong answers lock only itself (`check`)."""
    return f"entry:{account_id}"


_DAY_LOCKED = ("ref:", "entry:")  # a day's lock, then held at REFERENCE_HOLD_FAILURES


def address_gate(address: str) -> str:
    # An IPv6 client by its /64: one guesser cannot take a fresh address per guess.
    return "addr:" + hashlib.sha256(throttle_bucket(address).encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Verdict:
    verified: bool
    locked: bool = False  # the gate is locked (now or before this answer)
    throttled: bool = False  # the client address has had too many wrong answers
    # The account's reference row is locked (every link of it too, not only this one).
    account_locked: bool = False
    tries_left: int = 0
    account_id: int | None = None  # when verified


def gate_locked(engine: Engine, gate: str, now: datetime) -> bool:
    """Whether a gate is locked (a link page says so before asking anything)."""
    with transaction(engine) as session:
        row = session.get(PortalGate, gate)
        return row is not None and _is_locked(row, now)


def check(
    engine: Engine,
    *,
    gate: str,
    account_id: int | None,
    answer: str,
    key: bytes,
    client: str,
    now: datetime,
) -> Verdict:
    """Check an answer for the account a gate leads to (None: an unknown reference,
    always wrong). Counts a wrong answer on the gate and on the client's address,
    locks the gate at the third, audits the lock and every success. An answer through
    a link counts on the account's reference row too (`shared_rows`): every link of an
    account, its reference path, the chat assistant and the agents share one count of
    the document's digits, and a locked reference refuses its links. An answer
    through the anonymous reference path (`entry_gate`) is refused while the shared row
    is locked but counts on its own row only: a stranger holding a letter locks that
    path, never the debtor's links nor the agents' check. IdentityError for an answer
    that is not DIGITS digits (nothing counted)."""
    digits = normalise_answer(answer)
    addr = address_gate(client or "unknown")
    with transaction(engine) as session:
        throttle = gate_row(session, addr, None, now)
        if _throttled(throttle, now):
            return Verdict(False, throttled=True)
        rows = shared_rows(session, gate, account_id, now)
        if any(_is_locked(row, now) for row in rows):
            # Counted on the address as any wrong answer: uncounted, the guesses past a
            # reference's lock told an existing reference from an unknown one (whose
            # every guess counts) by the 429 that came or did not.
            _count(throttle, now)
            return Verdict(False, locked=True, account_locked=_is_locked(rows[-1], now))
        for row in rows:
            if row.locked_at is not None:  # a reference's lock has run out
                row.failures, row.locked_at = 0, None
        account = session.get(Account, account_id) if account_id is not None else None
        stored = account.identity_hash if account is not None else None
        expected = identity_hash(key, account.external_ref, digits) if account else ""
        # The anonymous path counts on its own row only, and its success clears only
        # that row: the debtor's own way in and a stranger's never reset each other.
        counted = rows[:1] if gate.startswith("entry:") else rows
        if stored and rows and hmac.compare_digest(stored, expected):
            for row in counted:
                row.failures, row.total_failures, row.locked_at, row.verified_at = 0, 0, None, now
            audit_append(session, "portal_identity", {"gate": gate[:12], "result": "verified"},
                         actor="debtor", subject=f"account:{account_id}", now=now)  # fmt: skip
            return Verdict(True, account_id=account_id)
        _count(throttle, now)
        if not rows:
            return Verdict(False, tries_left=GATE_FAILURES - 1)
        locked = False
        for row in counted:
            row.failures += 1
            row.total_failures += 1
            held = _held(row)
            if row.failures < GATE_FAILURES and not held:
                continue
            locked, row.locked_at = True, now
            audit_append(session, "portal_identity",
                         {"gate": row.key[:12], "result": "held" if held else "locked",
                          "failures": row.failures, "total_failures": row.total_failures},
                         actor="debtor", subject=f"account:{account_id}", now=now)  # fmt: skip
            if held and account is not None:
                session.add(SupervisorTask(account_id=account.id, campaign_id=account.campaign_id,
                                           kind=PORTAL_LOCK_TASK, created_at=now))  # fmt: skip
        if locked:
            return Verdict(False, locked=True, account_locked=rows[-1].locked_at == now)
        return Verdict(False, tries_left=min(GATE_FAILURES - row.failures for row in counted))


def shared_rows(session: Session, gate: str, account_id: int | None,
                now: datetime) -> list[PortalGate]:  # fmt: skip
    """The rows an answer through `gate` is refused by, taken for this transaction: none
    for an unknown reference; the reference's row; a link's or the anonymous path's own
    row and its account's reference row (taken in that order, as every check does).
    All count a wrong answer but the anonymous path's reference row (`check`)."""
    if account_id is None:
        return []
    rows = [gate_row(session, gate, account_id, now)]
    shared = reference_gate(account_id)
    if gate != shared:
        rows.append(gate_row(session, shared, account_id, now))
    return rows


def link_locked(engine: Engine, token: str, account_id: int, now: datetime) -> str | None:
    """Why a link is refused before anything is asked: "account" while its account's
    reference row (the document's shared count) is locked, "link" for its own lock;
    None when it may be answered."""
    with transaction(engine) as session:
        shared = session.get(PortalGate, reference_gate(account_id))
        if shared is not None and _is_locked(shared, now):
            return "account"
        own = session.get(PortalGate, link_gate(token))
        return "link" if own is not None and _is_locked(own, now) else None


@dataclass(frozen=True)
class IdentityImport:
    stored: int
    errors: tuple[str, ...]  # "line N: why" (nothing stored when any)


def import_identities(
    engine: Engine, rows: Iterable[tuple[int, str, str]], key: bytes, actor: str, now: datetime
) -> IdentityImport:
    """(line, external_ref, document) rows: each account's identity hash from its
    document's last digits; all or nothing (any bad row: nothing stored, every bad
    row said). The digits are never written anywhere; the audit entry counts rows."""
    errors: list[str] = []
    wanted: dict[str, str] = {}
    for line, ref, document in rows:
        ref = ref.strip()
        if not ref or len(ref) > MAX_REFERENCE or not ref.isprintable():
            # Not printable: a NUL byte would reach PostgreSQL's query and fail there.
            errors.append(f"line {line}: external_ref is empty, longer than {MAX_REFERENCE} "
                          "or not printable")  # fmt: skip
            continue
        try:
            wanted[ref] = last_digits(document[: MAX_ANSWER * 2])
        except IdentityError as exc:
            errors.append(f"line {line}: {exc}")
    with transaction(engine) as session:
        accounts: dict[str, Account] = {}
        refs = list(wanted)
        for start in range(0, len(refs), 500):
            chunk = refs[start : start + 500]
            for account in session.scalars(select(Account).where(Account.external_ref.in_(chunk))):
                accounts[account.external_ref] = account
        errors += [f"external_ref {ref!r}: no such account" for ref in refs if ref not in accounts]
        if errors:  # nothing written yet
            return IdentityImport(0, tuple(errors))
        for ref, digits in wanted.items():
            accounts[ref].identity_hash = identity_hash(key, ref, digits)
        audit_append(session, "account_import", {"what": "portal_identities", "rows": len(wanted)},
                     actor=actor, now=now)  # fmt: skip
    return IdentityImport(len(wanted), ())


def unlock(engine: Engine, gate: str, actor: str, now: datetime) -> bool:
    """An operator lifts a lock (the debtor called and was identified); audited. A held
    reference starts again from zero, and its open supervisor task is closed."""
    with transaction(engine) as session:
        return unlock_in(session, gate, actor, now)


def unlock_in(session: Session, gate: str, actor: str, now: datetime,
              user_id: int | None = None, detail: Mapping[str, object] | None = None) -> bool:  # fmt: skip
    """`unlock` inside the caller's transaction; False when the gate is not locked.
    `detail` goes into the audit entry (how the person unlocking knew the debtor)."""
    row = session.get(PortalGate, gate, with_for_update=True)
    if row is None or (row.locked_at is None and not _held(row)):
        return False
    row.failures, row.total_failures, row.locked_at = 0, 0, None
    if row.account_id is not None and gate.startswith(_DAY_LOCKED):
        for task in session.scalars(select(SupervisorTask).where(
            SupervisorTask.account_id == row.account_id, SupervisorTask.kind == PORTAL_LOCK_TASK,
            SupervisorTask.status == "open",
        )):  # fmt: skip
            task.status, task.done_at, task.done_by = "done", now, user_id
    audit_append(session, "portal_identity",
                 {"gate": gate[:12], "result": "unlocked", **(detail or {})},
                 actor=actor, subject=f"account:{row.account_id}", now=now)  # fmt: skip
    return True


def reference_locked_in(session: Session, account_id: int, now: datetime) -> bool:
    """Whether the account's reference path into the portal is locked now, its shared
    row or its anonymous path's: a day lock or a hold that waits for a person (what
    the agent on a call with the debtor sees)."""
    for gate in (reference_gate(account_id), entry_gate(account_id)):
        row = session.get(PortalGate, gate)
        if row is not None and _is_locked(row, now):
            return True
    return False


def unlock_account_in(session: Session, account_id: int, actor: str, now: datetime,
                      user_id: int | None = None,
                      detail: Mapping[str, object] | None = None) -> bool:  # fmt: skip
    """A person who identified the debtor opens the account's reference rows, the
    shared one and the anonymous path's (`unlock_in` each); False when neither was
    locked."""
    shared = unlock_in(session, reference_gate(account_id), actor, now, user_id, detail)
    anonymous = unlock_in(session, entry_gate(account_id), actor, now, user_id, detail)
    return shared or anonymous


def gate_row(session: Session, key: str, account_id: int | None, now: datetime) -> PortalGate:
    """The gate's row, created if new, locked for this transaction (PostgreSQL: FOR
    UPDATE; SQLite: the write lock the insert takes). Also the row of an account's
    verification by an agent (console/verify_lock.py)."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(PortalGate).values(key=key, account_id=account_id, failures=0, created_at=now)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))
    row = session.execute(
        select(PortalGate).where(PortalGate.key == key).with_for_update()
    ).scalar_one()
    return row


def _held(row: PortalGate) -> bool:
    """A reference (shared or anonymous) locked until a person unlocks it
    (REFERENCE_HOLD_FAILURES)."""
    return row.key.startswith(_DAY_LOCKED) and row.total_failures >= REFERENCE_HOLD_FAILURES


def _is_locked(row: PortalGate, now: datetime) -> bool:
    if _held(row):
        return True
    if row.locked_at is None:
        return False
    return not (row.key.startswith(_DAY_LOCKED) and now - row.locked_at >= REFERENCE_LOCK)


def _throttled(row: PortalGate, now: datetime) -> bool:
    if row.window_started_at is None or now - row.window_started_at >= ADDRESS_WINDOW:
        return False
    return row.failures >= ADDRESS_FAILURES


def _count(row: PortalGate, now: datetime) -> None:
    if row.window_started_at is None or now - row.window_started_at >= ADDRESS_WINDOW:
        row.window_started_at, row.failures = now, 0
    row.failures += 1
