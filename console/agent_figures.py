"""Each agent's figures in a campaign since an instant, from SQL: talk and wrap-up
time, right-party contacts, promises and their amount, and the kept rate of the
promises due in the last 30 days. Synchronous; handlers run it in a thread."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, select

from console.money import money_format
from store.db import transaction
from store.models import Account, CallAttempt, Disposition, Promise, User

MAX_WRAP = timedelta(hours=1)  # a disposition written the next morning is not wrap-up
KEPT_WINDOW = timedelta(days=30)


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
        kept = {
            agent: (int(k), int(r))
            for agent, k, r in session.execute(
                select(Promise.agent_id,
                       func.count(Promise.id).filter(Promise.status == "kept"),
                       func.count(Promise.id).filter(Promise.status.in_(("kept", "broken"))))
                .join(Account, Account.id == Promise.account_id)
                .where(Account.campaign_id == campaign_id, Promise.agent_id.is_not(None),
                       Promise.due_date >= (now - KEPT_WINDOW).date())
                .group_by(Promise.agent_id)
            ).all()
        }  # fmt: skip
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
