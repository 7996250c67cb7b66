"""SMS through a real Kannel (Debian's bearerbox + smsbox) bound over SMPP 3.4 to the
SMSC the test runs: a message submitted, its delivery receipt making the attempt
`delivered`, an undeliverable one `failed`, a refused one `failed`, and the debtor's
"BAJA" reaching the opt-out, once more when recording it failed the first time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from sqlalchemy import Engine, select
from support.kannel import running_kannel
from support.messaging import Note, attempt_row, message_attempt
from support.polling import until
from support.ports import free_port

from compliance.service import ComplianceService
from gateways.kannel import KannelSettings, mo_get_url
from gateways.smpp.codec import Status
from gateways.smpp.smsc import SmscSimulator
from outreach.channels import Reply
from outreach.channels.callbacks import init_app
from outreach.channels.delivery import DeliveryBook
from outreach.channels.message_channel import MessageChannel
from outreach.channels.sms_kannel import KannelTransport, kannel_sms_channel
from outreach.opt_outs import opt_out_recorder
from store.db import transaction
from store.models import Account, ContactChannel, Phone

PHONE = "+525512345678"
UNDELIVERABLE = "+525500000000"
REFUSED = "+525599999999"
TOKEN = "callback-token-for-tests"


@dataclass
class OptOuts:
    replies: list[Reply] = field(default_factory=list)
    fail_next: int = 0

    async def __call__(self, reply: Reply) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("opt-out store down")
        self.replies.append(reply)


@dataclass
class Gateway:
    smsc: SmscSimulator
    channel: MessageChannel
    opt_outs: OptOuts


def fate(destination: str) -> tuple[str, str]:
    return ("UNDELIV", "011") if destination.endswith("0000") else ("DELIVRD", "000")


def refuse(destination: str) -> int:
    return Status.invalid_destination_address if destination.endswith("9999") else Status.ok


@pytest.fixture
async def gateway(engine: Engine, tmp_path: Path) -> AsyncIterator[Gateway]:
    smsc = SmscSimulator({"kannel": "smpp-pw"}, fate=fate, refuse=refuse)
    await smsc.start()
    callback_port = free_port()
    base = f"http://127.0.0.1:{callback_port}"
    with running_kannel(tmp_path, smsc_port=smsc.port, smsc_username="kannel",
                        smsc_password="smpp-pw", mo_url=mo_get_url(base, TOKEN)) as boxes:  # fmt: skip
        settings = KannelSettings(f"http://127.0.0.1:{boxes.sendsms_port}/cgi-bin/sendsms",
                                  boxes.sendsms_username, boxes.sendsms_password, base, TOKEN)  # fmt: skip
        opt_outs = OptOuts()
        channel = kannel_sms_channel(settings, DeliveryBook(engine), opt_out=opt_outs)
        transport = channel.transport
        assert isinstance(transport, KannelTransport)
        runner = web.AppRunner(init_app(kannel=transport))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", callback_port).start()
        try:
            await until(
                lambda: smsc.bound(receiving=True) == ["kannel"], "Kannel bound to the SMSC"
            )
            yield Gateway(smsc, channel, opt_outs)
        finally:
            await transport.close()
            await runner.cleanup()
            await smsc.stop()


async def test_given_kannel_when_an_sms_is_sent_then_the_smsc_gets_it_and_the_receipt_makes_it_delivered(
    gateway: Gateway, engine: Engine
) -> None:
    attempt = message_attempt(engine, ContactChannel.sms, PHONE, sender="COBRANZA")
    reference = await gateway.channel.send(Note(attempt, "Señor, tiene un aviso."))
    assert reference and reference.startswith(f"{attempt.attempt_id}-")
    await until(lambda: gateway.smsc.submitted, "the SMSC received the submit_sm")
    submitted = gateway.smsc.submitted[0].message
    assert (submitted.destination.removeprefix("+"), submitted.text) == (
        "525512345678",
        "Señor, tiene un aviso.",
    )
    await until(lambda: attempt_row(engine, attempt.attempt_id).result == "delivered",
                lambda: f"delivered; row says {attempt_row(engine, attempt.attempt_id).result}")  # fmt: skip
    row = attempt_row(engine, attempt.attempt_id)
    assert row.uniqueid == reference and row.ended_at is not None


async def test_given_an_undeliverable_number_then_the_attempt_fails_with_the_carriers_error(
    gateway: Gateway, engine: Engine
) -> None:
    attempt = message_attempt(engine, ContactChannel.sms, UNDELIVERABLE)
    await gateway.channel.send(Note(attempt, "Aviso"))
    await until(lambda: attempt_row(engine, attempt.attempt_id).result == "failed", "failed")
    assert attempt_row(engine, attempt.attempt_id).details["error"] == "UNDELIV err:011"


async def test_given_the_smsc_refuses_the_submit_then_the_attempt_fails(
    gateway: Gateway, engine: Engine
) -> None:
    attempt = message_attempt(engine, ContactChannel.sms, REFUSED)
    await gateway.channel.send(Note(attempt, "Aviso"))
    await until(lambda: attempt_row(engine, attempt.attempt_id).result == "failed", "failed")


async def test_given_a_baja_reply_through_kannel_then_the_opt_out_gets_it_for_that_attempt(
    gateway: Gateway, engine: Engine
) -> None:
    attempt = message_attempt(engine, ContactChannel.sms, PHONE)
    await gateway.channel.send(Note(attempt, "Aviso"))
    await until(lambda: attempt_row(engine, attempt.attempt_id).result == "delivered", "delivered")
    assert await gateway.smsc.reply("525512345678", "24680", "BAJA") == Status.ok
    await until(lambda: gateway.opt_outs.replies, "the opt-out called")
    [reply] = gateway.opt_outs.replies
    assert (reply.address, reply.text, reply.attempt_id) == (PHONE, "BAJA", attempt.attempt_id)
    assert attempt_row(engine, attempt.attempt_id).result == "replied"


async def test_given_the_opt_out_fails_once_then_kannel_asks_again_and_it_is_recorded(
    gateway: Gateway, engine: Engine
) -> None:
    message_attempt(engine, ContactChannel.sms, PHONE)
    gateway.opt_outs.fail_next = 1
    assert await gateway.smsc.reply("525512345678", "24680", "Stop") == Status.ok
    await until(lambda: gateway.opt_outs.replies, "the opt-out called on Kannel's retry")
    assert [r.text for r in gateway.opt_outs.replies] == ["Stop"]


async def test_given_baja_through_kannel_with_the_real_opt_out_then_the_next_sms_to_that_number_is_refused(
    engine: Engine, tmp_path: Path, aredis: aioredis.Redis
) -> None:
    """Acceptance: a "BAJA" reply stops SMS to that number at once (issue 24), through
    the real gateway, the recorder `cobrador outreach run` uses and the final check's rules."""
    with transaction(engine) as s:
        account = Account(external_ref="BAJA-1", debtor_name="Juana Pérez", country="MX",
                          region="CMX", balance=Decimal("900.00"), currency="MXN")  # fmt: skip
        account.phones.append(Phone(position=1, number_e164=PHONE, phone_type="mobile", consent=True,
                                    consent_ref="form-1", channels="call,sms"))  # fmt: skip
        s.add(account)
        s.flush()
        account_id = account.id
    compliance = ComplianceService(engine, aredis)
    noon_mexico_city = datetime(2026, 1, 13, 18, 0, tzinfo=UTC)  # a Tuesday

    async def sms_reasons() -> tuple[str, ...]:
        with transaction(engine) as s:
            item = compliance.load_item(s, account_id=account_id, channel="sms", phone_e164=PHONE)
        [decision] = await compliance.evaluate_batch([item], noon_mexico_city)
        return decision.reasons

    assert "opted_out" not in await sms_reasons()
    smsc = SmscSimulator({"kannel": "smpp-pw"})
    await smsc.start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running_kannel(tmp_path, smsc_port=smsc.port, smsc_username="kannel",
                        smsc_password="smpp-pw", mo_url=mo_get_url(base, TOKEN)) as boxes:  # fmt: skip
        settings = KannelSettings(f"http://127.0.0.1:{boxes.sendsms_port}/cgi-bin/sendsms",
                                  boxes.sendsms_username, boxes.sendsms_password, base, TOKEN)  # fmt: skip
        channel = kannel_sms_channel(
            settings, DeliveryBook(engine), opt_out=opt_out_recorder(engine)
        )
        assert isinstance(channel.transport, KannelTransport)
        runner = web.AppRunner(init_app(kannel=channel.transport))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            await until(lambda: smsc.bound(receiving=True) == ["kannel"], "Kannel bound")
            attempt = message_attempt(engine, ContactChannel.sms, PHONE, account_id=account_id)
            await channel.send(Note(attempt, "Aviso"))
            await until(
                lambda: attempt_row(engine, attempt.attempt_id).result == "delivered", "delivered"
            )
            assert await smsc.reply("525512345678", "24680", "BAJA") == Status.ok
            await until(
                lambda: attempt_row(engine, attempt.attempt_id).result == "replied", "replied"
            )
        finally:
            await channel.transport.close()
            await runner.cleanup()
            await smsc.stop()
    assert "opted_out" in await sms_reasons()
    with transaction(engine) as s:
        phone = s.scalars(select(Phone).where(Phone.account_id == account_id)).one()
        assert "sms" in phone.opted_out.split(",")
