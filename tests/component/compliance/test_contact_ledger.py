"""The contact ledger the caps read: one attempt table for every channel; every
channel's attempts and direct contacts are events, each tagged with its channel (the
profile's caps say which channels they count), and a channel the table does not know
is refused."""

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


def test_given_a_call_and_an_sms_when_the_ledger_is_read_then_both_count_tagged_by_channel(
    engine: Engine,
) -> None:
    account_id = make_account(engine)
    call = _attempt(engine, account_id, "call", result="contact", right_party_contact=True,
                    answered_at=NOW - timedelta(minutes=59))  # fmt: skip
    sms = _attempt(engine, account_id, "sms", result="replied", right_party_contact=True,
                   details={"provider_id": "m-1"})  # fmt: skip
    _attempt(engine, account_id, "email", result="blocked")  # never sent: no attempt
    history = load_history(engine, [account_id], NOW - timedelta(days=1))[account_id]
    assert sorted(e.member for e in history.attempts) == sorted([f"a:{call}", f"a:{sms}@sms"])
    assert sorted(e.member for e in history.contacts) == sorted([f"a:{call}", f"a:{sms}@sms"])
    assert history.abandons == []


def test_given_a_table_that_counts_calls_only_when_the_ledger_is_read_then_the_sms_does_not(
    engine: Engine,
) -> None:
    account_id = make_account(engine)
    _attempt(engine, account_id, "sms", result="sent")
    call = _attempt(engine, account_id, "call", result="no_answer")
    counted = {**COUNTED, "attempts": frozenset({"call"})}
    history = load_history(engine, [account_id], NOW - timedelta(days=1), counted)[account_id]
    assert [e.member for e in history.attempts] == [f"a:{call}"]


def test_given_every_known_channel_then_each_is_accepted_and_an_unknown_one_refused(
    engine: Engine,
) -> None:
    account_id = make_account(engine)
    for channel in CONTACT_CHANNELS:
        _attempt(engine, account_id, channel)
    with pytest.raises(IntegrityError):
        _attempt(engine, account_id, "fax")
