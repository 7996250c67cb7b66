"""Promises kept and broken, and the amount kept, read from SQL by every console for
its /metrics: gauges of the promises resolved in the last hour, day and 30 days.

A promise is kept or broken by a payment (`cobrador import payments`, a short-lived
process Prometheus never scrapes; a provider's notification in a console), by the
import's sweep of promises past their date, and opened again by a refund or a
charge-back (store/payment_reversal.py). A counter in the process that changes the
status would miss every import; the rows are the facts, so each console reads them
(every console the same figures: aggregate with max). Windows by `resolved_at`:
when the payment that kept the promise was made, or when it was found broken; a
promise a refund opened again is no longer counted. Labels: the campaign's name and
the debtor's country only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from decimal import Decimal

from aiohttp import web
from sqlalchemy import Engine, func, select

from console.keys import CLOCK, ENGINE
from metrics import definitions as m
from metrics.labels import PROMISE_RESULTS, campaign_label, country_label
from store.db import transaction
from store.models import Account, Campaign, Promise

log = logging.getLogger(__name__)

WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "30d": timedelta(days=30)}
EVERY_SECONDS = 60.0

# (campaign, country, result, window) -> (promises, amount kept or broken)
Key = tuple[str, str, str, str]
Figures = dict[Key, tuple[int, Decimal]]


def resolved_promises(engine: Engine, now: datetime) -> Figures:
    """The promises kept and broken per window, by campaign and country (the
    resolved_at index: no scan of the whole table)."""
    figures: Figures = {}
    with transaction(engine) as session:
        for window, length in WINDOWS.items():
            rows = session.execute(
                select(Campaign.name, Account.country, Promise.status,
                       func.count(Promise.id), func.sum(Promise.amount))
                .join(Account, Account.id == Promise.account_id)
                .outerjoin(Campaign, Campaign.id == Account.campaign_id)
                .where(Promise.resolved_at >= now - length,
                       Promise.status.in_(PROMISE_RESULTS))
                .group_by(Campaign.name, Account.country, Promise.status)
            ).all()  # fmt: skip
            for campaign, country, status, count, amount in rows:
                key = (campaign_label(campaign) if campaign else "none",
                       country_label(country), str(status), window)  # fmt: skip
                promises, total = figures.get(key, (0, Decimal(0)))
                # Two raw names may share a label ("invalid"): their figures add up.
                figures[key] = (promises + int(count), total + Decimal(str(amount or 0)))
    return figures


def publish(figures: Figures, shown: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Set the gauges; every (campaign, country) shown before or now gets all its
    windows and results, zero where nothing resolved (a figure never stays stale).
    Returns the pairs shown now, for the next round."""
    pairs = shown | {(campaign, country) for campaign, country, _, _ in figures}
    for campaign, country in pairs:
        for window in WINDOWS:
            for result in PROMISE_RESULTS:
                promises, amount = figures.get((campaign, country, result, window),
                                               (0, Decimal(0)))  # fmt: skip
                m.RESOLVED_PROMISES.labels(campaign, country, result, window).set(promises)
                if result == "kept":
                    m.KEPT_PROMISES_AMOUNT.labels(campaign, country, window).set(float(amount))
    return pairs


async def promise_metrics_ctx(app: web.Application) -> AsyncIterator[None]:
    """Read at start and every EVERY_SECONDS."""
    engine: Engine = app[ENGINE]
    clock: Callable[[], datetime] = app[CLOCK]

    async def loop() -> None:
        shown: set[tuple[str, str]] = set()
        while True:
            try:
                figures = await asyncio.to_thread(resolved_promises, engine, clock())
                shown = publish(figures, shown)
            except Exception:  # retried at the next round
                log.warning("reading the promises' figures failed", exc_info=True)
            await asyncio.sleep(EVERY_SECONDS)

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
