"""Estimators behind predictive pacing: censored survival of handle times, answer hazards, Wilson bound.

All work on whole seconds: estimates are tables indexed by elapsed seconds, built
once per statistics refresh, so a policy's per-tick cost is a few list lookups.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dialer.pacing.snapshot import DurationSample, RingSample

MAX_TABLE_SECONDS = 7200


def wilson_upper(successes: float, trials: float, z: float = 1.645) -> float:
    """One-sided Wilson score upper bound of a proportion (1.0 when there are no trials)."""
    if trials <= 0:
        return 1.0
    if successes < 0 or successes > trials:
        raise ValueError(f"successes {successes} outside 0..{trials}")
    p = successes / trials
    z2 = z * z
    centre = p + z2 / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    return min(1.0, (centre + spread) / (1 + z2 / trials))


@dataclass(frozen=True)
class Survival:
    """Kaplan-Meier survival S(t) = P(duration > t) on whole seconds, with an exponential tail.

    `table[t]` for t in 0..len-1; beyond it S decays with `tail_rate` (events per
    second of exposure), so every elapsed time has a finite, positive answer.
    """

    table: tuple[float, ...]
    tail_rate: float
    finished: int
    censored: int

    @classmethod
    def from_samples(cls, samples: Iterable[DurationSample], prior_mean: float) -> Survival:
        finished_at: dict[int, int] = {}
        leaving_at: dict[int, int] = {}  # at risk up to and including this second
        events = censored = 0
        exposure = 0.0
        top = 0
        for s in samples:
            if s.seconds < 0 or math.isnan(s.seconds):
                raise ValueError(f"negative or NaN duration sample {s.seconds!r}")
            t = min(int(s.seconds), MAX_TABLE_SECONDS - 1)
            top = max(top, t)
            leaving_at[t] = leaving_at.get(t, 0) + 1
            exposure += s.seconds
            if s.finished:
                finished_at[t] = finished_at.get(t, 0) + 1
                events += 1
            else:
                censored += 1
        # The tail hazard: exponential MLE, with one pseudo-event at the prior
        # mean so a handful of samples cannot make it 0 or huge.
        tail_rate = (events + 1) / (exposure + prior_mean)
        if events + censored == 0:
            return cls((1.0,), 1.0 / prior_mean, 0, 0)
        at_risk = events + censored
        s_value = 1.0
        table = [1.0]
        for t in range(top + 1):
            d = finished_at.get(t, 0)
            if at_risk > 0 and d:
                s_value *= 1.0 - d / at_risk
            at_risk -= leaving_at.get(t, 0)
            table.append(s_value)
        return cls(tuple(table), tail_rate, events, censored)

    def at(self, t: float) -> float:
        if t <= 0:
            return 1.0
        i = int(t)
        last = len(self.table) - 1
        if i <= last:
            return self.table[i]
        return self.table[last] * math.exp(-self.tail_rate * (t - last))

    def quantiles(self, k: int) -> tuple[float, ...]:
        """k representative durations at probabilities (j + 0.5) / k."""
        out = []
        for j in range(k):
            target = 1.0 - (j + 0.5) / k  # survival level
            t = 0
            while self.at(t) > target and t < MAX_TABLE_SECONDS * 4:
                t += 1
            out.append(float(t))
        return tuple(out)

    def mean(self) -> float:
        """Mean restricted to the table plus the exponential tail's mean beyond it."""
        body = sum(self.table[1:])
        return body + self.table[-1] / self.tail_rate


def free_within_rows(
    talk: Survival, wrap_points: Sequence[float], horizons: Sequence[float]
) -> tuple[list[tuple[float, ...]], tuple[float, ...]]:
    """For a TALKING agent: P(talk ends and wrap-up ends within x | talked t so far).

    Returns rows indexed by whole elapsed seconds t (each row: the probabilities
    for every horizon x, followed by their Bernoulli variances) and the row
    to use beyond the table. The wrap-up is represented by equally likely points.
    """
    k = len(wrap_points)
    rows: list[tuple[float, ...]] = []
    last = len(talk.table) - 1
    for t in range(last + 1):
        st = talk.at(t)
        if st < 1e-9:
            break
        ps = []
        for x in horizons:
            acc = 0.0
            for w in wrap_points:
                if w < x:
                    acc += 1.0 - talk.at(t + x - w) / st
            ps.append(acc / k)
        rows.append(_with_variances(ps))
    tail = []
    for x in horizons:
        acc = 0.0
        for w in wrap_points:
            if w < x:
                acc += 1.0 - math.exp(-talk.tail_rate * (x - w))
        tail.append(acc / k)
    return rows, _with_variances(tail)


