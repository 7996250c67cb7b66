"""Inbound figures of one campaign for the wallboard and /metrics: waiting now,
longest wait, answered, abandoned in queue and lost, service level per window."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from dialer.inbound.queue import InboundQueue
from dialer.inbound.settings import InboundSettings, InboundSettingsError, inbound_settings

WINDOWS = {"1h": 3600.0, "24h": 86400.0}
DEFAULT_SERVICE_LEVEL_SECONDS = 20.0


_settings_cache: dict[str, InboundSettings | None] = {}


def _settings(config: Mapping[str, Any] | None, country: str) -> InboundSettings | None:
    """The campaign's inbound settings, parsed once per distinct config (every tick asks)."""
    raw = (config or {}).get("inbound")
    key = f"{country}|{json.dumps(raw, sort_keys=True, default=str)}"
    if key not in _settings_cache:
        if len(_settings_cache) > 256:
            _settings_cache.clear()
        try:
            _settings_cache[key] = inbound_settings(config, country)
        except InboundSettingsError:
            _settings_cache[key] = None
    return _settings_cache[key]


def service_level_seconds(config: Mapping[str, Any] | None, country: str) -> float:
    settings = _settings(config, country)
    return settings.service_level_seconds if settings else DEFAULT_SERVICE_LEVEL_SECONDS


OUTCOMES_EVERY_SECONDS = 5.0  # per-window outcomes change slowly; waiting is live


async def window_outcomes(queue: InboundQueue, campaign: str, now: float,
                          within_seconds: float) -> dict[str, Any]:  # fmt: skip
    """Answered, abandoned, lost and service level per window (WINDOWS), recomputed
    at most every OUTCOMES_EVERY_SECONDS per queue object."""
    cached = queue.outcomes_cache.get(campaign)
    if cached is None or now - cached[0] >= OUTCOMES_EVERY_SECONDS or now < cached[0]:
        windows: dict[str, Any] = {}
        for label, seconds in WINDOWS.items():
            out = await queue.outcomes(campaign, now, seconds, within_seconds)
            windows[label] = {"answered": out.answered, "abandoned": out.abandoned,
                              "lost": out.lost, "service_level": out.service_level}  # fmt: skip
        cached = queue.outcomes_cache[campaign] = (now, windows)
    return cached[1]


async def inbound_board(queue: InboundQueue, campaign: str, now: float, within_seconds: float,
                        waits: tuple[float, ...]) -> dict[str, Any]:  # fmt: skip
    """The wallboard's inbound part. `waits`: the snapshot's inbound_waiting (seconds
    each waiting caller has waited). The gauges are the housekeeping's (housekeeping.py),
    exported whether or not a dial loop runs."""
    board: dict[str, Any] = {
        "waiting": len(waits),
        "longest_wait_seconds": round(max(waits, default=0.0), 1),
        "service_level_seconds": within_seconds,
    }
    return {**board, **await window_outcomes(queue, campaign, now, within_seconds)}


async def snapshot_fields(queue: InboundQueue, campaign: str, config: Mapping[str, Any] | None,
                          country: str, now: float, others: Sequence[str] = ()
                          ) -> tuple[dict[str, Any], dict[str, tuple[float, ...]]]:  # fmt: skip
    """The pacing snapshot's inbound fields of the campaign's own queue
    (dialer/pacing/snapshot.py): each waiting caller's wait so far, the arrival rate of
    this local hour, the wait target; and, read in the same round trip, the waits of
    the callers queued in each of `others` (campaigns with callers only)."""
    settings = _settings(config, country)
    if settings is None:
        return {}, {}  # the campaign's inbound is unusable: the snapshot says "no inbound"
    waiting, rate, elsewhere = await queue.waiting_and_rate(campaign, now, settings.hours.zone,
                                                            others)  # fmt: skip
    fields = {
        "inbound_waiting": tuple(max(0.0, now - w.since) for w in waiting),
        "inbound_rate_per_s": rate,
        "inbound_wait_target_s": settings.service_level_seconds,
    }
    return fields, {o: tuple(max(0.0, now - w.since) for w in ws) for o, ws in elsewhere.items()}
