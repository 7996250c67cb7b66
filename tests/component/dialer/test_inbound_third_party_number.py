"""A number marked as a third party's on one account is that person's on every account:
a call or a chat from the debtor's mother matches neither the card she was marked on
nor the loan that lists her number too (either would show her the debt)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Engine

from console.chat_unattached import candidate_ids
from dialer.inbound.records import accounts_for_number
from selfservice import conversations as conv
from store.db import transaction
from store.models import Account, Phone

MOTHER, OWN = "+525512345678", "+525587654321"


def make_account(engine: Engine, ref: str, phones: list[tuple[str, str]]) -> int:
    with transaction(engine) as s:
        account = Account(external_ref=ref, debtor_name="Juana Pérez", country="MX",
                          balance=Decimal("100"), currency="MXN")  # fmt: skip
        for position, (number, status) in enumerate(phones, start=1):
            account.phones.append(Phone(position=position, number_e164=number, status=status))
        s.add(account)
        s.flush()
        return int(account.id)


def _matched(engine: Engine, number: str) -> tuple[list[int], list[int]]:
    calls = [m.account_id for m in accounts_for_number(engine, number)]
    with transaction(engine) as s:
        c = conv.open_conversation(s, "whatsapp", number, datetime(2026, 1, 13, tzinfo=UTC))
        return calls, candidate_ids(s, c)


def test_given_a_number_marked_on_one_account_when_it_calls_or_writes_then_no_account_matches(
    engine: Engine,
) -> None:
    make_account(engine, "CARD", [(MOTHER, "third_party")])
    loan = make_account(engine, "LOAN", [(MOTHER, "active"), (OWN, "active")])
    assert _matched(engine, MOTHER) == ([], [])
    assert _matched(engine, OWN) == ([loan], [loan])  # the debtor's own number still does
