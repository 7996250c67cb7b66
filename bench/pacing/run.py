"""Run every shipped pacing scenario with every policy and print the bench/RESULTS.md table.

    .venv/bin/python bench/pacing/run.py --seeds 10 [--json-out results.json]
    .venv/bin/python bench/pacing/run.py --inbound --seeds 10   # blended inbound

The same library as `cobrador bench pacing` (dialer.pacing.bench); this script
only loops over the scenario files, formats the table and checks the
acceptance lines of issue 6 on the means (issue 13 with --inbound: the
scenarios under scenarios/inbound/, outbound and inbound figures side by side).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dialer.pacing.bench import run_bench
from dialer.pacing.policies import INBOUND_BLIND, POLICY_NAMES
from dialer.pacing.scenario import load_scenario

HERE = Path(__file__).parent
BASELINES = ("vicidial_adapt", "issabel")
OUTBOUND_POLICIES = tuple(p for p in POLICY_NAMES if p != INBOUND_BLIND)
INBOUND_POLICIES = ("predictive", INBOUND_BLIND, "progressive")


def _cell(entry: dict, metric: str, pct: bool = False, digits: int = 3) -> str:
    m = entry[metric]
    if pct:
        return f"{100 * m['mean']:.2f}% ({100 * m['min']:.2f}–{100 * m['max']:.2f})"
    return f"{m['mean']:.{digits}f} ({m['min']:.{digits}f}–{m['max']:.{digits}f})"


def table(results: list[dict]) -> str:
    lines = [
        "| scenario | policy | occupancy | talk utilization | abandonment | worst rolling hour "
        "| calls / agent-h | connects / agent-h | sim-s / wall-s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for res in results:
        for name, e in res["policies"].items():
            lines.append(
                f"| {res['scenario']} | {name} | {_cell(e, 'occupancy')} "
                f"| {_cell(e, 'talk_utilization')} | {_cell(e, 'abandonment', pct=True)} "
                f"| {_cell(e, 'worst_hour_abandonment', pct=True)} "
                f"| {_cell(e, 'calls_per_agent_hour', digits=1)} "
                f"| {_cell(e, 'connects_per_agent_hour', digits=1)} "
                f"| {e['sim_seconds_per_wall_second']['mean']:.0f} "
                f"(min {e['sim_seconds_per_wall_second']['min']:.0f}) |"
            )
    return "\n".join(lines)


def acceptance(results: list[dict]) -> tuple[list[str], bool]:
    lines, ok = [], True
    for res in results:
        pol = res["policies"]
        if "predictive" not in pol:
            continue
        p = pol["predictive"]
        worst = p["worst_hour_abandonment"]["mean"]
        occ = p["occupancy"]["mean"]
        checks = [(f"worst hour {100 * worst:.2f}% <= 3%", worst <= res["abandon_target"])]
        for b in BASELINES:
            if b in pol and pol[b]["worst_hour_abandonment"]["mean"] <= res["abandon_target"]:
                bocc = pol[b]["occupancy"]["mean"]
                checks.append((f"occupancy {occ:.3f} >= {b} {bocc:.3f}", occ >= bocc))
        if res["agents"] >= 100:
            checks.append((f"occupancy {occ:.3f} >= 0.90", occ >= 0.90))
        for text, passed in checks:
            ok &= passed
            lines.append(f"- {res['scenario']}: {text}: {'met' if passed else 'NOT MET'}")
    return lines, ok


def _seconds(entry: dict, metric: str) -> str:
    m = entry[metric]
    return f"{m['mean']:.1f} ({m['min']:.1f}–{m['max']:.1f})"


def inbound_table(results: list[dict]) -> str:
    lines = [
        "| scenario | policy | occupancy | abandonment | worst rolling hour "
        "| inbound wait mean s | inbound wait p50 s | inbound wait p90 s | inbound wait max s "
        "| inbound abandoned in queue | inbound answered within target |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for res in results:
        for name, e in res["policies"].items():
            lines.append(
                f"| {res['scenario']} | {name} | {_cell(e, 'occupancy')} "
                f"| {_cell(e, 'abandonment', pct=True)} "
                f"| {_cell(e, 'worst_hour_abandonment', pct=True)} "
                f"| {_seconds(e, 'inbound_wait_mean')} | {_seconds(e, 'inbound_wait_p50')} "
                f"| {_seconds(e, 'inbound_wait_p90')} | {_seconds(e, 'inbound_wait_max')} "
                f"| {_cell(e, 'inbound_abandonment', pct=True)} "
                f"| {_cell(e, 'inbound_service_level', pct=True)} |"
            )
    return "\n".join(lines)


def _blind_check(mine: dict, blind: dict) -> tuple[str, bool]:
    """The policy blind to inbound must keep inbound callers waiting longer.

    Judged on the expected (mean) wait, the figure the reserve is sized for;
    p90 is 0 s for both on large teams, where fewer than one caller in ten
    waits at all. Seeds are paired (same callers), so the count of seeds on
    which the blind policy waited longer is shown beside the means.
    """
    m_runs, b_runs = mine["runs"], blind["runs"]
    longer = sum(
        b["inbound_wait_mean"] > m["inbound_wait_mean"] for m, b in zip(m_runs, b_runs, strict=True)
    )
    m_mean, b_mean = mine["inbound_wait_mean"]["mean"], blind["inbound_wait_mean"]["mean"]
    text = (
        f"{INBOUND_BLIND} waits longer: mean {b_mean:.2f} s vs {m_mean:.2f} s "
        f"(longer on {longer} of {len(m_runs)} seeds), p90 {blind['inbound_wait_p90']['mean']:.1f} s "
        f"vs {mine['inbound_wait_p90']['mean']:.1f} s; occupancy {blind['occupancy']['mean']:.3f} "
        f"vs {mine['occupancy']['mean']:.3f}"
    )
    return text, b_mean > m_mean


def inbound_acceptance(results: list[dict]) -> tuple[list[str], bool]:
    """Issue 13 on the seed means: outbound worst hour and inbound p90 under target, blind worse."""
    lines, ok = [], True
    for res in results:
        pol = res["policies"]
        if "predictive" not in pol:
            continue
        p = pol["predictive"]
        worst, p90 = p["worst_hour_abandonment"]["mean"], p["inbound_wait_p90"]["mean"]
        target, wait_target = res["abandon_target"], res["inbound_wait_target"]
        checks = [
            (f"worst hour {100 * worst:.2f}% <= {100 * target:g}%", worst <= target),
            (f"inbound wait p90 {p90:.1f} s <= {wait_target:g} s", p90 <= wait_target),
        ]
        if INBOUND_BLIND in pol:
            checks.append(_blind_check(p, pol[INBOUND_BLIND]))
        for text, passed in checks:
            ok &= passed
            lines.append(f"- {res['scenario']}: {text}: {'met' if passed else 'NOT MET'}")
    return lines, ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--scenario", action="append", help="scenario file (default: all shipped)")
    parser.add_argument("--policy", action="append", help="policy (default: all)")
    parser.add_argument("--json-out", help="also write every run as JSON here")
    parser.add_argument(
        "--inbound", action="store_true", help="the blended-inbound scenarios and table"
    )
    args = parser.parse_args(argv)
    folder = HERE / "scenarios" / "inbound" if args.inbound else HERE / "scenarios"
    files = args.scenario or sorted(str(p) for p in folder.glob("*.json"))
    policies = args.policy or list(INBOUND_POLICIES if args.inbound else OUTBOUND_POLICIES)
    results = []
    for f in files:
        print(f"running {f} ...", file=sys.stderr, flush=True)
        results.append(run_bench(load_scenario(f), policies, args.seeds))
    print(inbound_table(results) if args.inbound else table(results))
    lines, ok = inbound_acceptance(results) if args.inbound else acceptance(results)
    print()
    print("\n".join(lines))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