def wrap_free_rows(
    wrap: Survival, horizons: Sequence[float]
) -> tuple[list[tuple[float, ...]], tuple[float, ...]]:
    """For an agent in WRAP-UP: P(wrap-up ends within x | wrapped w so far), rows by w."""
    rows: list[tuple[float, ...]] = []
    for w in range(len(wrap.table)):
        sw = wrap.at(w)
        if sw < 1e-9:
            break
        rows.append(_with_variances([1.0 - wrap.at(w + x) / sw for x in horizons]))
    tail = _with_variances([1.0 - math.exp(-wrap.tail_rate * x) for x in horizons])
    return rows, tail


@dataclass(frozen=True)
class RingCounts:
    """Ring samples counted per whole second of ringing: the raw material of a `RingModel`.

    `leaving[t]`: calls whose observation stopped in second t (they ended, or
    were still ringing when counted: censored); `ended[t]`: those that ended
    there; `human[t]`: those a person answered. `calls`: all of them. Counts
    are floats so that discounted memories of earlier windows add to them.
    """

    leaving: tuple[float, ...]
    ended: tuple[float, ...]
    human: tuple[float, ...]
    calls: float

    @classmethod
    def of(cls, samples: Iterable[RingSample]) -> RingCounts:
        leaving = [0] * 64
        ended = [0] * 64
        human = [0] * 64
        n = 0
        top = 0
        cap = MAX_TABLE_SECONDS - 1
        for s in samples:
            seconds = s.seconds
            if not seconds >= 0:  # also catches NaN
                raise ValueError(f"negative or NaN ring sample {seconds!r}")
            t = int(seconds)
            if t > cap:
                t = cap
            if t >= len(leaving):
                grow = [0] * (t + 1 - len(leaving) + 64)
                leaving += grow
                ended += grow
                human += grow
            if t > top:
                top = t
            n += 1
            leaving[t] += 1
            outcome = s.outcome
            if outcome != "ringing":
                ended[t] += 1
                if outcome == "human":
                    human[t] += 1
        end = top + 1
        return cls(tuple(leaving[:end]), tuple(ended[:end]), tuple(human[:end]), n)

    def plus(self, other: RingCounts, weight: float = 1.0) -> RingCounts:
        """These counts with `other`'s added, each of its calls counting `weight`."""
        if weight < 0:
            raise ValueError("weight must be >= 0")
        size = max(len(self.leaving), len(other.leaving))

        def add(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, ...]:
            return tuple(
                (a[i] if i < len(a) else 0.0) + weight * (b[i] if i < len(b) else 0.0)
                for i in range(size)
            )

        return RingCounts(
            add(self.leaving, other.leaving),
            add(self.ended, other.ended),
            add(self.human, other.human),
            self.calls + weight * other.calls,
        )


EMPTY_RING_COUNTS = RingCounts((0.0,), (0.0,), (0.0,), 0.0)


