"""Promises kept and broken, and the amount kept, as the console's /metrics read them
from SQL: a payments import (a process Prometheus never scrapes) keeps and breaks
promises, and the console's figures follow the rows, a refund's reopening too.
Before, only the synthetic floor moved the kept and broken counters, and nothing on a
real floor did."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed
from sqlalchemy import Engine, update
from support.polling import until

from compliance.debtor_time import account_day
from console import promise_metrics
from console.promise_metrics import publish, resolved_promises
from metrics import definitions as m
from metrics.definitions import REGISTRY
from metrics.roles import CONSOLE, registry_for
from store.db import transaction
from store.importing.payments import import_payments
from store.models import Promise

MX = {"campaign": "mx-demo", "country": "MX"}


@pytest.fixture(autouse=True)
def quick_rounds() -> Iterator[None]:
    """The console's loop reads every 50 ms here, not every minute; no figure of an
    earlier test in this process is left to be read."""
    m.RESOLVED_PROMISES.clear()
    m.KEPT_PROMISES_AMOUNT.clear()
    every = promise_metrics.EVERY_SECONDS
    promise_metrics.EVERY_SECONDS = 0.05
    yield
    promise_metrics.EVERY_SECONDS = every


def figure(result: str, window: str) -> float | None:
    return REGISTRY.get_sample_value(
        "cobrador_resolved_promises", MX | {"result": result, "window": window}
    )


def kept_amount(window: str) -> float | None:
    return REGISTRY.get_sample_value("cobrador_kept_promises_amount", MX | {"window": window})


def promise(engine: Engine, account_id: int, amount: str, due: date, **extra: object) -> int:
    with transaction(engine) as session:
        row = Promise(account_id=account_id, amount=Decimal(amount), currency="MXN",
                      due_date=due, created_at=NOW - timedelta(days=60), **extra)  # fmt: skip
        session.add(row)
        session.flush()
        return row.id


def test_given_a_payments_import_when_the_console_reads_then_kept_broken_and_amount_by_window(
    engine: Engine, seed: Seed, tmp_path: Path
) -> None:
    # Kept by a payment of the import 10:00 in Mexico City today; the other's date is
    # past with no payment: the import's sweep breaks it. Two older ones resolved
    # 3 days and 40 days before, and one still open.
    kept = promise(engine, seed.account_id, "1500.00", date(2026, 11, 30))
    broken = promise(engine, seed.other_account_id, "300.00", date(2026, 11, 20))
    promise(engine, seed.account_id, "700.00", date(2026, 11, 21), status="kept",
            paid_amount=Decimal("700.00"), resolved_at=NOW - timedelta(days=3))  # fmt: skip
    promise(engine, seed.account_id, "900.00", date(2026, 10, 15), status="broken",
            resolved_at=NOW - timedelta(days=40))  # fmt: skip
    promise(engine, seed.account_id, "50.00", date(2026, 12, 10))
    paid = tmp_path / "paid.csv"
    paid.write_text("external_ref,amount,paid_at\nMX-0001,1500.00,2026-11-24T10:30:00-06:00\n")
    assert import_payments(engine, paid, debtor_day=account_day, clock=lambda: NOW).written
    with transaction(engine) as session:
        assert [session.get(Promise, i).status for i in (kept, broken)] == ["kept", "broken"]  # type: ignore[union-attr]
    shown = publish(resolved_promises(engine, NOW), set())
    assert shown == {("mx-demo", "MX")}
    # Paid 30 minutes before the console's clock; broken at the import (now).
    assert [figure("kept", w) for w in ("1h", "24h", "30d")] == [1, 1, 2]
    assert [figure("broken", w) for w in ("1h", "24h", "30d")] == [1, 1, 1]
    assert [kept_amount(w) for w in ("1h", "24h", "30d")] == [1500.0, 1500.0, 2200.0]
    # A refund opens the kept promise again (store/payment_reversal.py): the figures
    # follow the rows, down as well (a counter would have read that as a reset).
    with transaction(engine) as session:
        session.execute(update(Promise).where(Promise.id == kept)
                        .values(status="open", resolved_at=None, paid_amount=Decimal(0)))  # fmt: skip
    shown = publish(resolved_promises(engine, NOW), shown)
    assert [figure("kept", w) for w in ("1h", "24h", "30d")] == [0, 0, 1]
    assert [kept_amount(w) for w in ("1h", "24h", "30d")] == [0.0, 0.0, 700.0]
    # A day later nothing resolved in the last hour or day: zero, not the old figure.
    publish(resolved_promises(engine, NOW + timedelta(days=1, hours=1)), shown)
    assert [figure("broken", w) for w in ("1h", "24h", "30d")] == [0, 0, 1]


async def test_given_a_console_running_then_it_reads_the_figures_and_serves_them(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    promise(engine, seed.account_id, "250.00", date(2026, 11, 30), status="kept",
            paid_amount=Decimal("250.00"), resolved_at=NOW - timedelta(hours=2))  # fmt: skip
    await until(lambda: figure("kept", "24h") == 1, "the console read the kept promise")
    assert figure("kept", "1h") == 0 and figure("broken", "24h") == 0
    served = {metric.name for metric in registry_for(CONSOLE).collect()}
    assert {"cobrador_resolved_promises", "cobrador_kept_promises_amount"} <= served
