"""How much a floor's answers in an hour vary, against a Poisson count of the same mean.

    nice .venv/bin/python bench/pacing/answer_spread.py bench/pacing/scenarios/agents-3.json \\
        --policy progressive --seeds 10 --first-seed 10

The pacing guard's break probability (`uncertain_allowance`) treats the hour's
answers as a Poisson count: an hour of N expected answers may get fewer, and then
allows fewer abandons. A floor kept busy answers as fast as its agents free up, so
its hourly counts may vary far less. This prints, per seed, the answers in every
rolling hour (a start every 5 minutes, after the first hour), their mean, variance
and minimum, and the share of hours under the count that allows one abandon at the
scenario's target, beside what a Poisson count of that mean gives.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from dialer.pacing.policies import make_policy  # noqa: E402
from dialer.pacing.scenario import load_scenario  # noqa: E402
from dialer.pacing.simulator import _Sim  # noqa: E402  (its answer times; simulate() keeps none)

HOUR = 3600.0
STEP = 300.0


def poisson_below(mean: float, k: int) -> float:
    """P(Poisson(mean) < k)."""
    term = math.exp(-mean)
    total = 0.0
    for i in range(k):
        total += term
        term *= mean / (i + 1)
    return total


def hour_counts(answers: list[float], shift: float) -> list[int]:
    counts = []
    start = HOUR
    while start + HOUR <= shift:
        counts.append(sum(1 for t in answers if start <= t < start + HOUR))
        start += STEP
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario")
    parser.add_argument("--policy", default="progressive")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    args = parser.parse_args(argv)
    sc = load_scenario(args.scenario)
    one = math.ceil(1.0 / sc.abandon_target - 1e-9)  # answers an hour that allow one abandon
    print(f"| seed | mean | variance | min | hours under {one} | Poisson P(< {one}) |")
    print("|---|---|---|---|---|---|")
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        sim = _Sim(sc, make_policy(args.policy), seed)
        sim.run()
        counts = hour_counts(sorted(sim.answers), sc.shift_seconds)
        if not counts:
            continue
        mean = statistics.mean(counts)
        under = sum(c < one for c in counts) / len(counts)
        print(f"| {seed} | {mean:.1f} | {statistics.pvariance(counts):.1f} | {min(counts)} "
              f"| {under:.3f} | {poisson_below(mean, one):.3f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
