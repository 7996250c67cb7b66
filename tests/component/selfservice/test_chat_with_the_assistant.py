"""The chat with the real assistant and debtor actions, as `outreach run` and the
console wire it: a WhatsApp reply asking for an agent is handed over; nothing about
the debt is said before the identity check; the portal's verified session answers
from the account; a stop phrase opts out; the state survives between messages."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select

from cobrador.ground.settings import Settings
from selfservice import conversations as conv
from selfservice.chat_assistant import ChatAssistant
from selfservice.chat_service import Incoming
from selfservice.chat_setup import build_chat, reply_handler, sole_account
from store.db import transaction
from store.models import Account, Campaign, ContactOptOut, Conversation, Phone

# Tuesday 11:00 in Mexico City.
NOW = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
PHONE = "+525512345678"
KEY = base64.b64encode(b"k" * 32).decode()


class FakeRedis:
    async def publish(self, channel: str, message: str) -> int:
        return 0

    def __getattr__(self, name: str) -> Any:  # the hopper's calls: nothing to do here
        async def nothing(*args: Any, **kwargs: Any) -> Any:
            return 0

        return nothing


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
                                    channels="call,sms,whatsapp"))  # fmt: skip
        s.add(account)
        s.flush()
        return int(account.id)


def settings() -> Settings:
    return Settings().with_overrides(portal_identity_key=KEY)


async def test_given_a_whatsapp_reply_asking_for_an_agent_then_handed_over(
    engine: Engine, account_id: int
) -> None:
    chat = build_chat(settings(), engine, FakeRedis())

    class Reply:
        channel, address, text, at = "whatsapp", PHONE, "quiero hablar con un asesor", NOW
        account_id, provider_id = None, "wamid.1"

    await reply_handler(chat, engine)(Reply())
    with transaction(engine) as s:
        c = s.scalars(select(Conversation)).one()
        assert (c.state, c.handover_reason, c.account_id) == ("queued", "agent", account_id)
        said = [m for m in conv.transcript(s, c.id) if m["sender"] == "assistant"]
        assert said and all(m["status"] == "pending" for m in said)  # for the chat sender
        assert "1,500" not in " ".join(m["text"] for m in said)


async def test_given_an_unverified_debtor_asking_the_balance_then_nothing_about_the_debt(
    engine: Engine, account_id: int
) -> None:
    chat = build_chat(settings(), engine, FakeRedis())
    done = await chat.handle_async(
        Incoming("sms", PHONE, "cuanto debo", NOW, account_id=account_id)
    )
    text = " ".join(r.text for r in done.replies)
    assert done.replies and "1,500" not in text and "1500" not in text


async def test_given_the_portals_verified_session_then_the_balance_in_the_accounts_money(
    engine: Engine, account_id: int
) -> None:
    chat = build_chat(settings(), engine, FakeRedis())
    done = await chat.handle_async(Incoming("chat", "portal:s1", "cuanto debo", NOW,
                                            account_id=account_id, verified=True))  # fmt: skip
    assert any("1,500.00" in r.text for r in done.replies), done.replies
    assert all(r.status == "shown" for r in done.replies)
    with transaction(engine) as s:
        c = s.get(Conversation, done.conversation_id)
        assert c is not None and c.dialogue["verified"] is True  # kept for the next message


async def test_given_a_stop_phrase_then_the_channel_is_opted_out(
    engine: Engine, account_id: int
) -> None:
    chat = build_chat(settings(), engine, FakeRedis())
    await chat.handle_async(Incoming("sms", PHONE, "ya no me manden mensajes por favor", NOW,
                                     account_id=account_id))  # fmt: skip
    with transaction(engine) as s:
        # Which channels is the assistant's reading ("mensajes": it stops them all).
        assert "sms" in {r.channel for r in s.scalars(select(ContactOptOut))}


async def test_given_a_wrong_number_and_a_stop_then_opted_out_and_queued_as_a_third_party(
    engine: Engine, account_id: int
) -> None:
    chat = build_chat(settings(), engine, FakeRedis())
    await chat.handle_async(Incoming("whatsapp", PHONE, "numero equivocado, no me escriban mas",
                                     NOW, account_id=account_id))  # fmt: skip
    with transaction(engine) as s:
        assert {r.channel for r in s.scalars(select(ContactOptOut))}  # the stop is kept
        c = s.scalars(select(Conversation)).one()
        assert (c.state, c.handover_reason) == ("queued", "third_party")


async def test_given_news_of_the_debtors_death_then_queued_as_deceased(
    engine: Engine, account_id: int
) -> None:
    chat = build_chat(settings(), engine, FakeRedis())
    await chat.handle_async(Incoming("whatsapp", PHONE, "el fallecio hace dos meses", NOW,
                                     account_id=account_id))  # fmt: skip
    with transaction(engine) as s:
        c = s.scalars(select(Conversation)).one()
        assert (c.state, c.handover_reason) == ("queued", "deceased")


async def test_given_a_promise_amount_unclear_twice_then_queued_for_the_amount(
    engine: Engine, account_id: int
) -> None:
    chat = build_chat(settings(), engine, FakeRedis())
    for text in ("le pago el viernes", "unos 500", "2 mil 3 mil"):
        done = await chat.handle_async(Incoming("chat", "portal:s1", text, NOW,
                                                account_id=account_id, verified=True))  # fmt: skip
    assert "asesor" in " ".join(r.text for r in done.replies)
    with transaction(engine) as s:
        c = s.scalars(select(Conversation)).one()
        assert (c.state, c.handover_reason) == ("queued", "amount")


async def test_given_a_promise_day_unclear_twice_then_queued_for_the_date(
    engine: Engine, account_id: int
) -> None:
    chat = build_chat(settings(), engine, FakeRedis())
    for text in ("me comprometo a pagar", "el otro viernes", "el 12 o 13"):
        done = await chat.handle_async(Incoming("chat", "portal:s1", text, NOW,
                                                account_id=account_id, verified=True))  # fmt: skip
    assert "asesor" in " ".join(r.text for r in done.replies)
    with transaction(engine) as s:
        c = s.scalars(select(Conversation)).one()
        assert (c.state, c.handover_reason) == ("queued", "date")


def test_given_a_state_that_cannot_be_read_then_a_new_unverified_one() -> None:
    bot = ChatAssistant(None)
    assert bot.load({"verified": "yes", "misunderstood": "x" * 9999}, False).verified is False
    state = bot.load({}, True)
    assert state.verified is True and bot.load(bot.dump(state), False).verified is True


def test_given_a_number_two_accounts_share_then_no_account_is_guessed(
    engine: Engine, account_id: int
) -> None:
    assert sole_account(engine, PHONE) == account_id
    with transaction(engine) as s:
        other = Account(external_ref="MX-2", debtor_name="Luis", country="MX", currency="MXN",
                        balance=Decimal("10"))  # fmt: skip
        other.phones.append(Phone(number_e164=PHONE))
        s.add(other)
    assert sole_account(engine, PHONE) is None
    assert sole_account(engine, "+525500000000") is None


def test_given_a_reply_from_a_number_someone_else_answers_then_no_account_is_named(
    engine: Engine, account_id: int
) -> None:
    """The debtor's mother answers the number (marked on another account of her son's):
    her text names no account, so the assistant asks who she is and the contact is not
    written on his debt, as for her call (store.models.matchable_phone)."""
    with transaction(engine) as s:
        card = Account(external_ref="MX-CARD", debtor_name="Luis", country="MX",
                       currency="MXN", balance=Decimal("10"))  # fmt: skip
        card.phones.append(Phone(number_e164="+525587654321", status="third_party"))
        s.add(card)
        s.add(Phone(account_id=account_id, position=2, number_e164="+525587654321"))
        s.add(Account(external_ref="MX-W", debtor_name="Ana", country="MX", currency="MXN",
                      balance=Decimal("10"),
                      phones=[Phone(number_e164="+525511112222", status="wrong_number")]))  # fmt: skip
    assert sole_account(engine, "+525587654321") is None
    assert sole_account(engine, "+525511112222") is None
    with transaction(engine) as s:  # confirmed as the debtor's own there: hers again
        phone = s.scalars(select(Phone).where(Phone.account_id == account_id,
                                              Phone.number_e164 == "+525587654321")).one()  # fmt: skip
        phone.owner_confirmed_ref = "llamada-verificada"
    assert sole_account(engine, "+525587654321") == account_id
