"""The channels a process runs from its settings: all three simulated (as in the demo)
send, get their statuses and take a "BAJA"; a real gateway without its settings, or
an unknown one, is a UserError naming what to set."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import Engine
from support.messaging import Note, attempt_row, message_attempt, new_account
from support.polling import until

from cobrador.ground.errors import UserError
from cobrador.ground.settings import Settings
from outreach.channels import Reply
from outreach.channels.runtime import running_channels
from outreach.channels.sms_kannel import KannelTransport
from store.models import ContactChannel


def simulated(tmp_path: Path, **extra: object) -> Settings:
    values: dict[str, object] = {"data_dir": tmp_path, "sms_gateway": "simulated",
                                 "email_gateway": "simulated", "whatsapp_gateway": "simulated",
                                 "callbacks_port": 0}  # fmt: skip
    values.update(extra)
    return Settings.from_mapping(values)


async def test_given_simulated_gateways_then_every_channel_sends_and_hears_back(
    engine: Engine, tmp_path: Path
) -> None:
    replies: list[Reply] = []

    async def opt_out(reply: Reply) -> None:
        replies.append(reply)

    async with running_channels(simulated(tmp_path), engine, opt_out=opt_out) as running:
        assert sorted(running.senders) == ["email", "sms", "whatsapp"]
        sms = message_attempt(engine, ContactChannel.sms, "+525512345678", sender="COBRANZA")
        failing = message_attempt(engine, ContactChannel.sms, "+525500000000")
        bouncing = "Rebota@Correo.example"
        mail = message_attempt(engine, ContactChannel.email, bouncing,
                               account_id=new_account(engine, email=bouncing))  # fmt: skip
        wa = message_attempt(engine, ContactChannel.whatsapp, "+525512340001")
        await running.senders["sms"].transport.client.wait_bound(10)  # type: ignore[attr-defined]
        await running.senders["sms"].send(Note(sms, "Aviso"))
        await running.senders["sms"].send(Note(failing, "Aviso"))
        await running.senders["email"].send(Note(mail, "Aviso", subject="Aviso"))
        await running.senders["whatsapp"].send(Note(wa, "x", template="recordatorio"))
        await until(lambda: [attempt_row(engine, a.attempt_id).result for a in (sms, failing, mail, wa)]
                    == ["delivered", "failed", "failed", "read"], "every status")  # fmt: skip
        smsc = running.simulators.smsc
        assert smsc is not None
        await smsc.reply("525512345678", "24680", "BAJA")
        assert [(r.channel, r.attempt_id) for r in replies] == [
            (ContactChannel.sms, sms.attempt_id)
        ]


@pytest.mark.parametrize(
    "values, missing",
    [
        (
            {"sms_gateway": "smpp"},
            "COBRADOR_SMPP_HOST, COBRADOR_SMPP_SYSTEM_ID, COBRADOR_SMPP_PASSWORD",
        ),
        ({"sms_gateway": "kannel", "kannel_sendsms_url": "http://k"}, "COBRADOR_KANNEL_USERNAME"),
        (
            {"email_gateway": "smtp", "smtp_host": "relay"},
            "COBRADOR_EMAIL_FROM, COBRADOR_EMAIL_BOUNCE_ADDRESS",
        ),
        (
            {"whatsapp_gateway": "cloud_api", "whatsapp_phone_number_id": "1"},
            "COBRADOR_WHATSAPP_ACCESS_TOKEN",
        ),
        (
            {
                "sms_gateway": "kannel",
                "kannel_sendsms_url": "http://k",
                "kannel_username": "u",
                "kannel_password": "p",
                "callbacks_token": "kannel123",
            },
            "COBRADOR_CALLBACKS_TOKEN must be 16 characters or more",
        ),  # fmt: skip
        ({"sms_gateway": "twilio"}, "sms_gateway 'twilio': use smpp, kannel or simulated"),
        ({"email_gateway": "sendgrid"}, "email_gateway 'sendgrid'"),
        ({"whatsapp_gateway": "yes"}, "whatsapp_gateway 'yes'"),
        ({"letter_gateway": "fedex"}, "letter_gateway 'fedex': use mailroom"),
    ],
)
async def test_given_a_gateway_without_its_settings_then_a_user_error_naming_them(
    engine: Engine, tmp_path: Path, values: dict[str, str], missing: str
) -> None:
    async def opt_out(reply: Reply) -> None:
        raise AssertionError("no reply expected")

    settings = Settings.from_mapping({"data_dir": tmp_path, "callbacks_port": 0, **values})
    with pytest.raises(UserError, match=missing):
        async with running_channels(settings, engine, opt_out=opt_out):
            pass


async def test_given_the_mailroom_then_a_letter_sender_writing_under_letters_dir(
    engine: Engine, tmp_path: Path
) -> None:
    async def opt_out(reply: Reply) -> None:
        raise AssertionError("no reply expected")

    settings = Settings.from_mapping({"data_dir": tmp_path, "letter_gateway": "mailroom"})
    async with running_channels(settings, engine, opt_out=opt_out) as running:
        attempt = message_attempt(engine, ContactChannel.letter, "Calle 1, Lima")
        await running.senders["letter"].send(Note(attempt, "Aviso"))
    assert Path(attempt_row(engine, attempt.attempt_id).details["pdf"]).is_relative_to(
        tmp_path / "letters"
    )


async def test_given_no_gateway_then_no_senders(engine: Engine, tmp_path: Path) -> None:
    async def opt_out(reply: Reply) -> None:
        raise AssertionError("no reply expected")

    async with running_channels(Settings(data_dir=tmp_path), engine, opt_out=opt_out) as running:
        assert running.senders == {} and running.callbacks_url == ""


async def test_given_no_callbacks_token_when_restarted_on_the_data_dir_then_an_earlier_report_is_taken(
    engine: Engine, tmp_path: Path
) -> None:
    dlr_urls: list[str] = []

    async def sendsms(request: web.Request) -> web.Response:
        dlr_urls.append(request.query["dlr-url"])
        return web.Response(status=202, text="0: Accepted for delivery")

    async def opt_out(reply: Reply) -> None:
        raise AssertionError("no reply expected")

    app = web.Application()
    app.router.add_get("/cgi-bin/sendsms", sendsms)
    async with TestServer(app) as kannel:
        settings = Settings.from_mapping({"data_dir": tmp_path, "callbacks_port": 0,
                                          "sms_gateway": "kannel", "kannel_username": "u",
                                          "kannel_password": "p",
                                          "kannel_sendsms_url": str(kannel.make_url("/cgi-bin/sendsms"))})  # fmt: skip
        attempt = message_attempt(engine, ContactChannel.sms, "+525512345678")
        async with running_channels(settings, engine, opt_out=opt_out) as running:
            await running.senders["sms"].send(Note(attempt, "Aviso"))
        kept = tmp_path / "callbacks-token"
        assert kept.stat().st_mode & 0o777 == 0o600
        token = kept.read_text().strip()
        assert len(token) >= 16 and f"token={token}" in dlr_urls[0]
        # The restart: a new listener, the token read back; the report sent before it.
        async with running_channels(settings, engine, opt_out=opt_out) as running:
            path = dlr_urls[0].split("/kannel/dlr", 1)[1].replace("%d", "1").replace("%A", "")
            url = f"{running.callbacks_url}/kannel/dlr{path}"
            async with aiohttp.ClientSession() as session, session.get(url) as response:
                assert response.status == 200, await response.text()
        assert attempt_row(engine, attempt.attempt_id).result == "delivered"


async def test_given_a_callbacks_token_in_settings_then_it_wins_over_the_kept_one(
    engine: Engine, tmp_path: Path
) -> None:
    async def opt_out(reply: Reply) -> None:
        raise AssertionError("no reply expected")

    (tmp_path / "callbacks-token").write_text("k" * 24)
    settings = Settings.from_mapping({"data_dir": tmp_path, "callbacks_port": 0,
                                      "sms_gateway": "kannel", "kannel_username": "u",
                                      "kannel_password": "p", "kannel_sendsms_url": "http://k",
                                      "callbacks_token": "s" * 24})  # fmt: skip
    async with running_channels(settings, engine, opt_out=opt_out) as running:
        transport = running.senders["sms"].transport
        assert isinstance(transport, KannelTransport)
        assert transport.settings.callback_token == "s" * 24
