"""`cobrador outreach run`'s /metrics: opt in with outreach_metrics_port (docker-compose
scrapes it), the strategy messages sent and failed per channel as Prometheus reads
them; a bad or busy port stops the process with its reason."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, update
from support.polling import until
from support.ports import free_port
from support.strategy_story import LATE_PHONE, T0, seed

from cobrador.ground.errors import UserError
from cobrador.ground.settings import Settings, SettingsError
from compliance.service import ComplianceService
from outreach.checks import ConsentedAddresses, EngineCheck
from outreach.commands import _serve, metrics_listener
from outreach.outgoing import OutgoingMessage, SendRefused
from outreach.scheduler import Scheduler
from store.db import transaction
from store.models import Account

MESSAGES = "cobrador_outreach_messages"  # the parser drops the counter's _total


async def scrape(port: int) -> str | None:
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/metrics") as resp,
        ):
            return await resp.text() if resp.status == 200 else None
    except aiohttp.ClientError:
        return None


def sent(text: str, channel: str, result: str) -> float:
    """cobrador_outreach_messages_total of campaign peru, `channel`, `result`."""
    for family in text_string_to_metric_families(text):
        if family.name == MESSAGES:
            for sample in family.samples:
                if sample.labels == {"campaign": "peru", "channel": channel, "result": result}:
                    return sample.value
    return 0.0


@dataclass
class Sms:
    """An SMS gateway that refuses one number (a provider's rejection)."""

    refuses: str
    kind: str = "sms"
    texts: list[str] = field(default_factory=list)

    async def send(self, message: OutgoingMessage) -> str | None:
        if message.attempt.address == self.refuses:
            raise SendRefused("rejected by the provider")
        self.texts.append(message.text)
        return f"id-{len(self.texts)}"


async def test_given_a_metrics_port_when_outreach_runs_then_prometheus_reads_its_counters(
    settings: Settings, engine: Engine, redis_url: str
) -> None:
    port = free_port()
    stop = asyncio.Event()
    service = asyncio.create_task(
        _serve(
            settings.with_overrides(outreach_metrics_port=port),
            engine,
            redis_url,
            b"L" * 32,
            False,
            0.2,
            stop=stop,
        )  # fmt: skip
    )
    try:
        await until(lambda: scrape(port), "outreach /metrics served")
        text = await scrape(port)
        assert text is not None
        assert f"# TYPE {MESSAGES}_total counter" in text or f"# TYPE {MESSAGES} counter" in text
        # Its own metrics only: none of the dialer's or the console's read as zero here
        # (an Asterisk link 'down', calls at zero beside the dialer's real ones).
        served = {f.name for f in text_string_to_metric_families(text)}
        assert {"cobrador_ami_up", "cobrador_calls_placed", "cobrador_floor_agents",
                "cobrador_screen_pop_latency_seconds"}.isdisjoint(served)  # fmt: skip
        assert "cobrador_registry_loaded_up" in served  # its own compliance engine's
    finally:
        stop.set()
        await asyncio.wait_for(service, 30)
    assert await scrape(port) is None  # the listener ends with the process


async def test_given_one_sms_sent_and_one_refused_when_scraped_then_sent_and_failed_per_channel(
    settings: Settings, engine: Engine, aredis: Any
) -> None:
    account_id, late_id = seed(engine)
    with transaction(engine) as s:  # both accounts' day-0 SMS due at T0
        s.execute(update(Account).where(Account.id == late_id).values(stage_entered_at=T0))
    gateway = Sms(refuses=LATE_PHONE)
    scheduler = Scheduler(engine, EngineCheck(engine, ComplianceService(engine, aredis)),
                          {"sms": gateway}, ConsentedAddresses(), link_secret=b"L" * 32)  # fmt: skip
    port = free_port()
    async with metrics_listener(settings.with_overrides(outreach_metrics_port=port)) as server:
        assert server is not None and server.port == port
        before = await scrape(port)
        assert before is not None
        await scheduler.run_once(T0)
        after = await scrape(port)
        assert after is not None
    assert len(gateway.texts) == 1
    assert sent(after, "sms", "sent") - sent(before, "sms", "sent") == 1
    assert sent(after, "sms", "failed") - sent(before, "sms", "failed") == 1


async def test_given_no_metrics_port_when_outreach_runs_then_no_listener(
    settings: Settings,
) -> None:
    assert settings.outreach_metrics_port == 0  # opt in
    async with metrics_listener(settings) as server:
        assert server is None


@pytest.mark.parametrize("port", [-1, 65536])
async def test_given_a_port_out_of_range_then_the_settings_refuse_it_naming_the_setting(
    settings: Settings, port: int
) -> None:
    """Refused when the settings are built (cobrador/ground/setting_bounds.py), before
    any listener is tried."""
    with pytest.raises(SettingsError, match="'outreach_metrics_port'.*0 \\(no /metrics"):
        settings.with_overrides(outreach_metrics_port=port)


async def test_given_a_busy_port_then_a_user_error_naming_the_setting(settings: Settings) -> None:
    with contextlib.closing(socket.socket()) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UserError, match=f"127.0.0.1:{port}.*COBRADOR_OUTREACH_METRICS_PORT"):
            async with metrics_listener(settings.with_overrides(outreach_metrics_port=port)):
                pass
