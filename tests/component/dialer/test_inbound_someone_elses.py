"""An inbound call or chat from a number known to be someone else's (a wrong number, a
third party such as an older adult or a relative) is matched to no account: the agent
and the assistant would show that person the debt."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from console.chat_unattached import candidate_ids
from dialer.inbound.records import accounts_for_number
from selfservice import conversations as conv
from store.db import transaction
from store.models import Account, Phone

NUMBER = "+525512345678"


def make_account(engine: Engine, status: str) -> int:
    with transaction(engine) as s:
        account = Account(external_ref="MX-1", debtor_name="Juana Pérez", country="MX",
                          balance=Decimal("100"), currency="MXN")  # fmt: skip
        account.phones.append(Phone(position=1, number_e164=NUMBER, status=status))
        s.add(account)
        s.flush()
        return int(account.id)


@pytest.mark.parametrize(("status", "matched"), [("active", True), ("stopped", True),
                                                 ("wrong_number", False), ("third_party", False)])  # fmt: skip
def test_given_a_number_of_status_when_it_calls_or_writes_then_matched_only_if_the_debtors(
    engine: Engine, status: str, matched: bool
) -> None:
    account_id = make_account(engine, status)
    assert [m.account_id for m in accounts_for_number(engine, NUMBER)] == (
        [account_id] if matched else []
    )
    with transaction(engine) as s:
        c = conv.open_conversation(s, "whatsapp", NUMBER, datetime(2026, 1, 13, tzinfo=UTC))
        assert candidate_ids(s, c) == ([account_id] if matched else [])