@dataclass(frozen=True)
class RingModel:
    """Competing-risk estimate of how ringing calls end, from censored ring samples.

    `rows[r]`: for a call that has rung r whole seconds, P(a person answers
    within the next h seconds) for every horizon h, then the Bernoulli
    variances. `human_rate`: P(a new call is answered by a person).
    `at_risk[r]`: the sampled calls still ringing at r seconds, the count
    behind `rows[r]` (a 15-minute window of a small team holds ~80 calls,
    and a few dozen of them behind a row past 10 s: its late answers are
    a handful, so the row's estimate is rough; see `row_upper`).
    """

    rows: tuple[tuple[float, ...], ...]
    human_rate: float
    samples: int
    at_risk: tuple[int, ...] = ()

    @classmethod
    def from_samples(cls, samples: Iterable[RingSample], horizons: Sequence[float]) -> RingModel:
        return cls.from_counts(RingCounts.of(samples), horizons)

    @classmethod
    def from_counts(cls, counts: RingCounts, horizons: Sequence[float]) -> RingModel:
        leaving, ended, human = counts.leaving, counts.ended, counts.human
        n = counts.calls
        top = len(leaving) - 1
        # Cause-specific hazards per second, then cumulative incidence of a
        # person answering from each second on: P(human in [r, r+h) | ringing at r).
        at_risk = n
        hz_human: list[float] = []
        hz_end: list[float] = []
        risk_counts: list[int] = []
        for t in range(top + 1):
            risk_counts.append(int(at_risk + 1e-9))
            if at_risk > 1e-9:
                hz_human.append(min(1.0, human[t] / at_risk))
                hz_end.append(min(1.0, ended[t] / at_risk))
            else:
                hz_human.append(0.0)
                hz_end.append(1.0)
            at_risk -= leaving[t]
        length = top + 1
        # Over absolute seconds: surv[t] = P(still ringing at t), incidence[t] =
        # P(a person answered before t). Then for a call ringing at r,
        # P(person within d more seconds) = (incidence[r+d] - incidence[r]) / surv[r].
        surv = [1.0]
        incidence = [0.0]
        for t in range(length):
            incidence.append(incidence[t] + surv[t] * hz_human[t])
            surv.append(surv[t] * (1.0 - hz_end[t]))
        steps = [int(h) for h in horizons]
        rows = []
        for r in range(length):
            if surv[r] <= 1e-12:
                rows.append(_with_variances([0.0] * len(steps)))
                continue
            base, scale = incidence[r], 1.0 / surv[r]
            rows.append(
                _with_variances([(incidence[min(r + d, length)] - base) * scale for d in steps])
            )
        human_rate = _total_human(hz_human, hz_end)
        if not rows:
            rows = [_with_variances([0.0 for _ in horizons])]
            risk_counts = [0]
        return cls(tuple(rows), human_rate, int(n + 1e-9), tuple(risk_counts))

    def at_level(self, human_rate: float) -> RingModel:
        """The same timing shape with every row scaled to a person-answer rate of `human_rate`."""
        if self.human_rate <= 0 or human_rate == self.human_rate:
            return self
        factor = human_rate / self.human_rate
        return RingModel(
            rescaled_rows(self.rows, factor),
            min(1.0, human_rate),
            self.samples,
            self.at_risk,
        )

    def count_at(self, rung_seconds: float) -> int:
        """The sampled calls behind `row(rung_seconds)` (0 when none are recorded)."""
        if not self.at_risk:
            return 0
        i = min(max(0, int(rung_seconds)), len(self.at_risk) - 1)
        return self.at_risk[i]

    def row(self, rung_seconds: float) -> tuple[float, ...]:
        i = int(rung_seconds)
        if i < 0:
            i = 0
        if i >= len(self.rows):
            i = len(self.rows) - 1
        return self.rows[i]


def _total_human(hz_human: list[float], hz_end: list[float]) -> float:
    surv = 1.0
    total = 0.0
    for h, e in zip(hz_human, hz_end, strict=True):
        total += surv * h
        surv *= 1.0 - e
    return total


def _with_variances(ps: Sequence[float]) -> tuple[float, ...]:
    clipped = [min(1.0, max(0.0, p)) for p in ps]
    return tuple(clipped) + tuple(p * (1.0 - p) for p in clipped)


def poisson_tail(k: int, lam: float) -> float:
    """P(Poisson(lam) > k); 1.0 for k < 0."""
    if k < 0:
        return 1.0
    if lam <= 0:
        return 0.0
    term = math.exp(-lam)
    at_most = term
    for j in range(1, k + 1):
        term *= lam / j
        at_most += term
    return max(0.0, 1.0 - at_most)


