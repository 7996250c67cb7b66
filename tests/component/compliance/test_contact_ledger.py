"""The contact ledger the caps read: one attempt table for every channel; today only
calls count toward the caps, an attempt on another channel is in the ledger and not
counted, and a channel the table does not know is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from compliance_helpers import make_account
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from compliance.ledger import COUNTED, load_history
from store.db import transaction
from store.models import CONTACT_CHANNELS, CallAttempt

NOW = datetime(2026, 1, 13, 18, 0, tzinfo=UTC)


def _attempt(engine: Engine, account_id: int, channel: str, **values: object) -> int:
    with transaction(engine) as s:
        row = CallAttempt(account_id=account_id, phone_e164="+525512345678", channel=channel,
                          started_at=NOW - timedelta(hours=1), **values)  # fmt: skip
        s.add(row)
        s.flush()
        return int(row.id)


def test_given_a_call_and_an_sms_when_the_ledger_is_read_then_only_the_call_counts(
    engine: Engine,
) -> None:
    account_id = make_account(engine)
    call = _attempt(engine, account_id, "call", result="contact", right_party_contact=True,
                    answered_at=NOW - timedelta(minutes=59))  # fmt: skip
    _attempt(engine, account_id, "sms", result="sent", right_party_contact=True,
             details={"provider_id": "m-1"})  # fmt: skip
    history = load_history(engine, [account_id], NOW - timedelta(days=1))[account_id]
    assert [e.member for e in history.attempts] == [f"a:{call}"]
    assert [e.member for e in history.contacts] == [f"a:{call}"]


def test_given_a_table_that_counts_sms_when_the_ledger_is_read_then_the_sms_counts(
    engine: Engine,
) -> None:
    account_id = make_account(engine)
    sms = _attempt(engine, account_id, "sms", result="sent")
    counted = {**COUNTED, "attempts": frozenset({"call", "sms"})}
    history = load_history(engine, [account_id], NOW - timedelta(days=1), counted)[account_id]
    assert [e.member for e in history.attempts] == [f"a:{sms}"]


def test_given_every_known_channel_then_each_is_accepted_and_an_unknown_one_refused(
    engine: Engine,
) -> None:
    account_id = make_account(engine)
    for channel in CONTACT_CHANNELS:
        _attempt(engine, account_id, channel)
    with pytest.raises(IntegrityError):
        _attempt(engine, account_id, "fax")
