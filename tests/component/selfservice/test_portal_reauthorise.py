"""A debtor authorises again, from the portal, a channel they stopped there: their
own opt-out is lifted with the request as evidence, the final check and the strategy
pass again; what the portal did not stop (a registry, an agent's or the operator's
stop, a legal status) stays."""

from __future__ import annotations

import json
import tomllib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from support.dialer_floor import load_reus
from support.selfservice_seed import LINK_SECRET, NOW, PHONE, RULES, PortalSeed, seed_portal

from compliance.opt_outs import record_opt_out
from compliance.service import ComplianceService
from console.timeline import timeline_for
from outreach.checks import ConsentedAddresses, EngineCheck
from outreach.outgoing import OutgoingMessage
from outreach.scheduler import Scheduler
from selfservice import debtor_actions as da
from store.db import transaction
from store.models import Account, AuditEntry, CallAttempt, Campaign, ContactOptOut, OutreachStep

# The seed's strategy and a third SMS on day 2: one blocked by the opt-out, one after.
STRATEGY = tomllib.loads(RULES)
STRATEGY["strategy"]["stages"]["friendly"]["steps"].append(
    {"day": 2, "channel": "sms", "template": "recordatorio"}
)


@pytest.fixture
def seeded(engine: Engine) -> PortalSeed:
    seed = seed_portal(engine, stage_entered_at=NOW - timedelta(days=1))
    with transaction(engine) as s:
        campaign = s.get(Campaign, seed.campaign_id)
        assert campaign is not None
        campaign.config = STRATEGY
    return seed


def reus(engine: Engine, redis_url: str, tmp_path: Path, listed: list[str]) -> None:
    load_reus(engine, redis_url, tmp_path, listed, NOW)  # MX checks REUS before every contact


def debtor(seed: PortalSeed, via: str = "portal") -> da.Debtor:
    return da.Debtor(seed.account_id, via, address=PHONE if via in ("sms", "whatsapp") else None,
                     session="s-1", client="203.0.113.9")  # fmt: skip


async def reasons(engine: Engine, redis: aioredis.Redis, account_id: int, channel: str,
                  at: datetime = NOW) -> tuple[str, ...]:  # fmt: skip
    service = ComplianceService(engine, redis)
    with Session(engine) as s:
        item = service.load_item(s, account_id=account_id, phone_e164=PHONE, channel=channel)
    [decision] = await service.evaluate_batch([item], at)
    return tuple(decision.reasons)


def count(engine: Engine, model: Any) -> int:
    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


class Outbox:
    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    async def send(self, message: OutgoingMessage) -> str | None:
        self.sent.append(message)
        return f"sms-{len(self.sent)}"


async def run_strategy(engine: Engine, redis: aioredis.Redis, at: datetime) -> list[str]:
    """One pass of the strategy at `at`; the numbers it sent an SMS to."""
    outbox = Outbox()
    scheduler = Scheduler(engine, EngineCheck(engine, ComplianceService(engine, redis)),
                          {"sms": outbox}, ConsentedAddresses(), link_secret=LINK_SECRET,
                          clock=lambda: at)  # fmt: skip
    await scheduler.run_once(at)
    return [str(m.attempt.address) for m in outbox.sent]


async def test_given_an_sms_opt_out_when_reauthorised_then_the_strategys_next_sms_goes_out(
    engine: Engine, aredis: aioredis.Redis, redis_url: str, seeded: PortalSeed, tmp_path: Path
) -> None:
    reus(engine, redis_url, tmp_path, [])
    da.opt_out(engine, debtor(seeded), "sms", NOW, "no quiero mensajes")
    assert PHONE not in await run_strategy(engine, aredis, NOW)  # day 1: blocked

    result = da.opt_in(engine, debtor(seeded), "sms", NOW + timedelta(hours=2), "ya pueden")

    assert "opted_out" not in await reasons(engine, aredis, seeded.account_id, "sms",
                                            NOW + timedelta(hours=2))  # fmt: skip
    assert PHONE in await run_strategy(engine, aredis, NOW + timedelta(days=1))  # day 2: sent
    with Session(engine) as s:
        steps = s.execute(
            select(OutreachStep.status, OutreachStep.reasons)
            .where(OutreachStep.account_id == seeded.account_id, OutreachStep.status != "passed_over")
            .order_by(OutreachStep.id)
        ).all()  # fmt: skip
        row = s.scalars(select(ContactOptOut)).one()
        entry = s.get(CallAttempt, result.ledger_id)
        lifted = s.scalars(select(AuditEntry).where(AuditEntry.kind == "opt_out_lifted")).one()
        holder = s.get(Account, seeded.account_id)
    assert [(st, list(r or [])) for st, r in steps][0] == ("blocked", ["opted_out"])
    assert steps[-1][0] != "blocked"
    assert holder is not None and holder.opted_out == ""
    # Durable, with the debtor's own request as evidence; the row's history is kept.
    assert row.lifted_at is not None and row.lifted_by == "debtor:portal"
    assert row.lift_evidence["via"] == "portal" and row.lift_evidence["text"] == "ya pueden"
    assert row.lift_evidence["ledger_id"] == result.ledger_id
    assert json.loads(lifted.payload)["source"] == "portal"
    # A debtor-initiated contact on the agent's timeline, not an attempt.
    assert entry is not None
    assert (entry.channel, entry.direction, entry.result) == ("portal", "inbound", "self_service")
    assert entry.details == {"debtor_action": "opt_in", "channels": ["sms"]}
    whats = [e["what"] for e in timeline_for(engine, seeded.account_id)]
    assert "Autorizó de nuevo un canal: SMS" in whats
    assert "Pidió no ser contactado por un canal: SMS" in whats