def budget_rate(allowed: int, probability: float) -> float:
    """The largest expected count lam with P(Poisson(lam) > allowed) <= probability.

    How many abandons an hour may be EXPECTED when at most `allowed` may
    happen: abandons come as a Poisson stream, so the expectation must stay
    well under the allowance, the more so the smaller it is (1 allowed at 5 %:
    0.36 expected; 9 allowed: 5.4; 45 allowed: 34.9).
    """
    if not 0 < probability < 1:
        raise ValueError("probability must be in (0, 1)")
    if allowed < 0:
        return 0.0
    lo, hi = 0.0, allowed + 10.0 * math.sqrt(allowed + 1.0) + 10.0
    for _ in range(50):
        mid = (lo + hi) / 2
        if poisson_tail(allowed, mid) <= probability:
            lo = mid
        else:
            hi = mid
    return lo


def answer_change_point(
    samples: Sequence[RingSample], z: float = 3.0, min_part: int = 30, step: int = 10
) -> int:
    """Where the latest stretch of calls with one person-answer rate starts (0: no change seen).

    `samples` oldest first by dial time. Calls from the first one still
    ringing on are left out (their outcome is unknown, and those of them that
    ended are the quick busy/failed ones), so the counts are of settled calls.
    Each split j (every `step` calls, both sides at least `min_part` calls)
    compares the answer rate after j with the rate before it: a pooled
    two-proportion z statistic. The split with the largest |z| is the change
    when |z| exceeds `z`; then the calls from j on describe the rate now.
    Comparing the latest calls with the ones BEFORE them (not with a window
    that holds them) sees a change of 30 % -> 12 % at 20 agents about five
    minutes after it; a false alarm is a `z`-sigma event at the best split.
    """
    settled = len(samples)
    for i, s in enumerate(samples):
        if s.outcome == "ringing":
            settled = i
            break
    if settled < 2 * min_part:
        return 0
    humans = [0]
    for s in samples[:settled]:
        humans.append(humans[-1] + (s.outcome == "human"))
    total = humans[settled]
    best_j, best_z = 0, 0.0
    for j in range(settled - min_part, min_part - 1, -step):
        before, after = j, settled - j
        p_before = humans[j] / before
        p_after = (total - humans[j]) / after
        pooled = total / settled
        var = pooled * (1 - pooled) * (1 / before + 1 / after)
        if var <= 0:
            continue
        stat = abs(p_after - p_before) / math.sqrt(var)
        if stat > best_z:
            best_j, best_z = j, stat
    return best_j if best_z > z else 0


def answer_rate_error(rate: float, settled: int) -> float:
    """Relative standard error of a person-answer rate estimated from `settled` calls.

    sqrt((1 - p) / (p n)): the error every call's answer probability shares,
    so it adds (error x expected answers)^2 to the variance of the answers to
    come (binomial sampling variance of the estimate; infinite without data).
    """
    if settled <= 0 or rate <= 0:
        return math.inf
    return math.sqrt(max(0.0, 1.0 - rate) / (rate * settled))


def rescaled_rows(
    rows: Sequence[tuple[float, ...]], factor: float
) -> tuple[tuple[float, ...], ...]:
    """Ring rows (probabilities, then variances) with every probability times `factor`."""
    out = []
    for row in rows:
        k = len(row) // 2
        out.append(_with_variances([p * factor for p in row[:k]]))
    return tuple(out)


