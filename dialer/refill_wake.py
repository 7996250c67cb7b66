"""End the refill's sleep an account is in because of a stop that was just lifted.

A refill that finds calls stopped (`opted_out`) puts the account to sleep for a day
(dialer/refill.py DEFAULT_BACKOFF). When the debtor authorises calls again, that
sleep has lost its cause: the account becomes due at once, so the refill's next pass
evaluates it again. Only that sleep: the account's date must be exactly the one the
refill's last decision on it gave (its evaluation instant plus the backoff of its
reasons), so a promise's or a disposition's hold, a callback or an account held in a
hopper are never touched; nor is an account that is not dialable (paid, disputed...).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer.refill import DIALABLE_STATUSES, backoff_for
from store.models import Account
from store.models import Decision as DecisionRow

log = logging.getLogger(__name__)


def wake_after_lifted_stop(session: Session, account: Account, lifted: str, now: datetime) -> bool:
    """In the caller's transaction, after the `lifted` reason ("opted_out") stopped
    applying: the account is due at `now` when its sleep is the refill's for a decision
    that `lifted` blocked. Returns whether it was woken."""
    if (
        account.status not in DIALABLE_STATUSES
        or account.hopper_since is not None
        or account.next_attempt_at is None
        or account.next_attempt_at <= now
    ):
        return False
    last = session.scalars(
        select(DecisionRow)
        .where(DecisionRow.account_id == account.id, DecisionRow.stage == "hopper",
               DecisionRow.channel == "call")
        .order_by(DecisionRow.id.desc())
        .limit(1)
    ).first()  # fmt: skip
    if last is None or last.allowed or lifted not in (last.reasons or []):
        return False
    if account.next_attempt_at != last.evaluated_at + backoff_for(last.reasons):
        return False  # another date since (a promise, a call's result): not ours to end
    account.next_attempt_at = now
    log.info("account %s due again: the stop behind its sleep was lifted", account.id)
    return True
