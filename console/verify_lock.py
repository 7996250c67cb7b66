"""Wrong identity answers on one account across every inbound call and chat, in SQL.

The cap per call or chat (console/verify_tries.py) gave a caller three new tries at
the same account on each call or chat, so its last digits or its birth date could be
guessed by calling again. ACCOUNT_FAILURES wrong answers on an account within WINDOW
lock an agent's check of that account (inbound calls, chats) for LOCK, and
HOLD_FAILURES in all since its last success hold it locked until a supervisor clears
it. Every lock opens a supervisor task (/supervisor/tasks) whose button clears it.

The row is the portal's gate table (store.models.PortalGate, key ``agent:<account>``),
taken with the portal's row lock (selfservice.identity.gate_row) in the transaction
that checks the answers: parallel checks of one account are counted one after the
other, and none gets past the lock. SQL, not Redis: a flush or a restart unlocks nothing.

The debtor's document (its last 4 digits, `document_last4`) is one secret whoever asks
for it: a check that asks it counts on the portal's row of the account
(selfservice.identity.reference_gate, ``ref:<account>``), where the portal's reference
entry and the chat assistant count their wrong answers too, so the portal and the
agents share one count of three (and of nine) instead of three each. Such a check is
also refused while the agents' own row is locked; a supervisor's clearing clears both.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.i18n import N_
from console.identity import proves_more_than_a_letter
from selfservice import identity as idc
from selfservice.identity import gate_row, reference_gate
from store.audit import append as audit_append
from store.models import Account, PortalGate, SupervisorTask

# The portal's numbers (selfservice/identity.py): a document's row is read by both.
ACCOUNT_FAILURES = idc.GATE_FAILURES  # wrong answers on one account within WINDOW
WINDOW = timedelta(days=1)  # the agents' own row only; a document's counts until success
LOCK = idc.REFERENCE_LOCK  # then the account may be checked again
# Wrong answers since the account's last success or unlock, after which its lock waits
# for a person: three day locks.
HOLD_FAILURES = idc.REFERENCE_HOLD_FAILURES
VERIFY_LOCK_TASK = "verify_locked"  # the supervisor task every lock opens
LOCKED = N_(
    "Verificación bloqueada: esta cuenta tuvo demasiadas respuestas equivocadas en "
    "llamadas, chats o el portal. No hable de la deuda; un supervisor puede desbloquearla."
)


def account_gate(account_id: int) -> str:
    return f"agent:{account_id}"


def is_locked(row: PortalGate, now: datetime) -> bool:
    if row.total_failures >= HOLD_FAILURES:
        return True
    return row.locked_at is not None and now - row.locked_at < LOCK


def take(session: Session, account_id: int, now: datetime,
         document: bool = False) -> PortalGate | None:  # fmt: skip
    """The row this check counts on, created if new and locked for this transaction
    (checks of the account wait for it to commit); None while the check is locked.
    `document`: the check asks the document's digits, counted on the portal's row of
    the account (`reference_gate`) and refused while either row is locked. A refused
    check opens the supervisor's task if none is open (a lock the portal's answers
    set has none yet): the agent's reason says a supervisor can unlock it."""
    if document and locked_in(session, account_id, now):
        _open_task_for(session, account_id, now)
        return None
    gate = reference_gate(account_id) if document else account_gate(account_id)
    row = gate_row(session, gate, account_id, now)
    if is_locked(row, now):
        _open_task_for(session, account_id, now)
        return None
    if row.locked_at is not None:  # a lock that has run out: a new window
        row.failures, row.window_started_at, row.locked_at = 0, None, None
    return row


