"""ComplianceService on real SQL + Redis: a batch evaluated, recorded and audited."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
import redis.asyncio as aioredis
from compliance_helpers import make_account
from sqlalchemy import Engine, select

from compliance.registry_import import import_registry
from compliance.service import ComplianceService
from compliance.transparency.verify import verify
from store.db import transaction
from store.models import AuditEntry, Decision

NOW = datetime(2026, 1, 13, 18, 0, tzinfo=UTC)


async def test_given_batch_when_evaluated_and_recorded_then_rows_audit_and_reasons(
    engine: Engine, redis_url: str, aredis: aioredis.Redis, tmp_path: Path
) -> None:
    make_account(engine, "A", phones=[{"number_e164": "+525512345678"}])
    make_account(engine, "B", phones=[{"number_e164": "+525598765432"}])
    make_account(engine, "C", phones=[{"number_e164": "+525511112222", "consent": False}])
    reus = tmp_path / "reus.txt"
    reus.write_text("+525598765432\n")
    sync = redis.Redis.from_url(redis_url)
    import_registry(engine, sync, name="reus", path=reus, country="MX", now=NOW - timedelta(days=2))
    sync.close()
    service = ComplianceService(engine, aredis)
    with transaction(engine) as session:
        items = [
            service.load_item(session, account_ref=ref, phone_e164=phone)
            for ref, phone in (
                ("A", "+525512345678"),
                ("B", "+525598765432"),
                ("C", "+525511112222"),
            )
        ]
    results = await service.evaluate_and_record(items, NOW, stage="hopper")
    assert [d.reasons for d, _ in results] == [(), ("registry_listed",), ("no_consent",)]
    with transaction(engine) as session:
        rows = session.execute(select(Decision).order_by(Decision.id)).scalars().all()
        entries = (
            session.execute(
                select(AuditEntry).where(AuditEntry.kind == "decision").order_by(AuditEntry.id)
            )
            .scalars()
            .all()
        )
    assert [r.stage for r in rows] == ["hopper"] * 3
    assert [r.id for r in rows] == [decision_id for _, decision_id in results]
    payloads = [json.loads(e.payload) for e in entries]
    assert [p["decision_id"] for p in payloads] == [r.id for r in rows]
    assert payloads[1]["reasons"] == ["registry_listed"]
    assert payloads[1]["registry_versions"]["reus"] == rows[1].registry_versions["reus"]
    assert verify(engine).ok


async def test_given_no_redis_when_evaluated_then_every_registry_and_cap_blocks(
    engine: Engine,
) -> None:
    make_account(engine)
    service = ComplianceService(engine, None)
    with transaction(engine) as session:
        item = service.load_item(session, account_ref="ACC-1", phone_e164="+525512345678")
    [decision] = await service.evaluate_batch([item], NOW)
    assert set(decision.reasons) == {"registry_unavailable", "attempt_cap_day", "contact_cap_week"}
