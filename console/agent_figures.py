"""Each agent's figures in a campaign since an instant, from SQL: talk and wrap-up
time, right-party contacts, promises and their amount, and the kept rate of the
promises due in the last 30 days of their debtor's date. Synchronous; handlers run it in a thread."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from compliance.debtor_time import debtor_day
from console.money import money_format
from store.db import transaction
from store.models import Account, CallAttempt, Disposition, Promise, User

MAX_WRAP = timedelta(hours=1)  # a disposition written the next morning is not wrap-up
KEPT_WINDOW = timedelta(days=30)
# A debtor's date is never more than a day from UTC's (UTC-12..UTC+14): the SQL reads
# this much more and each promise is then held to its own debtor's date.
DATE_SLACK = timedelta(days=2)


def agent_figures(
    engine: Engine, campaign_id: int, agent_ids: list[int], since: datetime, now: datetime
) -> list[dict[str, Any]]:
    """One row per agent who worked the campaign since ``since`` or is on it now."""
    with transaction(engine) as session:
        calls = session.execute(
            select(CallAttempt.agent_id, CallAttempt.bridged_at, CallAttempt.ended_at,
                   CallAttempt.right_party_contact, Disposition.created_at)
            .outerjoin(Disposition, Disposition.attempt_id == CallAttempt.id)
            .where(CallAttempt.campaign_id == campaign_id, CallAttempt.agent_id.is_not(None),
                   CallAttempt.started_at >= since)
        ).all()  # fmt: skip
        talk: dict[int, float] = defaultdict(float)
        wrap: dict[int, float] = defaultdict(float)
        rpc: dict[int, int] = defaultdict(int)
        dispositions: dict[int, int] = defaultdict(int)
        for agent_or_none, bridged, ended, right_party, disposed in calls:
            agent = int(agent_or_none or 0)  # the query keeps only attempts with an agent
            if bridged and ended:
                talk[agent] += max((ended - bridged).total_seconds(), 0.0)
            if ended and disposed:
                wrap[agent] += min(max((disposed - ended).total_seconds(), 0.0),
                                   MAX_WRAP.total_seconds())  # fmt: skip
            if right_party:
                rpc[agent] += 1
            if disposed:
                dispositions[agent] += 1
        promised: dict[int, list[str]] = defaultdict(list)
        counts: dict[int, int] = defaultdict(int)
        for agent_or_none, country, currency, n, total in session.execute(
            select(Promise.agent_id, Account.country, Promise.currency, func.count(Promise.id),
                   func.sum(Promise.amount))
            .join(Account, Account.id == Promise.account_id)
            .where(Account.campaign_id == campaign_id, Promise.agent_id.is_not(None),
                   Promise.created_at >= since)
            .group_by(Promise.agent_id, Account.country, Promise.currency)
        ).all():  # fmt: skip
            agent = int(agent_or_none or 0)
            counts[agent] += int(n)
            promised[agent].append(money_format(country, currency).show(Decimal(total or 0)))
        kept = _kept_and_resolved(session, campaign_id, now)
        ids = sorted(set(agent_ids) | set(talk) | set(rpc) | set(dispositions) | set(counts))
        names = dict(
            session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all()
        ) if ids else {}  # fmt: skip
    rows = []
    for agent in ids:
        k, r = kept.get(agent, (0, 0))
        rows.append(
            {
                "agent_id": agent,
                "name": names.get(agent, str(agent)),
                "calls": dispositions[agent],
                "talk_seconds": int(talk[agent]),
                "wrap_seconds": int(wrap[agent]),
                "right_party_contacts": rpc[agent],
                "promises": counts[agent],
                "promised_display": " · ".join(promised[agent]) or "—",
                "kept_rate": (k / r) if r else None,
            }
        )
    return sorted(rows, key=lambda row: (-row["talk_seconds"], row["name"]))


def _kept_and_resolved(
    session: Session, campaign_id: int, now: datetime
) -> dict[int, tuple[int, int]]:
    """Per agent: promises kept, and kept or broken, among those due in the last
    KEPT_WINDOW counted on each debtor's date (compliance/debtor_time.py debtor_day,
    as promises are kept and broken), not UTC's: from 18:00 in Mexico City UTC's date
    is already tomorrow's, and the window dropped a day the debtor still counts."""
    rows = session.execute(
        select(Promise.agent_id, Promise.status, Promise.due_date, Account.timezone,
               Account.country, Account.region)
        .join(Account, Account.id == Promise.account_id)
        .where(Account.campaign_id == campaign_id, Promise.agent_id.is_not(None),
               Promise.status.in_(("kept", "broken")),
               Promise.due_date >= (now - KEPT_WINDOW - DATE_SLACK).date())
    ).all()  # fmt: skip
    firsts: dict[tuple[str | None, str, str | None], date] = {}
    kept: dict[int, tuple[int, int]] = {}
    for agent_or_none, status, due, timezone, country, region in rows:
        agent = int(agent_or_none or 0)  # the query keeps only promises with an agent
        where = (timezone, country, region)
        if where not in firsts:
            firsts[where] = debtor_day(now, timezone, country, region) - KEPT_WINDOW
        if due < firsts[where]:
            continue
        k, r = kept.get(agent, (0, 0))
        kept[agent] = (k + (status == "kept"), r + 1)
    return kept
