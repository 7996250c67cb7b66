"""`cobrador outreach run` runs the chat with its channels: the CLI registers it, SMS and
WhatsApp replies reach it while the channels run, and nothing once they stop."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy import Engine

from cobrador.chat_wiring import chat_alongside_channels
from cobrador.cli import build_parser
from cobrador.ground.settings import Settings
from compliance.service import ComplianceService
from outreach.commands import WITH_CHANNELS


class Channel:
    on_message: Any = None

    async def send(self, message: Any) -> str:
        return "prov-1"


@dataclass
class Running:
    senders: dict[str, Any] = field(default_factory=dict)


def test_given_the_cli_then_the_chat_runs_with_outreach_run() -> None:
    build_parser()
    assert chat_alongside_channels in WITH_CHANNELS
    build_parser()
    assert WITH_CHANNELS.count(chat_alongside_channels) == 1


async def test_given_running_channels_then_replies_reach_the_chat_until_they_stop(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    sms, whatsapp, email = Channel(), Channel(), Channel()
    running = Running({"sms": sms, "whatsapp": whatsapp, "email": email})
    settings = Settings().with_overrides(portal_identity_key=base64.b64encode(b"k" * 32).decode())
    async with chat_alongside_channels(settings, engine, aredis,
                                       ComplianceService(engine, aredis), running):  # fmt: skip
        assert sms.on_message is not None and whatsapp.on_message is not None
        assert email.on_message is None  # e-mail replies are not a chat
    assert sms.on_message is None and whatsapp.on_message is None
