"""CLI: `cobrador bench pacing` runs pacing policies through the shift simulator."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cobrador.ground.settings import Settings


def register(subparsers: Any) -> None:
    # Other packages may add their own `bench` subcommands: share the parser.
    bench = subparsers.choices.get("bench")
    if bench is None:
        bench = subparsers.add_parser("bench", help="benchmarks")
        bench.set_defaults(
            _bench_actions=bench.add_subparsers(
                dest="bench_command", metavar="BENCH", required=True
            )
        )
    actions = bench.get_default("_bench_actions")
    pacing = actions.add_parser("pacing", help="simulate a shift with pacing policies")
    pacing.add_argument("--scenario", required=True, help="scenario JSON file")
    pacing.add_argument(
        "--policy",
        action="append",
        dest="policies",
        metavar="NAME",
        help="policy to run (repeatable; default: all, and the inbound-blind one only "
        "for a scenario with inbound)",
    )
    pacing.add_argument("--seeds", type=int, help="number of seeds (default: the scenario's)")
    pacing.add_argument("--json", action="store_true", help="print the summary as JSON")
    pacing.add_argument("--runs", action="store_true", help="with --json: include every seed's run")
    pacing.set_defaults(func=_bench_pacing)


def _bench_pacing(args: argparse.Namespace, settings: Settings) -> int:
    from cobrador.ground.errors import UserError
    from dialer.pacing.bench import metrics_for, run_bench
    from dialer.pacing.policies import INBOUND_BLIND, POLICY_NAMES
    from dialer.pacing.scenario import ScenarioError, load_scenario

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        raise UserError(str(exc)) from None
    # Without inbound the blind variant is `predictive` all over again.
    default = [p for p in POLICY_NAMES if scenario.inbound is not None or p != INBOUND_BLIND]
    policies = args.policies or default
    unknown = [p for p in policies if p not in POLICY_NAMES]
    if unknown:
        raise UserError(f"unknown policy {unknown[0]!r}; choose from {', '.join(POLICY_NAMES)}")
    seeds = scenario.seeds if args.seeds is None else args.seeds
    if seeds < 1:
        raise UserError("--seeds must be >= 1")
    result = run_bench(scenario, policies, seeds)
    if args.json:
        if not args.runs:
            for entry in result["policies"].values():
                entry.pop("runs", None)
        print(json.dumps(result, indent=2, sort_keys=True))
        return 0
    print(f"{scenario.name}: {scenario.agents} agents, {seeds} seeds (mean [min..max])")
    if scenario.inbound is not None:
        print(
            f"inbound: wait target {scenario.inbound.wait_target_seconds:g} s; waits in seconds "
            "from entering the queue, over answered callers"
        )
    for name, entry in result["policies"].items():
        print(f"  {name}")
        for metric in metrics_for(scenario):
            m = entry[metric]
            print(f"    {metric:28s} {m['mean']:10.4f} [{m['min']:.4f}..{m['max']:.4f}]")
    return 0
