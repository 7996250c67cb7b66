"""Occupancy hour by hour of the shift: where in a day a policy loses to another.

    .venv/bin/python bench/pacing/by_hour.py --scenario bench/pacing/scenarios/drift-20.json \
        --policy predictive --policy look_ahead:0.1747 --seeds 10

Each policy runs the scenario's seeds in the simulator behind a thin wrapper that
sums, per hour of the shift, the agent-seconds busy (reserved, talking, wrap-up)
and active (those plus ready) between its decisions; a row prints the mean over
the seeds of busy / active for each hour, then each seed's shift figures. A
hindsight family is named `family:parameter` (bench/pacing/hindsight.py).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hindsight import FAMILIES  # noqa: E402

from dialer.pacing.policies import make_policy  # noqa: E402
from dialer.pacing.scenario import load_scenario  # noqa: E402
from dialer.pacing.simulator import simulate  # noqa: E402
from dialer.pacing.snapshot import READY, RESERVED, TALKING, WRAP_UP, Snapshot  # noqa: E402

BUSY = (RESERVED, TALKING, WRAP_UP)


class HourTap:
    """Passes every decision to `inner`, summing busy and active agent-seconds per hour."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.name = getattr(inner, "name", "policy")
        self.busy: dict[int, float] = defaultdict(float)
        self.active: dict[int, float] = defaultdict(float)
        self._last: tuple[float, int, int] | None = None

    def calls_to_place(self, snapshot: Snapshot) -> int:
        if self._last is not None:
            at, busy, active = self._last
            hour = int(at // 3600)
            self.busy[hour] += (snapshot.now - at) * busy
            self.active[hour] += (snapshot.now - at) * active
        busy = sum(1 for a in snapshot.agents if a.state in BUSY)
        active = busy + sum(1 for a in snapshot.agents if a.state == READY)
        self._last = (snapshot.now, busy, active)
        return self.inner.calls_to_place(snapshot)  # type: ignore[attr-defined]

    def by_hour(self, hours: int) -> list[float]:
        return [self.busy[h] / self.active[h] if self.active[h] else 0.0 for h in range(hours)]


def policy_named(name: str) -> object:
    family, _, param = name.partition(":")
    if family in FAMILIES:
        if not param:
            raise SystemExit(f"{family} needs its parameter: {family}:<value>")
        return FAMILIES[family](float(param))
    return make_policy(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--policy", action="append", required=True)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not 1 <= args.seeds <= 100:
        parser.error("--seeds must be 1..100")
    scenario = load_scenario(args.scenario)
    hours = max(1, int(-(-scenario.shift_seconds // 3600)))
    print(f"| policy | {' | '.join(f'hour {h}' for h in range(hours))} | shift |")
    print(f"|---|{'---|' * hours}---|")
    for name in args.policy:
        rows, shifts = [], []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            tap = HourTap(policy_named(name))
            result = simulate(scenario, tap, seed)
            rows.append(tap.by_hour(hours))
            shifts.append(result.occupancy)
            print(f"  {name} seed {seed}: occupancy {result.occupancy:.3f}, worst hour "
                  f"{result.worst_hour_abandonment:.2%}, abandoned {result.abandoned}",
                  file=sys.stderr, flush=True)  # fmt: skip
        means = [sum(r[h] for r in rows) / len(rows) for h in range(hours)]
        cells = " | ".join(f"{m:.3f}" for m in means)
        print(f"| {name} | {cells} | {sum(shifts) / len(shifts):.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
