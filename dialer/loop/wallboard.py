"""The campaign's wallboard in Redis, written every tick: calls, abandonment (the
legal figure and, beside it, early hang-ups), the hopper, the inbound queue and why
nothing is dialed when nothing is."""

from __future__ import annotations

import json
from dataclasses import dataclass

from dialer.call_state import CallState
from dialer.inbound.board import inbound_board, service_level_seconds
from dialer.loop.context import LoopContext
from dialer.messages import wallboard_key
from dialer.pacing.snapshot import Snapshot
from dialer.refill import health_key
from dialer.stats import WINDOW_LABELS, WindowCounts

WALLBOARD_TTL_SECONDS = 60


@dataclass(frozen=True)
class LoopView:
    """What the conductor knows this tick that the wallboard shows."""

    ok: bool
    reason: str
    window_counts: tuple[WindowCounts, ...]
    false_positive_ratio: float
    registries_reloading: list[str]
    own_inbound_waits: tuple[float, ...]


async def publish_wallboard(ctx: LoopContext, now: float, snapshot: Snapshot,
                            sizes: dict[str, int], view: LoopView) -> None:  # fmt: skip
    raw = await ctx.redis.get(health_key(ctx.name))
    health = json.loads(raw) if raw else {}
    campaign = ctx.campaign
    board = {
        "at": now,
        "campaign": ctx.name,
        "dial_mode": campaign.dial_mode,
        "status": campaign.status,
        "dialer": {"ok": view.ok, "reason": view.reason},
        "calls": {
            "ringing": len(snapshot.ringing),
            "waiting": snapshot.waiting,
            "connected": sum(1 for c in ctx.calls.values() if c.state is CallState.bridged),
        },
        "abandonment": {
            WINDOW_LABELS.get(w.seconds, f"{int(w.seconds)}s"): {
                # The legal figure (what pacing steers on) and, beside it, who hung up
                # before an agent was due: not abandons, shown so nobody mistakes them.
                "human_answered": w.human_answered,
                "abandoned": w.abandoned,
                "ratio": (w.abandoned / w.human_answered) if w.human_answered else 0.0,
                "machine_drops": c.machine_drops if c else 0,
                "early_hangups": c.early_hangups if c else 0,
                "early_ratio": c.early_ratio if c else 0.0,
            }
            for w in snapshot.abandonment
            for c in [next((c for c in view.window_counts if c.seconds == w.seconds), None)]
        },  # fmt: skip
        "amd_false_positive_ratio": view.false_positive_ratio,
        "abandon_target": snapshot.abandon_target,
        "hopper": {**sizes, "health": health},
        # Registries being reloaded into Redis from SQL: their calls are blocked.
        "registries_reloading": view.registries_reloading,
        "inbound": await inbound_board(ctx.inbound, ctx.name, now, service_level_seconds(
            campaign.config, campaign.country), view.own_inbound_waits),
    }  # fmt: skip
    await ctx.redis.set(wallboard_key(ctx.name), json.dumps(board), ex=WALLBOARD_TTL_SECONDS)
