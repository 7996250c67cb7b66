"""The supervisor's live picture of a campaign, assembled from Redis and SQL."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy import Engine, select

from console.chat_queue import chat_attempts
from console.code_labels import (
    campaign_status_label,
    dial_mode_label,
    dialer_health_label,
    pause_title,
    reason_label,
)
from dialer.agent_state import AgentStates
from dialer.inbound.board import service_level_seconds
from dialer.inbound.skills import campaign_group
from dialer.messages import wallboard_key
from store.db import transaction
from store.models import Campaign, Decision, User

DEFAULT_PROFILE_ABANDON_LIMIT = Decimal("0.03")
BLOCK_REASON_WINDOW = timedelta(hours=24)


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
                # Shown before the inbound dialer publishes its board (or without one).
                "service_level_seconds": service_level_seconds(c.config, c.country),
            }
            for c in rows
        ]


async def live_board(redis: aioredis.Redis, campaign: str) -> dict[str, Any]:
    """What the campaign's dial loop last wrote (hopper, abandonment, health); {} if none."""
    raw = await redis.get(wallboard_key(campaign))
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def labelled_live(live: dict[str, Any]) -> dict[str, Any]:
    """The dial loop's codes and English health text as a person reads them."""
    hopper = live.get("hopper") or {}
    health = hopper.get("health") or {} if isinstance(hopper, dict) else {}
    empty = (
        (hopper.get("empty_reasons") if isinstance(hopper, dict) else None)
        or health.get("blocked")
        or {}
    )
    dialer = live.get("dialer") or {}
    return {
        "empty_reasons": [
            {"label": reason_label(str(code)), "count": count} for code, count in empty.items()
        ],
        "dialer_problem": dialer_health_label(str(dialer.get("reason") or ""))
        if isinstance(dialer, dict) and dialer.get("ok") is False
        else "",
    }


async def overview(
    redis: aioredis.Redis, states: AgentStates, campaigns: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every campaign at a glance: agents by state, hopper, abandonment, dialer health."""
    out = []
    for c in campaigns:
        agents = await states.list(c["name"])
        by_state = Counter(a.state.value for a in agents)
        live = await live_board(redis, c["name"])
        hopper = live.get("hopper") or {}
        windows = live.get("abandonment") or live.get("abandon") or {}
        hour = windows.get("1h") if isinstance(windows, dict) else None
        ratio = hour.get("ratio", hour.get("rate")) if isinstance(hour, dict) else hour
        size = hopper.get("size") if isinstance(hopper, dict) else None
        if size is None and isinstance(hopper, dict) and "ready" in hopper:
            size = int(hopper.get("ready") or 0) + int(hopper.get("delayed") or 0)
        out.append(
            {
                "id": c["id"],
                "name": c["name"],
                "country": c["country"],
                "status": c["status"],
                "status_label": campaign_status_label(c["status"]),
                "dial_mode_label": dial_mode_label(c["dial_mode"]),
                "agents": len(agents),
                "by_state": dict(by_state),
                "hopper": size,
                "abandon_1h": ratio,
                "abandon_target": c["abandon_target"],
                "live": bool(live),
                **labelled_live(live),
            }
        )
    return out


def busiest(overview_rows: list[dict[str, Any]]) -> str | None:
    """The campaign a supervisor most likely wants first: most agents, then running."""
    if not overview_rows:
        return None
    best = max(overview_rows, key=lambda r: (r["agents"], r["status"] == "running", -r["id"]))
    return str(best["name"])


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
    live = await live_board(redis, campaign)
    sql = await asyncio.to_thread(_sql_part, engine, campaign, [a.agent_id for a in agents], now)
    on_chat = await asyncio.to_thread(
        chat_attempts, engine, [a.attempt_id or 0 for a in agents if a.state.value == "talking"]
    )
    by_state = Counter(a.state.value for a in agents)
    return {
        "type": "wallboard",
        "server_time": now.timestamp(),  # the clock of the agents' `since`
        "campaign": sql["campaign"],
        "agents": [
            {
                **a.as_dict(),
                "name": sql["names"].get(a.agent_id, str(a.agent_id)),
                # A pausing agent's reason is the pause they wait for (dialer/pause_rule.py).
                "reason_label": pause_title(a.reason)
                if a.state.value in ("paused", "pausing")
                else "",
                # Talking in a chat, not on a call: nothing to listen to.
                "on_chat": a.state.value == "talking" and a.attempt_id in on_chat,
            }
            for a in agents
        ],
        "by_state": dict(by_state),
        "live": live,
        "live_labels": labelled_live(live),
        "live_available": bool(live),
        # Labels only: the codes stay in the auditor's exports.
        "block_reasons": [[reason_label(code), count] for code, count in sql["block_reasons"]],
        "status_label": campaign_status_label(sql["campaign"]["status"]) if sql["campaign"] else "",
    }
