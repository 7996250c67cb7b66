"""The chat's actions carried out by the debtor actions, as the portal's: each debtor
message a debtor-initiated contact on the agent's timeline, an opt-out recorded with
its evidence, a promise made, a refusal given back as the reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select
from support.chat_standins import StandInAssistant

from console.timeline import timeline_for
from selfservice.chat_actions import DebtorActions
from selfservice.chat_service import ChatService, Done, Incoming, Who
from store.db import transaction
from store.models import Account, Campaign, ContactOptOut, Phone, Promise

# Tuesday 11:00 in Mexico City.
NOW = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
PHONE = "+525512345678"


@dataclass(frozen=True)
class MakePromise:
    amount: Decimal
    due: date


@dataclass(frozen=True)
class OptOut:
    channel: str | None


@dataclass(frozen=True)
class SendPaymentLink:
    amount: Decimal
    sent: str
    failed: str


@dataclass(frozen=True)
class Unknown:
    pass


@pytest.fixture
def account_id(engine: Engine) -> int:
    with transaction(engine) as s:
        campaign = Campaign(name="mx", country="MX", profile="MX", config={"promise_max_days": 15})
        s.add(campaign)
        s.flush()
        account = Account(external_ref="MX-1", debtor_name="Ana Pérez", country="MX",
                          timezone="America/Mexico_City", balance=Decimal("1500.00"),
                          currency="MXN", campaign_id=campaign.id)  # fmt: skip
        account.phones.append(Phone(number_e164=PHONE, consent=True, consent_ref="c-1",
                                    channels="call,sms"))  # fmt: skip
        s.add(account)
        s.flush()
        return int(account.id)


def who(account_id: int) -> Who:
    return Who(account_id, "sms", PHONE, 1)


def test_given_a_debtor_message_then_it_is_on_the_agents_timeline_as_their_own_contact(
    engine: Engine, account_id: int
) -> None:
    chat = ChatService(engine, StandInAssistant(), DebtorActions())
    chat.handle(Incoming("sms", PHONE, "hola", NOW, account_id=account_id))
    [entry] = timeline_for(engine, account_id)
    assert (entry["channel_code"], entry["direction"], entry["what"]) == (
        "sms", "Entrante", "Escribió un mensaje")  # fmt: skip


async def test_given_an_opt_out_then_recorded_with_evidence(
    engine: Engine, account_id: int
) -> None:
    assert await DebtorActions().execute(engine, who(account_id), OptOut("sms"), NOW) == Done()
    with transaction(engine) as s:
        row = s.scalars(select(ContactOptOut)).one()
        assert (row.account_id, row.channel) == (account_id, "sms")


async def test_given_a_promise_then_made_and_one_outside_the_rules_refused_with_the_reason(
    engine: Engine, account_id: int
) -> None:
    told: list[object] = []

    async def notify(result: object) -> None:
        told.append(result)

    actions = DebtorActions(notify=notify)
    made = await actions.execute(engine, who(account_id),
                                 MakePromise(Decimal("500"), date(2026, 11, 30)), NOW)  # fmt: skip
    assert made == Done()
    refused = await actions.execute(engine, who(account_id), MakePromise(Decimal("500"),
                                    date(2027, 6, 1)), NOW)  # fmt: skip
    assert refused.problem is not None and refused.problem.startswith("promise")
    with transaction(engine) as s:
        assert [p.amount for p in s.scalars(select(Promise))] == [Decimal("500.00")]
    assert len(told) == 1  # the dialer is told of the hold


async def test_given_an_action_the_chat_does_not_know_then_said_so(
    engine: Engine, account_id: int
) -> None:
    said = await DebtorActions().execute(engine, who(account_id), Unknown(), NOW)
    assert said.problem is not None and "not available" in said.problem


async def test_given_no_payment_gateway_then_no_link_and_the_assistants_other_words(
    engine: Engine, account_id: int
) -> None:
    ask = SendPaymentLink(Decimal("10"), "Pague aquí:", "Pague en BBVA.")
    said = await DebtorActions().execute(engine, who(account_id), ask, NOW)
    assert said.replies == ("Pague en BBVA.",) and said.problem is not None