@pytest.mark.parametrize(
    ("channel", "stays"),
    [
        ("sms", "registry_listed"),  # REUS names the number: no opt-in lifts it
        ("call", "registry_listed"),
    ],
)
async def test_given_a_registry_listed_number_when_reauthorised_then_the_registry_still_blocks(
    engine: Engine, aredis: aioredis.Redis, redis_url: str, seeded: PortalSeed, tmp_path: Path,
    channel: str, stays: str,
) -> None:  # fmt: skip
    reus(engine, redis_url, tmp_path, [PHONE])
    da.opt_out(engine, debtor(seeded), channel, NOW)
    da.opt_in(engine, debtor(seeded), channel, NOW)
    after = await reasons(engine, aredis, seeded.account_id, channel)
    assert stays in after and "opted_out" not in after


async def test_given_a_cease_contact_account_when_reauthorised_then_it_still_blocks(
    engine: Engine, aredis: aioredis.Redis, redis_url: str, seeded: PortalSeed, tmp_path: Path
) -> None:
    reus(engine, redis_url, tmp_path, [])
    da.opt_out(engine, debtor(seeded), "call", NOW)
    with transaction(engine) as s:
        holder = s.get(Account, seeded.account_id)
        assert holder is not None
        holder.status = "cease_contact"  # a legal stop the operator set, not an opt-out
    da.opt_in(engine, debtor(seeded), "call", NOW)
    assert "cease_contact" in await reasons(engine, aredis, seeded.account_id, "call")


@pytest.mark.parametrize("source", ["agent", "operator", "reply"])
def test_given_a_stop_not_asked_in_the_portal_when_reauthorised_then_refused_and_it_stays(
    engine: Engine, seeded: PortalSeed, source: str
) -> None:
    da.opt_out(engine, debtor(seeded), "whatsapp", NOW)  # the debtor's own portal stop too
    with transaction(engine) as s:
        record_opt_out(s, channel="whatsapp", source=source, evidence={"note": "por teléfono"},
                       actor="operator:luis", account_id=seeded.account_id, at=NOW)  # fmt: skip
    entries = count(engine, CallAttempt)
    with pytest.raises(da.ActionError) as err:
        da.opt_in(engine, debtor(seeded), "whatsapp", NOW)
    assert "llámenos" in err.value.message
    with Session(engine) as s:
        holder = s.get(Account, seeded.account_id)
        assert s.scalar(select(func.count()).where(ContactOptOut.lifted_at.is_not(None))) == 0
    assert holder is not None and holder.opted_out == "whatsapp"
    assert count(engine, CallAttempt) == entries  # nothing written
    summary = da.summary(engine, seeded.account_id, NOW)
    assert "whatsapp" in summary.opted_out and "whatsapp" not in summary.reopenable


@pytest.mark.parametrize(("via", "reopens"), [("chat", True), ("whatsapp", False), ("sms", False)])
def test_given_a_stop_asked_in_a_conversation_when_reauthorised_then_only_the_portals_chat_box(
    engine: Engine, seeded: PortalSeed, via: str, reopens: bool
) -> None:
    # The portal's chat box is behind its identity check; a WhatsApp or SMS conversation
    # is whoever holds the number.
    da.opt_out(engine, debtor(seeded, via), "email", NOW, "no me escriban correos")
    assert ("email" in da.summary(engine, seeded.account_id, NOW).reopenable) is reopens
    if reopens:
        da.opt_in(engine, debtor(seeded), "email", NOW)
    else:
        with pytest.raises(da.ActionError):
            da.opt_in(engine, debtor(seeded), "email", NOW)
    stopped = da.summary(engine, seeded.account_id, NOW).opted_out
    assert ("email" in stopped) is not reopens


def test_given_a_reply_from_one_number_when_reauthorised_then_that_number_stays_stopped(
    engine: Engine, seeded: PortalSeed
) -> None:
    # Whoever holds the number now asked to stop there: the debtor's portal cannot undo it.
    da.opt_out(engine, debtor(seeded), "sms", NOW)
    with transaction(engine) as s:
        record_opt_out(s, channel="sms", source="reply", evidence={"text": "BAJA"},
                       actor="outreach", address=PHONE, at=NOW)  # fmt: skip
    assert da.summary(engine, seeded.account_id, NOW).reopenable == frozenset({"sms"})
    da.opt_in(engine, debtor(seeded), "sms", NOW)
    with Session(engine) as s:
        holder = s.get(Account, seeded.account_id)
        assert holder is not None
        assert holder.opted_out == "" and [p.opted_out for p in holder.phones] == ["sms"]


@pytest.mark.parametrize(
    ("channel", "via", "why"),
    [
        ("sms", "portal", "ya está autorizado"),  # never stopped
        ("fax", "portal", "no existe"),
        ("SMS ; DROP", "portal", "no existe"),
        ("x" * 100, "portal", "no existe"),
        ("sms", "whatsapp", "desde el portal"),  # a conversation is not the identity check
    ],
)
def test_given_a_bad_reauthorisation_when_asked_then_refused_and_nothing_written(
    engine: Engine, seeded: PortalSeed, channel: str, via: str, why: str
) -> None:
    with pytest.raises(da.ActionError) as err:
        da.opt_in(engine, debtor(seeded, via), channel, NOW)
    assert why in err.value.message
    assert count(engine, CallAttempt) == 0 and count(engine, AuditEntry) == 0


def test_given_an_overlong_note_when_reauthorising_then_refused(
    engine: Engine, seeded: PortalSeed
) -> None:
    da.opt_out(engine, debtor(seeded), "email", NOW)
    with pytest.raises(da.ActionError):
        da.opt_in(engine, debtor(seeded), "email", NOW, "x" * 3000)
    assert da.summary(engine, seeded.account_id, NOW).opted_out == frozenset({"email"})