@dataclass
class RateMemory:
    """Person answers and settled calls of earlier ring windows, discounted by a half-life.

    The ring samples cover only the last `window` seconds (15 minutes): a
    small team's window holds ~100 calls, and its answer rate wanders by
    chance (30 % true, 15 % seen). The memory keeps the windows before it:
    `bank` is called at most every `window` seconds with the current
    window's counts, which join the memory only at the NEXT bank, when no
    later window can still hold those calls (so the memory and the window
    in use never share a call). Counts decay with `half_life`, so a slow
    drift is followed even when no change is ever declared.
    """

    window: float = 900.0
    half_life: float = 3600.0
    humans: float = 0.0
    calls: float = 0.0
    at: float | None = None  # when `humans`/`calls` were last decayed
    banked_at: float | None = None
    pending: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        if self.window <= 0 or self.half_life <= 0:
            raise ValueError("window and half_life must be positive seconds")

    def _decay_to(self, now: float) -> None:
        if self.at is not None and now > self.at:
            k = 0.5 ** ((now - self.at) / self.half_life)
            self.humans *= k
            self.calls *= k
        self.at = now if self.at is None else max(self.at, now)

    def counts(self, now: float) -> tuple[float, float]:
        """(person answers, settled calls) remembered, decayed to `now`; never the current window."""
        self._decay_to(now)
        return self.humans, self.calls

    def due(self, now: float) -> bool:
        return self.banked_at is None or now - self.banked_at >= self.window

    def bank(self, humans: int, calls: int, now: float) -> None:
        """Remember the current window's counts; the previous window's join the memory now."""
        if humans < 0 or calls < 0 or humans > calls:
            raise ValueError(f"impossible counts: {humans} answered of {calls} calls")
        self._decay_to(now)
        if self.banked_at is not None and now > self.banked_at:
            k = 0.5 ** ((now - self.banked_at) / self.half_life)  # the pending window's age
            self.humans += self.pending[0] * k
            self.calls += self.pending[1] * k
        else:
            self.humans += self.pending[0]
            self.calls += self.pending[1]
        self.pending = (float(humans), float(calls))
        self.banked_at = now

    def clear(self) -> None:
        """Forget everything (the answer rate changed): the memory restarts with the next bank."""
        self.humans = self.calls = 0.0
        self.pending = (0.0, 0.0)
        self.banked_at = None


@dataclass
class ShapeMemory:
    """Ring counts of earlier windows, discounted by a half-life: when people answer, over the shift.

    A row of the ring model (a call that has rung r seconds) rests on the
    window's calls still ringing at r. A small team's 15-minute window has
    a few dozen calls past 10 s and a handful of late answers, so its late
    rows are rough, and their upper bounds wide (bench/RESULTS.md, "Late
    rows at their upper bound"). When people answer moves far more slowly
    than how many do, so the counts of earlier windows are kept and pooled
    with the window's; the level is still the window's (or the rate
    memory's), only the shape is pooled. Banked like `RateMemory`: a
    window's settled calls join the memory at the NEXT bank, when no later
    window still holds them. Never cleared by a change in the answer rate:
    the level moves, the shape stays.
    """

    window: float = 900.0
    half_life: float = 7200.0
    memory: RingCounts = EMPTY_RING_COUNTS
    at: float | None = None  # when `memory` was last decayed
    banked_at: float | None = None
    pending: RingCounts = EMPTY_RING_COUNTS

    def __post_init__(self) -> None:
        if self.window <= 0 or self.half_life <= 0:
            raise ValueError("window and half_life must be positive seconds")

    def _decay_to(self, now: float) -> None:
        if self.at is not None and now > self.at and self.memory.calls > 0:
            k = 0.5 ** ((now - self.at) / self.half_life)
            self.memory = EMPTY_RING_COUNTS.plus(self.memory, k)
        self.at = now if self.at is None else max(self.at, now)

    def counts(self, now: float) -> RingCounts:
        """The remembered counts, decayed to `now`; never the current window's."""
        self._decay_to(now)
        return self.memory

    def due(self, now: float) -> bool:
        return self.banked_at is None or now - self.banked_at >= self.window

    def bank(self, settled: RingCounts, now: float) -> None:
        """Remember the window's settled calls; the previous window's join the memory now."""
        if settled.calls < 0 or any(x < 0 for x in settled.leaving):
            raise ValueError("ring counts must be >= 0")
        self._decay_to(now)
        age = now - self.banked_at if self.banked_at is not None and now > self.banked_at else 0
        self.memory = self.memory.plus(self.pending, 0.5 ** (age / self.half_life))
        self.pending = settled
        self.banked_at = now


