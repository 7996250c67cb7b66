"""The chat sender on real SQL and Redis: a pending reply goes out over its channel
only through the final check (recorded as a decision), as part of the debtor's own
contact; refused, it is held with the reasons; it is never sent twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy import Engine, select

from compliance.service import ComplianceService
from console.timeline import timeline_for
from selfservice import conversations as conv
from selfservice.chat_sender import ChatSender, pending_ids
from store.db import transaction
from store.models import Account, CallAttempt, Campaign, ConversationMessage, Decision, Phone

# Tuesday 12:00 in Lima: inside Peru's weekday window (07:00-20:00).
NOW = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
PHONE = "+51987654321"


class FakeChannel:
    def __init__(self, fail: Exception | None = None) -> None:
        self.sent: list[Any] = []
        self.fail = fail

    async def send(self, message: Any) -> str:
        if self.fail is not None:
            raise self.fail
        self.sent.append(message)
        return f"prov-{len(self.sent)}"


def seed(engine: Engine, *, opted_out: str = "", status: str = "active") -> int:
    with transaction(engine) as s:
        campaign = Campaign(name="peru", country="PE", profile="PE", status="running",
                            config={"messages": {"sms_sender": "COBRA"}})  # fmt: skip
        s.add(campaign)
        s.flush()
        account = Account(external_ref="PE-1", debtor_name="Rosa Quispe", country="PE",
                          timezone="America/Lima", balance=Decimal("900.00"), currency="PEN",
                          campaign_id=campaign.id, status=status)  # fmt: skip
        account.phones.append(Phone(number_e164=PHONE, consent=True, consent_ref="contrato-1",
                                    phone_type="mobile", channels="call,sms,whatsapp",
                                    opted_out=opted_out))  # fmt: skip
        s.add(account)
        s.flush()
        return int(account.id)


def pending_reply(engine: Engine, account_id: int | None, channel: str = "sms",
                  text: str = "Su saldo es S/ 900.00") -> int:  # fmt: skip
    with transaction(engine) as s:
        c = conv.open_conversation(s, channel, PHONE, NOW, account_id=account_id)
        conv.add_message(s, c, "debtor", "cuanto debo", NOW, status="received")
        return int(conv.add_message(s, c, "assistant", text, NOW, status="pending").id)


def message(engine: Engine, mid: int) -> ConversationMessage:
    with transaction(engine) as s:
        row = s.get(ConversationMessage, mid)
        assert row is not None
        return row


def sender(engine: Engine, aredis: aioredis.Redis, channel: FakeChannel,
           now: datetime = NOW) -> ChatSender:  # fmt: skip
    return ChatSender(engine, ComplianceService(engine, aredis), {"sms": channel}, lambda: now)


async def test_given_a_pending_sms_reply_inside_the_window_then_sent_once_through_the_check(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    mid = pending_reply(engine, seed(engine))
    channel = FakeChannel()
    chat = sender(engine, aredis, channel)
    assert await chat.send_pending() == 1
    [out] = channel.sent
    assert (out.text, out.attempt.address, out.attempt.sender) == (
        "Su saldo es S/ 900.00",
        PHONE,
        "COBRA",
    )
    row = message(engine, mid)
    assert (row.status, row.provider_id) == ("sent", "prov-1")
    with transaction(engine) as s:
        attempt = s.get(CallAttempt, out.attempt.attempt_id)
        assert attempt is not None
        # Part of the debtor's own contact: inbound, never an attempt for the caps.
        assert (attempt.direction, attempt.channel, attempt.source) == ("inbound", "sms", "chat")
        decision = s.get(Decision, attempt.decision_id)
        assert decision is not None and decision.allowed and decision.stage == "chat_reply"
    [entry] = [e for e in timeline_for(engine, out.attempt.account_id) if e["what"]]
    assert (entry["what"], entry["direction"]) == ("Respuesta en la conversación", "Entrante")
    assert await chat.send_pending() == 0 and len(channel.sent) == 1  # never twice
    assert await chat.send_one(mid) is None


@pytest.mark.parametrize(
    ("kwargs", "hours", "reason"),
    [
        ({"opted_out": "sms"}, 0, "opt"),  # the debtor stopped SMS on this number
        ({"status": "disputed"}, 0, "disputed"),  # the debtor disputed the debt
        ({}, 10, "outside_hours"),  # 22:00 in Lima
        # 19:50 in Lima: it could still be reaching the debtor at 20:05 (MESSAGE_REACH).
        ({}, 7 + 50 / 60, "outside_hours"),
    ],
)
async def test_given_the_final_check_refuses_then_the_reply_is_held_with_the_reason(
    engine: Engine, aredis: aioredis.Redis, kwargs: dict[str, str], hours: float, reason: str
) -> None:
    mid = pending_reply(engine, seed(engine, **kwargs))
    channel = FakeChannel()
    assert await sender(engine, aredis, channel, NOW + timedelta(hours=hours)).send_pending() == 0
    assert channel.sent == []
    row = message(engine, mid)
    assert row.status == "held" and reason in (row.detail or "")
    with transaction(engine) as s:
        assert s.scalars(select(CallAttempt)).all() == []
        assert [d.allowed for d in s.scalars(select(Decision))] == [False]


async def test_given_no_account_then_held_and_nothing_checked(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    mid = pending_reply(engine, None)
    assert await sender(engine, aredis, FakeChannel()).send_pending() == 0
    assert (message(engine, mid).status, message(engine, mid).detail) == ("held", "no_account")


async def test_given_no_channel_running_then_failed(engine: Engine, aredis: aioredis.Redis) -> None:
    mid = pending_reply(engine, seed(engine), channel="whatsapp")
    await sender(engine, aredis, FakeChannel()).send_pending()
    assert message(engine, mid).status == "failed"


async def test_given_the_gateway_refuses_then_failed_with_its_words(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    mid = pending_reply(engine, seed(engine))
    await sender(engine, aredis, FakeChannel(RuntimeError("HTTP 400 bad number"))).send_pending()
    row = message(engine, mid)
    assert (row.status, row.detail) == ("failed", "HTTP 400 bad number")


async def test_given_portal_replies_then_the_sender_never_sees_them(engine: Engine) -> None:
    with transaction(engine) as s:
        c = conv.open_conversation(s, "chat", "portal:1", NOW)
        conv.add_message(s, c, "assistant", "hola", NOW, status="shown")
    assert pending_ids(engine) == []
