"""The acceptance story of staged strategies (support/strategy_story.py) with SMS through
a real Kannel (Debian's bearerbox + smsbox) bound over SMPP 3.4 to the SMSC the test
runs, e-mail through our SMTP sender to the aiosmtpd sink, WhatsApp to the local Cloud
API server: day-0 SMS, 21:59 Lima waits, a promise confirmed, a broken promise's next
step, the day-5 call to the hopper, and a BAJA through Kannel stopping SMS at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import Engine
from support.kannel import running_kannel
from support.polling import until
from support.ports import free_port
from support.strategy_story import PHONE, run_story

from cobrador.ground.settings import Settings
from gateways.kannel import KannelSettings, mo_get_url
from gateways.smpp.smsc import SmscSimulator
from outreach.channels.callbacks import init_app
from outreach.channels.delivery import DeliveryBook
from outreach.channels.runtime import running_channels
from outreach.channels.sms_kannel import KannelTransport, kannel_sms_channel
from outreach.opt_outs import opt_out_recorder

TOKEN = "strategy-callback-token"


def fate(destination: str) -> tuple[str, str]:
    return ("UNDELIV", "011") if destination.endswith("0000") else ("DELIVRD", "000")


async def test_a_strategy_end_to_end_through_kannel_smtp_and_the_cloud_api(
    engine: Engine, aredis: Any, tmp_path: Path
) -> None:
    smsc = SmscSimulator({"kannel": "smpp-pw"}, fate=fate)
    await smsc.start()
    callback_port = free_port()
    base = f"http://127.0.0.1:{callback_port}"
    opt_out = opt_out_recorder(engine)
    settings = Settings.from_mapping({"data_dir": tmp_path / "data", "email_gateway": "simulated",
                                      "whatsapp_gateway": "simulated", "callbacks_port": 0})  # fmt: skip
    try:
        with running_kannel(tmp_path, smsc_port=smsc.port, smsc_username="kannel",
                            smsc_password="smpp-pw", mo_url=mo_get_url(base, TOKEN)) as boxes:  # fmt: skip
            kannel = KannelSettings(f"http://127.0.0.1:{boxes.sendsms_port}/cgi-bin/sendsms",
                                    boxes.sendsms_username, boxes.sendsms_password, base, TOKEN)  # fmt: skip
            sms = kannel_sms_channel(kannel, DeliveryBook(engine), opt_out=opt_out)
            transport = sms.transport
            assert isinstance(transport, KannelTransport)
            runner = web.AppRunner(init_app(kannel=transport))
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", callback_port).start()
            try:
                await until(lambda: smsc.bound(receiving=True) == ["kannel"], "Kannel bound")
                async with running_channels(settings, engine, opt_out=opt_out) as running:
                    sink = running.simulators.smtp
                    assert sink is not None
                    await run_story(
                        engine, aredis, {**running.senders, "sms": sms},
                        submitted=lambda: [s.message.text for s in smsc.submitted],
                        mails=lambda: [m.rcpt_tos for m in sink.received],
                        baja=lambda: smsc.reply(PHONE.removeprefix("+"), "24680", "BAJA"),
                    )  # fmt: skip
            finally:
                await transport.close()
                await runner.cleanup()
    finally:
        await smsc.stop()
