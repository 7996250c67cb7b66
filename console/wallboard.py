"""The supervisor's live picture of a campaign, assembled from Redis and SQL."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy import Engine, select

from dialer.agent_state import AgentStates
from dialer.inbound.skills import campaign_group
from store.db import transaction
from store.models import Campaign, Decision, User

DEFAULT_PROFILE_ABANDON_LIMIT = Decimal("0.03")
BLOCK_REASON_WINDOW = timedelta(hours=24)


def wallboard_key(campaign: str) -> str:
    return f"cobrador:wallboard:{{{campaign}}}"


def profile_abandon_limit(campaign: Campaign) -> Decimal:
    """The most the profile allows; a campaign may only tighten it.

    Until the compliance profiles expose their abandonment limit, the campaign's
    ``profile_abandon_limit`` config (set by an operator from the profile) or 3%.
    """
    raw = (campaign.config or {}).get("profile_abandon_limit")
    try:
        return Decimal(str(raw)) if raw is not None else DEFAULT_PROFILE_ABANDON_LIMIT
    except ArithmeticError:
        return DEFAULT_PROFILE_ABANDON_LIMIT


def campaigns(engine: Engine) -> list[dict[str, Any]]:
    with transaction(engine) as session:
        rows = session.scalars(select(Campaign).order_by(Campaign.name)).all()
        return [
            {
                "id": c.id,
                "name": c.name,
                "country": c.country,
                "profile": c.profile,
                "status": c.status,
                "dial_mode": c.dial_mode,
                "abandon_target": float(c.abandon_target),
                "abandon_limit": float(profile_abandon_limit(c)),
                "skill_group": campaign_group(c.config),
            }
            for c in rows
        ]


def _sql_part(engine: Engine, campaign: str, agent_ids: list[int], now: datetime) -> dict[str, Any]:
    with transaction(engine) as session:
        row = session.scalar(select(Campaign).where(Campaign.name == campaign))
        names = (
            dict(
                session.execute(
                    select(User.id, User.display_name).where(User.id.in_(agent_ids))
                ).all()
            )
            if agent_ids
            else {}
        )
        reasons: Counter[str] = Counter()
        if row is not None:
            for (codes,) in session.execute(
                select(Decision.reasons)
                .where(
                    Decision.campaign_id == row.id,
                    Decision.allowed.is_(False),
                    Decision.evaluated_at >= now - BLOCK_REASON_WINDOW,
                )
                .order_by(Decision.id.desc())
                .limit(20000)
            ):
                reasons.update(codes or [])
        return {
            "names": names,
            "campaign": None
            if row is None
            else {
                "name": row.name,
                "status": row.status,
                "dial_mode": row.dial_mode,
                "abandon_target": float(row.abandon_target),
            },
            "block_reasons": reasons.most_common(8),
        }


async def snapshot(
    engine: Engine, redis: aioredis.Redis, states: AgentStates, campaign: str, now: datetime
) -> dict[str, Any]:
    agents = await states.list(campaign)
    raw = await redis.get(wallboard_key(campaign))
    live: dict[str, Any] = {}
    if raw:
        try:
            parsed = json.loads(raw)
            live = parsed if isinstance(parsed, dict) else {}
        except ValueError:
            live = {}
    sql = await asyncio.to_thread(_sql_part, engine, campaign, [a.agent_id for a in agents], now)
    by_state = Counter(a.state.value for a in agents)
    return {
        "type": "wallboard",
        "server_time": time.time(),
        "campaign": sql["campaign"],
        "agents": [
            {**a.as_dict(), "name": sql["names"].get(a.agent_id, str(a.agent_id))} for a in agents
        ],
        "by_state": dict(by_state),
        "live": live,
        "live_available": bool(raw),
        "block_reasons": sql["block_reasons"],
    }
