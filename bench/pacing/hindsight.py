"""The hindsight-tuned reference: simple policies whose one parameter is chosen per scenario after the fact.

What a supervisor who knew the day in advance achieves with a fixed dial
setting: for each family, every parameter of a grid is run on the same seeds
as the policies under test, a parameter is feasible only if EVERY seed's
worst rolling hour is at most the target, and the best mean occupancy among
the feasible ones is "best in hindsight". Policies the live dialer never
runs: they live here, in the bench, and read the same `Snapshot`.

- `fixed_ratio` (parameter: calls per agent free soon): keeps
  ratio x (ready + wrap-up agents) calls ringing or answered-waiting.
- `look_ahead` (parameter: one scale factor): places the most calls for
  which the people expected to answer within the next `horizon` seconds
  (answered calls waiting, ringing calls given how long they have rung, the
  new calls) are at most factor x the agents expected free by then (ready,
  plus each busy agent's chance from censored Kaplan-Meier talk and
  wrap-up estimates, as `predictive` estimates them).

Both never place fewer than `progressive` would.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from dialer.pacing.estimators import RingModel, Survival, free_within_rows, wrap_free_rows
from dialer.pacing.policies import ProgressivePolicy, _with_running
from dialer.pacing.scenario import Scenario
from dialer.pacing.simulator import RunResult, simulate
from dialer.pacing.snapshot import READY, TALKING, WRAP_UP, Snapshot


class FixedRatioPolicy:
    name = "fixed_ratio"

    def __init__(self, ratio: float) -> None:
        if ratio <= 0:
            raise ValueError("ratio must be > 0")
        self.ratio = ratio
        self._progressive = ProgressivePolicy()

    def calls_to_place(self, snapshot: Snapshot) -> int:
        s = snapshot
        soon = sum(1 for a in s.agents if a.state in (READY, WRAP_UP))
        want = math.floor(self.ratio * soon) - len(s.ringing) - s.waiting
        return max(0, min(s.room, max(want, self._progressive.calls_to_place(s))))


class LookAheadPolicy:
    name = "look_ahead"

    def __init__(self, factor: float, horizon: float = 10.0) -> None:
        if factor <= 0 or horizon <= 0:
            raise ValueError("factor and horizon must be > 0")
        self.factor = factor
        self.horizon = horizon
        self._progressive = ProgressivePolicy()
        self._stats_at: float | None = None
        self._built_at: float | None = None
        self._ring: RingModel | None = None
        self._talk: tuple[list[tuple[float, ...]], tuple[float, ...]] = ([], (0.0, 0.0))
        self._wrap: tuple[list[tuple[float, ...]], tuple[float, ...]] = ([], (0.0, 0.0))

    def _refresh(self, s: Snapshot) -> None:
        if s.stats_at == self._stats_at or (
            self._built_at is not None and s.now - self._built_at < 60.0
        ):
            return
        self._stats_at, self._built_at = s.stats_at, s.now
        self._ring = RingModel.from_samples(s.ring_samples, (self.horizon,))
        talk = Survival.from_samples(_with_running(s.talk_samples, s, TALKING), 180.0)
        wrap = Survival.from_samples(_with_running(s.wrap_samples, s, WRAP_UP), 20.0)
        supply = (self.horizon + s.connect_grace_seconds,)
        points = wrap.quantiles(5) if wrap.finished else (20.0,)
        self._talk = free_within_rows(talk, points, supply)
        self._wrap = wrap_free_rows(wrap, supply)

    def calls_to_place(self, snapshot: Snapshot) -> int:
        s = snapshot
        progressive = self._progressive.calls_to_place(s)
        self._refresh(s)
        ring = self._ring
        if ring is None or ring.samples < 30:
            return progressive
        supply = 0.0
        for a in s.agents:
            if a.state == READY:
                supply += 1.0
            elif a.state in (TALKING, WRAP_UP):
                rows, tail = self._talk if a.state == TALKING else self._wrap
                t = int(s.now - a.state_since)
                supply += (rows[t] if 0 <= t < len(rows) else tail)[0]
        demand = float(s.waiting) + sum(ring.row(s.now - c.dialed_at)[0] for c in s.ringing)
        per_call = ring.rows[0][0]
        if per_call < 1e-6:
            return progressive
        n = math.floor((self.factor * supply - demand) / per_call)
        return max(0, min(s.room, max(n, progressive)))


FAMILIES: dict[str, Callable[[float], object]] = {
    "fixed_ratio": FixedRatioPolicy,
    "look_ahead": LookAheadPolicy,
}
# Coarse geometric grids (steps of x1.25), least to most aggressive; the
# search refines around the best by halving the step (x1.118, x1.057).
STEP = 1.25
GRIDS: dict[str, tuple[float, ...]] = {
    "fixed_ratio": tuple(round(0.5 * STEP**i, 4) for i in range(12)),  # 0.5 .. 5.8
    "look_ahead": tuple(round(0.08 * STEP**i, 4) for i in range(14)),  # 0.08 .. 1.46
}
# Searched only when nothing on the grid above is feasible (an 8-agent team
# whose answer rate falls, a 5-agent one with lunch): the cautious end, down
# to where look_ahead places what `progressive` places (at 0.0134, factor x
# the agents expected free is a fraction of one call for teams up to ~50),
# so "none feasible" there means even about progressive breaks an hour.
CAUTIOUS_GRIDS: dict[str, tuple[float, ...]] = {
    "look_ahead": tuple(round(0.08 * STEP**-i, 4) for i in range(1, 9)),  # 0.064 .. 0.0134
}


@dataclass
class Trial:
    family: str
    param: float
    runs: list[RunResult] = field(default_factory=list)
    feasible: bool = True

    @property
    def occupancy(self) -> float:
        return sum(r.occupancy for r in self.runs) / len(self.runs)

    @property
    def worst_hour(self) -> float:
        return max(r.worst_hour_abandonment for r in self.runs)


def evaluate(
    scenario: Scenario,
    family: str,
    param: float,
    seeds: Sequence[int],
    run: Callable[[Scenario, object, int], RunResult] | None = None,
) -> Trial:
    """Run the seeds in order; stop at the first seed whose worst hour breaks the target."""
    sim = run or (lambda sc, pol, seed: simulate(sc, pol, seed))  # type: ignore[arg-type]
    trial = Trial(family, param)
    for seed in seeds:
        result = sim(scenario, FAMILIES[family](param), seed)
        trial.runs.append(result)
        if result.worst_hour_abandonment > scenario.abandon_target:
            trial.feasible = False
            break
    return trial


def search(
    scenario: Scenario,
    family: str,
    seeds: Sequence[int],
    grid: Iterable[float] | None = None,
    refine: int = 2,
) -> tuple[Trial | None, list[Trial]]:
    """Best feasible parameter of `family` on these seeds, and every trial made.

    Bisection over the coarse grid for its most aggressive feasible point
    (more aggression places more calls: more occupancy and more abandons),
    then the (geometric) step is halved `refine` times between the best
    feasible point and the next one up. An infeasible trial stops at its
    first seed over the target, so most of the cost is in feasible ones.
    When nothing on the family's grid is feasible, `CAUTIOUS_GRIDS` (below
    the grid's bottom) is bisected the same way.
    """
    points = sorted(grid or GRIDS[family])
    trials: list[Trial] = []
    lo, hi = _bisect(scenario, family, seeds, points, trials)
    if lo < 0 and grid is None and family in CAUTIOUS_GRIDS:
        # Nothing feasible: the cautious extension, whose top is under the grid's bottom.
        points = sorted(CAUTIOUS_GRIDS[family]) + points[:1]
        lo, hi = _bisect(scenario, family, seeds, points[:-1], trials)
    if lo < 0:
        return None, trials
    below, above = points[lo], points[hi] if hi < len(points) else points[lo] * STEP
    for _ in range(refine):
        p = round(math.sqrt(below * above), 4)
        t = evaluate(scenario, family, p, seeds)
        trials.append(t)
        if t.feasible:
            below = p
        else:
            above = p
    return _best(trials), trials


def _bisect(
    scenario: Scenario,
    family: str,
    seeds: Sequence[int],
    points: Sequence[float],
    trials: list[Trial],
) -> tuple[int, int]:
    """Highest index known feasible (-1: none) and lowest known infeasible among `points`."""
    lo, hi = -1, len(points)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        t = evaluate(scenario, family, points[mid], seeds)
        trials.append(t)
        if t.feasible:
            lo = mid
        else:
            hi = mid
    return lo, hi


def _best(trials: list[Trial]) -> Trial | None:
    feasible = [t for t in trials if t.feasible]
    return max(feasible, key=lambda t: t.occupancy) if feasible else None
