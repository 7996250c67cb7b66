"""Run every shipped pacing scenario with every policy and print the bench/RESULTS.md table.

    .venv/bin/python bench/pacing/run.py --seeds 10 [--json-out results.json]

The same library as `cobrador bench pacing` (dialer.pacing.bench); this script
only loops over the scenario files, formats the table and checks the
acceptance lines of issue 6 on the means.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dialer.pacing.bench import run_bench
from dialer.pacing.policies import POLICY_NAMES
from dialer.pacing.scenario import load_scenario

HERE = Path(__file__).parent
BASELINES = ("vicidial_adapt", "issabel")


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--scenario", action="append", help="scenario file (default: all shipped)")
    parser.add_argument("--policy", action="append", help="policy (default: all)")
    parser.add_argument("--json-out", help="also write every run as JSON here")
    args = parser.parse_args(argv)
    files = args.scenario or sorted(str(p) for p in (HERE / "scenarios").glob("*.json"))
    policies = args.policy or list(POLICY_NAMES)
    results = []
    for f in files:
        print(f"running {f} ...", file=sys.stderr, flush=True)
        results.append(run_bench(load_scenario(f), policies, args.seeds))
    print(table(results))
    lines, ok = acceptance(results)
    print()
    print("\n".join(lines))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
