"""Wrong identity answers on one call or chat: after MAX_FAILED_CHECKS the person is
treated as a third party. The same cap for an outbound call's right party, an inbound
caller and a chat that names no account: the answers are not guessed by trying.

The count is a row of the portal's gate table (store.models.PortalGate, key
``call:<attempt>``), taken with the portal's row lock (selfservice.identity.gate_row)
in the transaction that checks the answers, before the account's own row
(console/verify_lock.py): parallel checks of one call are counted one after the other,
and none gets past the cap. SQL, not Redis: a flush or a restart gives no new tries.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from console.i18n import N_
from selfservice.identity import gate_row
from store.models import PortalGate

MAX_FAILED_CHECKS = 3  # per call or chat
# A call's row is kept this long after its first answer (console/pruning.py): longer
# than any call or chat an agent is on (the verified party is kept a day).
KEPT = timedelta(days=7)
TOO_MANY_ON_CALL = N_("Demasiados intentos de verificación en esta llamada; trátela como tercero.")
TOO_MANY_IN_CHAT = N_(
    "Demasiados intentos de verificación en esta conversación; ciérrela sin cuenta."
)


class Spent(PermissionError):
    """The call's or chat's wrong answers are used up: nothing was compared."""


def call_gate(attempt_id: int) -> str:
    return f"call:{attempt_id}"


def take(session: Session, attempt_id: int, now: datetime) -> PortalGate:
    """The call's row, created if new and locked for this transaction (checks on the
    call wait for it to commit); `Spent` once its wrong answers are used up. Taken
    before the account's row (verify_lock.take): one order, no deadlock."""
    row = gate_row(session, call_gate(attempt_id), None, now)
    if row.failures >= MAX_FAILED_CHECKS:
        raise Spent(attempt_id)
    return row


def record(row: PortalGate, passed: bool) -> None:
    """Count the answer checked on the call's row `take` gave (a right one counts
    nothing: the call's wrong ones stay)."""
    if not passed:
        row.failures += 1
