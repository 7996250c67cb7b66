"""The chat service's flow with stand-ins of the assistant and the debtor actions:
the message is evidence first, the actions run, the replies are kept (shown in the
portal, pending for SMS/WhatsApp), and a handover queues the conversation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select
from support.chat_standins import OptOut, StandInActions, StandInAssistant

from selfservice import conversations as conv
from selfservice.chat_service import ChatService, Incoming
from store.db import transaction
from store.models import Account, AuditEntry, CallAttempt, Conversation

NOW = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)
PHONE = "+5215512345678"


@pytest.fixture
def account_id(engine: Engine) -> int:
    with transaction(engine) as s:
        account = Account(external_ref="C-1", debtor_name="Ana Pérez", country="MX",
                          balance=Decimal("1500.00"), currency="MXN")  # fmt: skip
        s.add(account)
        s.flush()
        return account.id


def sms(text: str, account_id: int | None, minutes: int = 0) -> Incoming:
    return Incoming("sms", PHONE, text, NOW + timedelta(minutes=minutes), account_id=account_id)


def test_given_two_misunderstandings_in_a_row_then_handed_over(
    engine: Engine, account_id: int
) -> None:
    pending: list[int] = []
    chat = ChatService(engine, StandInAssistant(), StandInActions(), on_pending=pending.append)
    first = chat.handle(sms("asdf qwer", account_id))
    assert first.state == "bot" and first.handed_over is None
    second = chat.handle(sms("zxcv", account_id, 1))
    assert (second.state, second.handed_over) == ("queued", "misunderstood")
    # Over SMS the replies wait for the chat sender, which is told of each.
    assert [r.status for r in first.replies + second.replies] == ["pending", "pending"]
    assert pending == [r.message_id for r in first.replies + second.replies]
    with transaction(engine) as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.kind == "chat_handover")).one()
        assert entry.subject == f"account:{account_id}"


def test_given_a_dispute_then_handed_over_with_that_reason(engine: Engine, account_id: int) -> None:
    done = ChatService(engine, StandInAssistant(), StandInActions()).handle(
        Incoming("chat", "portal:s1", "yo no debo eso", NOW, account_id=account_id)
    )
    assert (done.state, done.handed_over) == ("queued", "dispute")
    assert [r.status for r in done.replies] == ["shown"]


def test_given_an_action_then_it_runs_for_the_account_and_a_refusal_is_in_the_transcript(
    engine: Engine, account_id: int
) -> None:
    actions = StandInActions(refuse=True)
    done = ChatService(engine, StandInAssistant(), actions).handle(sms("denme de baja", account_id))
    [(who, action)] = actions.done
    assert (who.account_id, who.channel, who.address) == (account_id, "sms", PHONE)
    assert action == OptOut("sms")
    assert done.errors == ("refused",)
    with transaction(engine) as s:
        assert [m["sender"] for m in conv.transcript(s, done.conversation_id)] == [
            "debtor", "system", "assistant"]  # fmt: skip


def test_given_a_number_of_no_known_account_then_no_action_and_no_ledger_row(
    engine: Engine,
) -> None:
    actions = StandInActions()
    done = ChatService(engine, StandInAssistant(), actions).handle(sms("denme de baja", None))
    assert actions.done == [] and done.errors == ("no_account",)
    with transaction(engine) as s:
        assert s.scalars(select(CallAttempt)).all() == []


def test_given_every_debtor_message_then_one_ledger_row_each_never_an_attempt(
    engine: Engine, account_id: int
) -> None:
    chat = ChatService(engine, StandInAssistant(), StandInActions())
    for i, text in enumerate(["hola", "hola otra vez", "asesor"]):
        chat.handle(sms(text, account_id, i))
    with transaction(engine) as s:
        rows = s.scalars(select(CallAttempt)).all()
        assert len(rows) == 3 and {r.direction for r in rows} == {"inbound"}


@pytest.mark.parametrize("text", ["", "   ", "\x00"])
def test_given_an_empty_message_then_refused_and_nothing_stored(
    engine: Engine, account_id: int, text: str
) -> None:
    with pytest.raises(conv.ChatError):
        ChatService(engine, StandInAssistant(), StandInActions()).handle(sms(text, account_id))
    with transaction(engine) as s:
        assert s.scalars(select(Conversation)).all() == []


def test_given_a_long_portal_message_then_refused_and_a_long_sms_is_cut(
    engine: Engine, account_id: int
) -> None:
    chat = ChatService(engine, StandInAssistant(), StandInActions())
    with pytest.raises(conv.ChatError):
        chat.handle(Incoming("chat", "portal:s1", "x" * 1001, NOW, account_id=account_id))
    done = chat.handle(sms("x" * 5000, account_id))
    with transaction(engine) as s:
        assert len(conv.transcript(s, done.conversation_id)[0]["text"]) == conv.MAX_TEXT


def test_given_a_flood_then_the_hour_is_refused(engine: Engine, account_id: int) -> None:
    chat = ChatService(engine, StandInAssistant(), StandInActions())
    for _ in range(conv.MAX_DEBTOR_PER_HOUR):
        chat.handle(sms("hola", account_id))
    with pytest.raises(conv.ChatThrottled):
        chat.handle(sms("hola", account_id))


def test_given_a_full_conversation_then_the_next_message_opens_a_new_one(
    engine: Engine, account_id: int
) -> None:
    chat = ChatService(engine, StandInAssistant(), StandInActions())
    first = chat.handle(sms("hola", account_id))
    with transaction(engine) as s:
        c = s.get(Conversation, first.conversation_id)
        assert c is not None
        c.messages = conv.MAX_MESSAGES
    second = chat.handle(sms("hola", account_id, 1))
    assert second.conversation_id != first.conversation_id


async def test_given_two_messages_at_once_from_one_number_then_one_conversation(
    engine: Engine, account_id: int
) -> None:
    chat = ChatService(engine, StandInAssistant(), StandInActions())
    done = await asyncio.gather(chat.handle_async(sms("hola", account_id)),
                                chat.handle_async(sms("hola", account_id)))  # fmt: skip
    assert done[0].conversation_id == done[1].conversation_id


def test_given_a_message_delivered_twice_by_the_gateway_then_handled_once(
    engine: Engine, account_id: int
) -> None:
    chat = ChatService(engine, StandInAssistant(), StandInActions())
    message = Incoming("whatsapp", PHONE, "hola", NOW, account_id=account_id, provider_id="wamid.1")
    first = chat.handle(message)
    again = chat.handle(message)
    assert again.conversation_id == first.conversation_id and again.replies == ()
    with transaction(engine) as s:
        assert [m["sender"] for m in conv.transcript(s, first.conversation_id)] == [
            "debtor", "assistant"]  # fmt: skip