def pooled_answer_rate(
    humans: int,
    calls: int,
    mem_humans: float,
    mem_calls: float,
    rise_z: float = 2.0,
    fall_z: float = 3.0,
) -> tuple[float, float, str]:
    """The person-answer rate now, from the current window and the memory of earlier ones.

    Returns (rate, calls behind it, verdict). The window is compared with
    the memory (a pooled two-proportion z statistic): above it by more than
    `rise_z` -> "rise", below it by more than `fall_z` -> "fall", and then
    the window alone is the rate; otherwise "pooled": both together, with
    their calls added (a far smaller error). The test is lopsided on
    purpose: a rate taken too LOW dials too many calls and abandons
    debtors, so a rise is believed at 2 standard errors, a fall at 3; a
    fall seen by chance (a small team's window at half the true rate) is
    pooled away. "window": no memory (or no calls in the window).
    """
    if calls < 0 or humans < 0 or humans > calls or mem_calls < 0 or mem_humans < 0:
        raise ValueError("counts must be >= 0 with answers <= calls")
    if calls == 0:
        if mem_calls > 0:
            return mem_humans / mem_calls, mem_calls, "memory"
        return 0.0, 0.0, "window"
    p_window = humans / calls
    if mem_calls <= 0:
        return p_window, float(calls), "window"
    p_memory = mem_humans / mem_calls
    total = calls + mem_calls
    p0 = (humans + mem_humans) / total
    var = p0 * (1.0 - p0) * (1.0 / calls + 1.0 / mem_calls)
    stat = (p_window - p_memory) / math.sqrt(var) if var > 0 else 0.0
    if stat > rise_z:
        return p_window, float(calls), "rise"
    if stat < -fall_z:
        return p_window, float(calls), "fall"
    return p0, total, "pooled"


def clump_size(abandons: float, clumps: int, prior: float = 1.5, weight: float = 4.0) -> float:
    """Mean abandons per clump (abandons seconds apart), shrunk towards `prior`.

    `weight` pseudo-clumps of `prior` abandons each: a shift's first clump
    cannot move it far; a floor that overflows five debtors at a time (a low
    answer rate, many calls ringing per agent) moves it in a few clumps.
    Never under 1.
    """
    if abandons < 0 or clumps < 0 or prior < 1 or weight <= 0:
        raise ValueError("abandons, clumps >= 0; prior >= 1; weight > 0")
    return max(1.0, (abandons + prior * weight) / (clumps + weight))


def _normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def window_break_probability(
    spent: int, answers: float, target: float, clump_rate: float, clump: float
) -> float:
    """P(a rolling window ends over `target`): its answers, and so its allowance, are uncertain.

    The window will hold about `answers` person answers, a count whose
    spread is taken as Poisson (sd = sqrt(answers), normal approximation);
    with N answers it may hold floor(target x N) abandons, `spent` are in it
    already and more come as a Poisson stream of `clump_rate` clumps of
    `clump` abandons. Summed over the allowances N can give: P(allowance =
    k) x P(Poisson(clump_rate) > floor((k - spent) / clump)). A window that
    expects 70 answers (2 allowed) may well get 66 (1 allowed): at 5 agents
    that doubles the chance that one clump breaks it.
    """
    if spent < 0 or answers < 0 or not 0 < target < 1 or clump_rate < 0 or clump < 1:
        raise ValueError("spent, answers, clump_rate >= 0; target in (0, 1); clump >= 1")
    sd = math.sqrt(answers)
    if sd == 0:
        left = math.floor((math.floor(target * answers + 1e-9) - spent) / clump + 1e-9)
        return poisson_tail(left, clump_rate)
    low = max(0, math.floor(target * max(0.0, answers - 5 * sd)))
    high = math.floor(target * (answers + 5 * sd)) + 1
    total = 0.0
    for k in range(low, high + 1):
        # N gives allowance k for k / target <= N < (k + 1) / target.
        lo = -math.inf if k == low else (k / target - answers) / sd
        hi = math.inf if k == high else ((k + 1) / target - answers) / sd
        p_k = (1.0 if hi == math.inf else _normal_cdf(hi)) - (
            0.0 if lo == -math.inf else _normal_cdf(lo)
        )
        if p_k <= 0:
            continue
        left = math.floor((k - spent) / clump + 1e-9)
        total += p_k * poisson_tail(left, clump_rate)
    return min(1.0, total)