def record(session: Session, row: PortalGate, account: Account, passed: bool, now: datetime,
           actor: str, prompts: Collection[str]) -> bool:  # fmt: skip
    """Count one checked answer on the row `take` gave; True when it locked the account
    (audited as `identity_lock`; a supervisor task opens unless one is open). A right
    answer clears the row's wrong answers only when its `prompts` asked something no
    letter prints (identity.proves_more_than_a_letter): the name and the reference's
    digits passed from a letter (a one-match chat of an account without a document)
    let a guesser at the birth date or the document start again after every two."""
    if passed and not proves_more_than_a_letter(prompts):
        return False
    if passed:
        row.failures, row.total_failures, row.window_started_at = 0, 0, None
        row.locked_at, row.verified_at = None, now
        return False
    document = row.key == reference_gate(account.id)
    if not document and (row.window_started_at is None
                         or now - row.window_started_at >= WINDOW):  # fmt: skip
        # The agents' own row counts a day's wrong answers; a document's row counts them
        # until a right answer or a lock, as the portal does (its answers are there too).
        row.window_started_at, row.failures = now, 0
    row.failures += 1
    row.total_failures += 1
    held = row.total_failures >= HOLD_FAILURES
    if row.failures < ACCOUNT_FAILURES and not held:
        return False
    row.locked_at = now
    audit_append(session, "identity_lock",
                 {"account_id": account.id, "result": "held" if held else "locked",
                  "failures": row.failures, "total_failures": row.total_failures,
                  "until": None if held else now + LOCK,
                  **({"question": "document"} if document else {})},
                 actor=actor, subject=f"account:{account.id}", now=now)  # fmt: skip
    if _open_task(session, account.id) is None:
        session.add(SupervisorTask(account_id=account.id, campaign_id=account.campaign_id,
                                   kind=VERIFY_LOCK_TASK, created_at=now))  # fmt: skip
    return True


def locked_in(session: Session, account_id: int, now: datetime) -> bool:
    """Whether an agent's check of the account is locked now (read only)."""
    row = session.get(PortalGate, account_gate(account_id))
    return row is not None and is_locked(row, now)


def unlock_in(session: Session, account_id: int, actor: str, now: datetime,
              user_id: int | None = None, detail: Mapping[str, object] | None = None) -> bool:  # fmt: skip
    """A supervisor clears the account's lock and its wrong answers, inside the caller's
    transaction; its open task is closed. The document's lock (the portal's row of the
    account) is cleared too: the supervisor confirmed the debtor another way. False
    when neither was locked (any wrong answers kept are cleared all the same)."""
    for task in session.scalars(select(SupervisorTask).where(
        SupervisorTask.account_id == account_id, SupervisorTask.kind == VERIFY_LOCK_TASK,
        SupervisorTask.status == "open",
    )):  # fmt: skip
        task.status, task.done_at, task.done_by = "done", now, user_id
    document = idc.unlock_account_in(session, account_id, actor, now, user_id, detail)
    row = session.get(PortalGate, account_gate(account_id), with_for_update=True)
    if row is None or (row.locked_at is None and row.failures == 0 and row.total_failures == 0):
        return document
    was_locked = is_locked(row, now) or document
    row.failures, row.total_failures, row.window_started_at, row.locked_at = 0, 0, None, None
    audit_append(session, "identity_lock",
                 {"account_id": account_id, "result": "unlocked", "was_locked": was_locked,
                  **(detail or {})},
                 actor=actor, subject=f"account:{account_id}", now=now)  # fmt: skip
    return was_locked


def _open_task_for(session: Session, account_id: int, now: datetime) -> None:
    if _open_task(session, account_id) is None:
        account = session.get(Account, account_id)
        session.add(SupervisorTask(account_id=account_id,
                                   campaign_id=account.campaign_id if account else None,
                                   kind=VERIFY_LOCK_TASK, created_at=now))  # fmt: skip


def _open_task(session: Session, account_id: int) -> SupervisorTask | None:
    return session.scalars(select(SupervisorTask).where(
        SupervisorTask.account_id == account_id, SupervisorTask.kind == VERIFY_LOCK_TASK,
        SupervisorTask.status == "open",
    ).limit(1)).first()  # fmt: skip
