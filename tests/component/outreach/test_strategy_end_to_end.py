"""The acceptance story of staged strategies end to end with the gateways' local
stand-ins (our SMSC over SMPP 3.4, the SMTP sink, the local WhatsApp Cloud API server),
compliance's per-channel final check and real SQL and Redis (support/strategy_story.py;
tests/integration/messaging runs it through a real Kannel)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from support.strategy_story import PHONE, run_story

from cobrador.ground.settings import Settings
from outreach.channels.runtime import running_channels
from outreach.opt_outs import opt_out_recorder


async def test_a_strategy_end_to_end_through_the_gateways(
    engine: Engine, aredis: Any, tmp_path: Path
) -> None:
    settings = Settings.from_mapping({
        "data_dir": tmp_path, "sms_gateway": "simulated", "email_gateway": "simulated",
        "whatsapp_gateway": "simulated", "callbacks_port": 0,
    })  # fmt: skip
    async with running_channels(settings, engine, opt_out=opt_out_recorder(engine)) as running:
        smsc, sink = running.simulators.smsc, running.simulators.smtp
        assert smsc is not None and sink is not None
        await running.senders["sms"].transport.client.wait_bound(10)  # type: ignore[attr-defined]
        await run_story(
            engine, aredis, running.senders,
            submitted=lambda: [s.message.text for s in smsc.submitted],
            mails=lambda: [m.rcpt_tos for m in sink.received],
            baja=lambda: smsc.reply(PHONE.removeprefix("+"), "24680", "BAJA"),
        )  # fmt: skip
