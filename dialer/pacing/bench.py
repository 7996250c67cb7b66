"""Run pacing policies over many seeds of a scenario and summarise: mean, min and max per metric."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dialer.pacing.policies import make_policy
from dialer.pacing.scenario import Scenario
from dialer.pacing.simulator import RunResult, simulate

METRICS = (
    "occupancy",
    "talk_utilization",
    "abandonment",
    "worst_hour_abandonment",
    "worst_day_abandonment",
    "worst_month_abandonment",
    "calls_per_agent_hour",
    "connects_per_agent_hour",
    "sim_seconds_per_wall_second",
)
# Beside the outbound figures when the scenario has inbound callers.
INBOUND_METRICS = (
    "inbound_wait_mean",
    "inbound_wait_p50",
    "inbound_wait_p90",
    "inbound_wait_max",
    "inbound_abandonment",
    "inbound_service_level",
)


def metrics_for(scenario: Scenario) -> tuple[str, ...]:
    return METRICS + INBOUND_METRICS if scenario.inbound is not None else METRICS


def summarise(
    runs: Sequence[RunResult], metrics: Sequence[str] = METRICS
) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for metric in metrics:
        values = [float(getattr(r, metric)) for r in runs]
        out[metric] = {
            "mean": sum(values) / len(values),
            "min": min(values),
            "max": max(values),
        }
    return out


def run_bench(
    scenario: Scenario, policies: Sequence[str], seeds: int, first_seed: int = 0
) -> dict[str, Any]:
    """Each policy runs the same seeds (same callers, same talk times drawn in order)."""
    result: dict[str, Any] = {
        "scenario": scenario.name,
        "agents": scenario.agents,
        "shift_seconds": scenario.shift_seconds,
        "seeds": seeds,
        "abandon_target": scenario.abandon_target,
        "policies": {},
    }
    if scenario.inbound is not None:
        result["inbound_wait_target"] = scenario.inbound.wait_target_seconds
    for name in policies:
        runs = [
            simulate(scenario, make_policy(name), seed)
            for seed in range(first_seed, first_seed + seeds)
        ]
        entry = summarise(runs, metrics_for(scenario))
        entry["runs"] = [r.as_dict() for r in runs]  # type: ignore[assignment]
        result["policies"][name] = entry
    return result