def uncertain_budget_rate(spent: int, answers: float, target: float, probability: float) -> float:
    """The largest expected count lam of single abandons an hour with
    `window_break_probability(spent, answers, target, lam, 1) <= probability`.

    `budget_rate` on an allowance taken at a lower bound of the answers treats
    the allowance as known; here the answers' spread is summed over (an hour
    expecting 44 answers allows one abandon, but one time in twenty holds
    under 34 and allows none).
    """
    if not 0 < probability < 1:
        raise ValueError("probability must be in (0, 1)")
    if window_break_probability(spent, answers, target, 0.0, 1.0) > probability:
        return 0.0
    lo, hi = 0.0, 1.0 + 2.0 * target * answers + 10.0 * math.sqrt(target * answers + 1.0)
    for _ in range(40):
        mid = (lo + hi) / 2
        if window_break_probability(spent, answers, target, mid, 1.0) <= probability:
            lo = mid
        else:
            hi = mid
    return lo


def poisson_binomial(probabilities: Iterable[float]) -> list[float]:
    """pmf[j] = P(exactly j of independent events with these probabilities happen)."""
    pmf = [1.0]
    for p in probabilities:
        p = min(1.0, max(0.0, p))
        if p <= 0.0:
            continue
        q = 1.0 - p
        nxt = [0.0] * (len(pmf) + 1)
        for j, v in enumerate(pmf):
            if v:
                nxt[j] += v * q
                nxt[j + 1] += v * p
        pmf = nxt
    return pmf


def _add_trial(pmf: list[float], p: float) -> list[float]:
    q = 1.0 - p
    nxt = [0.0] * (len(pmf) + 1)
    for j, v in enumerate(pmf):
        nxt[j] += v * q
        nxt[j + 1] += v * p
    return nxt


def _overflow_above(answers: list[float], free: list[float], offset: int) -> float:
    """P(A - F > offset) for independent A ~ `answers` and F ~ `free` (pmfs)."""
    # Survival of A: above[j] = P(A > j).
    n = len(answers)
    above = [0.0] * n
    acc = 0.0
    for j in range(n - 1, -1, -1):
        above[j] = acc
        acc += answers[j]
    total = 0.0
    for f, pf in enumerate(free):
        if not pf:
            continue
        j = f + offset
        if j < 0:
            total += pf
        elif j < n:
            total += pf * above[j]
    return min(1.0, max(0.0, total))


def overflow_probability(
    answer_probs: Sequence[float],
    free_probs: Sequence[float],
    sure_answers: int,
    sure_free: int,
    left: int,
) -> float:
    """P(more people answer than agents are free, by more than `left`).

    Answers: `sure_answers` (answered, waiting) plus one Bernoulli per
    ringing call (`answer_probs`: its chance of a person answering within
    the horizon); free agents: `sure_free` (ready) plus one Bernoulli per
    busy agent (`free_probs`: its chance of being free by the horizon plus
    the connect grace). Every answer beyond the free agents is abandoned,
    so this is the chance that the calls now ringing alone bring a clump of
    more than `left` abandons - all the hour can still absorb.
    """
    answers = poisson_binomial(answer_probs)
    free = poisson_binomial(free_probs)
    return _overflow_above(answers, free, left + sure_free - sure_answers)


def _base_spread(
    ringing_probs: Sequence[float], free_probs: Sequence[float]
) -> tuple[float, float]:
    """Mean and variance of (answers from the calls ringing) - (busy agents freed)."""
    mean = sum(ringing_probs) - sum(free_probs)
    var = sum(p * (1 - p) for p in ringing_probs) + sum(p * (1 - p) for p in free_probs)
    return mean, var


def _far_inside(base: tuple[float, float], new_prob: float, most: int, offset: int) -> bool:
    """Even with `most` new calls, the overflow stays 7 standard deviations under `offset`."""
    mean = base[0] + most * new_prob
    var = base[1] + most * new_prob * (1 - new_prob)
    return mean + 7.0 * math.sqrt(var) + 1.0 <= offset


