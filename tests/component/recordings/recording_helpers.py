"""Builders for recording tests: a campaign, accounts, attempts and real wav files."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from pbxsim.recording import write_synthetic_wav
from store.db import transaction
from store.models import Account, AuditEntry, CallAttempt, Campaign, Phone
from store.recordings.finalize import FinalizedRecording, finalize_recording
from store.recordings.storage import DirectoryStorage

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday, long before "now" in these tests


@dataclass
class World:
    engine: Engine
    storage: DirectoryStorage
    campaign_id: int
    accounts: dict[str, int] = field(default_factory=dict)


def make_world(engine: Engine, root: Path, campaign_config: dict[str, Any] | None = None) -> World:
    with transaction(engine) as session:
        campaign = Campaign(
            name="mora", country="MX", profile="MX", config=dict(campaign_config or {})
        )
        session.add(campaign)
        session.flush()
        world = World(engine, DirectoryStorage(root), campaign.id)
    for ref in ("REC-1", "REC-2"):
        world.accounts[ref] = add_account(engine, world.campaign_id, ref)
    return world


def add_account(engine: Engine, campaign_id: int, ref: str, status: str = "active") -> int:
    with transaction(engine) as session:
        account = Account(
            external_ref=ref, debtor_name=f"Deudor {ref}", country="MX",
            timezone="America/Mexico_City", balance=Decimal("100.00"), currency="MXN",
            due_date=date(2026, 1, 1), campaign_id=campaign_id, status=status,
        )  # fmt: skip
        account.phones.append(Phone(number_e164=f"+52551234{len(ref):02d}{ref[-1]}0"))
        session.add(account)
        session.flush()
        return account.id


def add_attempt(
    engine: Engine, account_id: int, started_at: datetime = T0, agent_id: int | None = None
) -> int:
    with transaction(engine) as session:
        account = session.get(Account, account_id)
        assert account is not None
        attempt = CallAttempt(
            account_id=account_id, phone_id=account.phones[0].id,
            phone_e164=account.phones[0].number_e164, campaign_id=account.campaign_id,
            agent_id=agent_id, started_at=started_at, answered_at=started_at,
            bridged_at=started_at, ended_at=started_at + timedelta(seconds=30), result="contact",
        )  # fmt: skip
        session.add(attempt)
        session.flush()
        return attempt.id


def recorded_call(
    world: World,
    ref: str = "REC-1",
    *,
    seconds: float = 2.0,
    started_at: datetime = T0,
    now: datetime | None = None,
) -> FinalizedRecording:
    """An attempt with a real wav under its key, finalized as the dialer would."""
    attempt_id = add_attempt(world.engine, world.accounts[ref], started_at)
    key = world.storage.key_for(attempt_id, started_at)
    write_synthetic_wav(world.storage.ensure_dir(key), seconds)
    ended = started_at + timedelta(seconds=seconds)
    return finalize_recording(
        world.engine, world.storage, attempt_id=attempt_id, key=key, started_at=started_at,
        ended_at=ended, now=now or ended,
    )  # fmt: skip


def audit_entries(engine: Engine, kind: str) -> list[AuditEntry]:
    with transaction(engine) as session:
        return list(
            session.execute(
                select(AuditEntry).where(AuditEntry.kind == kind).order_by(AuditEntry.id)
            )
            .scalars()
            .all()
        )


def unmatched_inbound_recording(world: World, seconds: float = 1.0) -> FinalizedRecording:
    """An inbound call no account matched (account_id None), recorded and finalized."""
    with transaction(world.engine) as session:
        attempt = CallAttempt(
            account_id=None, phone_e164="+525599990000", campaign_id=world.campaign_id,
            direction="inbound", source="inbound", started_at=T0, answered_at=T0,
            ended_at=T0 + timedelta(seconds=seconds), result="contact",
        )  # fmt: skip
        session.add(attempt)
        session.flush()
        attempt_id = attempt.id
    key = world.storage.key_for(attempt_id, T0)
    write_synthetic_wav(world.storage.ensure_dir(key), seconds)
    end = T0 + timedelta(seconds=seconds)
    return finalize_recording(
        world.engine, world.storage, attempt_id=attempt_id, key=key, started_at=T0,
        ended_at=end, now=end,
    )  # fmt: skip
