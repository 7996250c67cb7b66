"""`cobrador demo --at`: the simulated Mercado Pago dates its payments by the demo's
clock (the receipts of a simulated day are of that day, not of the wall clock's)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from cobrador.demo import Demo, DemoClock
from cobrador.ground.settings import Settings


async def test_given_the_demo_at_a_later_day_then_its_payments_gateway_reads_the_demo_clock(
    settings: Settings,
) -> None:
    clock = DemoClock(offset=timedelta(days=5).total_seconds())
    local, _webhook, client = await Demo(settings, argparse.Namespace(), clock)._payments()
    try:
        assert abs(local.clock() - clock.now()) < timedelta(minutes=1)
        assert local.clock() - datetime.now(UTC) > timedelta(days=4)
    finally:
        await client.close()
        await local.stop()