def _normal_tail(base: tuple[float, float], new_prob: float, n: int, offset: int) -> float:
    """P(overflow > offset) with n new calls, normal with a continuity correction."""
    m = base[0] + n * new_prob
    v = base[1] + n * new_prob * (1 - new_prob)
    if v <= 0:
        return 1.0 if m > offset else 0.0
    return 1.0 - _normal_cdf((offset + 0.5 - m) / math.sqrt(v))


def most_calls_within_overflow(
    ringing_probs: Sequence[float],
    new_prob: float,
    most: int,
    free_probs: Sequence[float],
    sure_answers: int,
    sure_free: int,
    left: int,
    tolerance: float,
    exact_up_to: int = 400,
) -> int:
    """The most new calls (0..`most`) keeping `overflow_probability` <= `tolerance`.

    The new calls each answer with `new_prob` within the horizon, on top of
    the calls already ringing. -1 when the calls already ringing break the
    tolerance by themselves. Exact (a Poisson-binomial convolution) up to
    `exact_up_to` calls; beyond it a normal approximation with a continuity
    correction (a team that large has an hour that absorbs far more than a
    few seconds' overflow, so the bound rarely binds there).
    """
    if not 0 < tolerance < 1:
        raise ValueError("tolerance must be in (0, 1)")
    if most < 0:
        raise ValueError("most must be >= 0")
    offset = left + sure_free - sure_answers
    new_prob = min(1.0, max(0.0, new_prob))
    base = _base_spread(ringing_probs, free_probs)
    # Far inside the bound even with every call placed: no need to count.
    if _far_inside(base, new_prob, most, offset):
        return most
    if len(ringing_probs) + most > exact_up_to:
        return _most_calls_normal(base, new_prob, most, offset, tolerance)
    answers = poisson_binomial(ringing_probs)
    free = poisson_binomial(free_probs)
    if _overflow_above(answers, free, offset) > tolerance:
        return -1
    if new_prob <= 0.0:
        return most
    for n in range(most):
        answers = _add_trial(answers, new_prob)
        if _overflow_above(answers, free, offset) > tolerance:
            return n
    return most


def overflow_tails(
    ringing_probs: Sequence[float],
    new_prob: float,
    most: int,
    free_probs: Sequence[float],
    sure_answers: int,
    sure_free: int,
    left: int,
    exact_up_to: int = 400,
) -> list[float]:
    """`overflow_probability` with 0, 1, ..., `most` new calls added: a list of `most` + 1.

    The new calls each answer with `new_prob` within the horizon, on top of
    the calls already ringing. What the hour-level clump ledger charges a
    decision: the increase in this chance that its calls bring (see
    `PredictivePolicy._overflow_cap`). Exact up to `exact_up_to` calls, then
    a normal approximation with a continuity correction; all zeros when even
    every call placed keeps the overflow seven standard deviations inside.
    """
    if most < 0:
        raise ValueError("most must be >= 0")
    offset = left + sure_free - sure_answers
    new_prob = min(1.0, max(0.0, new_prob))
    base = _base_spread(ringing_probs, free_probs)
    if _far_inside(base, new_prob, most, offset):
        return [0.0] * (most + 1)
    if len(ringing_probs) + most > exact_up_to:
        return [_normal_tail(base, new_prob, n, offset) for n in range(most + 1)]
    answers = poisson_binomial(ringing_probs)
    free = poisson_binomial(free_probs)
    out = [_overflow_above(answers, free, offset)]
    for _ in range(most):
        answers = _add_trial(answers, new_prob)
        out.append(_overflow_above(answers, free, offset))
    return out


def _most_calls_normal(
    base: tuple[float, float], new_prob: float, most: int, offset: int, tolerance: float
) -> int:
    if _normal_tail(base, new_prob, 0, offset) > tolerance:
        return -1
    lo, hi = 0, most
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _normal_tail(base, new_prob, mid, offset) <= tolerance:
            lo = mid
        else:
            hi = mid - 1
    return lo
