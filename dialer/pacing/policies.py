"""Pacing policies: how many calls to place now, given a `Snapshot`.

`make_policy(name, **params)` builds one of `POLICY_NAMES`. A policy may keep
state between ticks (a controller, cached estimates) but reads the time only
from `snapshot.now`; one policy object serves one campaign.

- `progressive`: one call per ready agent not already covered by a ringing
  or waiting call. Never dials ahead; the reference that abandons nothing.
- `predictive` (ours): a model of the next seconds. For several horizons h it
  compares the people expected to answer by h (calls waiting, calls ringing
  given how long they have rung, the new calls) with the agents expected free
  by h + grace (ready ones, plus each busy agent's chance given its elapsed
  talk or wrap-up time, from censored Kaplan-Meier estimates), and places the
  most calls for which demand + z * sd stays under supply at EVERY horizon.
  `z` is steered by counting: each new abandon raises it at once by
  `burst_step` / (the abandons an hour the aim allows), each hour spent
  dialing ahead lowers it by `z_per_hour`, so it settles where abandons come
  at `z_per_hour / burst_step` of the aim (0.8), and an abandon is counted
  once (a 30-minute window, `controller="window"`, re-counted it every minute
  for half an hour and swung z up and down). The aim sits under the hour's
  Poisson budget (`hour_break_probability`); a guard widens the margin
  while the windows to come may break at the aim's rate but hold at a
  quarter of it, and falls back to progressive beyond that
  (`_budget_level`, `_over_budget`).
  The person-answer rate comes from the last 15 minutes' calls, from the
  latest change point on when one is found (`answer_change_point`, taken at
  its upper bound), and the calls' expected answers are taken at the rate's
  upper bound (`level_z` relative standard errors: the estimate's error is
  shared by every call for minutes, so it is not averaged away). The
  window is pooled with a memory of earlier windows unless it rose by 2 or
  fell by 3 standard errors against it (`estimators.pooled_answer_rate`);
  abandons are counted in clumps of the size seen; the hour to come is
  sized by the team still active; the guard also stops dialing ahead when
  no whole clump fits in a window's allowance, or when the window breaks
  with its answers (so its allowance) uncertain
  (`estimators.window_break_probability`). Dialing ahead is also cut so the
  calls ringing (with the new ones) bring a clump of answers larger than
  the agents free by then plus the abandons the hour can still absorb only
  rarely (`_overflow_cap`, an exact Poisson-binomial tail, each ringing
  call's chance at its ring-model row's upper bound), and the rise in that
  risk each decision brings is charged to an hour's ledger with a budget.
  Where the margin (or the guard, for the hour) refuses to dial ahead, the
  exact path (`exact_ahead`, off by default: measured, each wider sample of
  unseen rows found an hour it breaks that the default holds) places the calls whose chance of bringing even one
  abandon is negligible, charged to a ledger of its own (`_exact_cap`).
  docs/pacing.md has the bound. With `pause_wave` (off: measured, no safety
  the sample could see), once agents go on a pause as their calls end, the
  busy agents' chance to be free is scaled by that share (`_pause_share`).
  Blended inbound (`snapshot.has_inbound`): inbound takes the next free agent
  first, so at each horizon the inbound callers waiting plus those expected
  to arrive by then (Poisson) are demand ahead of the new calls, and the
  agents expected free after all that demand AND the margin kept against
  outbound abandons are at least the inbound reserve (`dialer.pacing.inbound`:
  agents to keep free so a caller is answered within the campaign's target,
  and answered at once - within `inbound_at_once_seconds` - nearly always);
  the progressive fallback keeps the ready agents expected left over after
  its calls' answers at the reserve.
- `predictive_ignores_inbound`: the same model blind to the snapshot's
  inbound fields; the reference that shows what the reserve buys.
- `vicidial_adapt`, `vicidial_recommended`, `issabel`: baselines written from
  the public descriptions of VICIdial's ADAPT dial level (its default
  settings, and the settings its guides recommend) and Issabel's (Elastix)
  predictive dialer.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Protocol

from dialer.pacing.estimators import (
    RateMemory,
    RingCounts,
    RingModel,
    ShapeMemory,
    Survival,
    answer_change_point,
    answer_rate_error,
    budget_rate,
    clump_size,
    free_within_rows,
    most_calls_within_overflow,
    overflow_tails,
    poisson_tail,
    pooled_answer_rate,
    rescaled_rows,
    uncertain_budget_rate,
    wilson_upper,
    window_break_probability,
    wrap_free_rows,
)
from dialer.pacing.inbound import (
    DEFAULT_AT_ONCE_SECONDS,
    DEFAULT_AT_ONCE_TOLERANCE,
    DEFAULT_TOLERANCE,
    inbound_reserve,
)
from dialer.pacing.ledger import HourLedger
from dialer.pacing.snapshot import (
    ACTIVE_STATES,
    PAUSED,
    READY,
    RESERVED,
    RING_SAMPLE_WINDOW_SECONDS,
    TALKING,
    WRAP_UP,
    AbandonWindow,
    DurationSample,
    RingSample,
    Snapshot,
)


class Policy(Protocol):
    name: str

    def calls_to_place(self, snapshot: Snapshot) -> int: ...


class UnknownPolicyError(ValueError):
    pass


def _uncovered_ready(s: Snapshot) -> int:
    """Ready agents that no ringing call, answered call or queued inbound caller is headed for."""
    ready = 0
    for a in s.agents:
        if a.state == READY:
            ready += 1
    return max(0, ready - len(s.ringing) - s.waiting - len(s.inbound_waiting))


class ProgressivePolicy:
    name = "progressive"

    def calls_to_place(self, snapshot: Snapshot) -> int:
        return min(snapshot.room, _uncovered_ready(snapshot))


# Seconds ahead at which an answer may arrive; checked all, the most cautious wins.
DEFAULT_HORIZONS = (1.0, 3.0, 6.0, 10.0, 15.0, 22.0, 30.0)
LEGAL_WINDOWS = (3600.0, 86400.0, 2592000.0)
# The predictive model blind to the snapshot's inbound fields (a reference).
INBOUND_BLIND = "predictive_ignores_inbound"


class PredictivePolicy:
    """Model-based pacing; see the module docstring. Parameters are keyword-only."""

    name = "predictive"

    def __init__(
        self,
        *,
        aim_ratio: float = 0.8,
        horizons: tuple[float, ...] = DEFAULT_HORIZONS,
        z_start: float = 2.6,
        z_min: float = 1.8,
        z_max: float = 5.0,
        gain: float = 0.1,
        step_up: float = 0.1,
        step_down: float = 0.03,
        deadband: float = 0.3,
        adjust_every_seconds: float = 60.0,
        steer_window_seconds: float = 1800.0,
        wilson_z: float = 0.0,
        min_active_agents: int = 2,
        min_ring_samples: int = 30,
        min_talk_samples: int = 10,
        max_calls_per_agent: float = 4.0,
        talk_prior_mean: float = 180.0,
        wrap_prior_mean: float = 20.0,
        wrap_points: int = 5,
        budget_guard: bool = True,
        budget_reserve: float = 1.0,
        burst_step: float = 0.5,
        ring_refresh_seconds: float = 60.0,
        inbound_aware: bool = True,
        inbound_tolerance: float = DEFAULT_TOLERANCE,
        inbound_at_once_seconds: float = DEFAULT_AT_ONCE_SECONDS,
        inbound_at_once_tolerance: float = DEFAULT_AT_ONCE_TOLERANCE,
        hour_break_probability: float = 0.02,
        guard_break_probability: float = 0.1,
        drift_z: float = 3.0,
        drift_min_calls: int = 50,
        drift_level_z: float = 1.0,
        level_z: float = 1.0,
        level_error: bool = True,
        clump: float = 1.5,
        controller: str = "count",
        z_per_hour: float = 0.4,
        rate_memory: bool = True,
        memory_half_life: float = 3600.0,
        rise_z: float = 2.0,
        fall_z: float = 3.0,
        clump_weight: float = 4.0,
        clump_gap_seconds: float = 10.0,
        team_scaled_budget: bool = True,
        uncertain_allowance: bool = True,
        pause_spare: bool = False,
        pause_spare_tolerance: float = 0.05,
        burst_floor: float = 1.0,
        one_abandon_room: bool = True,
        overflow_bound: bool = True,
        overflow_break_probability: float = 0.02,
        overflow_answers_z: float = 1.0,
        overflow_level_z: float = 2.0,
        clump_ledger: bool = True,
        clump_hour_budget: float = 0.005,
        overflow_shape_z: float = 2.0,
        shape_memory: bool = False,
        shape_half_life: float = 7200.0,
        guard_cautious: bool = True,
        guard_break_test: bool = False,
        guard_z_step: float = 1.0,
        guard_cautious_share: float = 0.25,
        exact_ahead: bool = False,
        exact_max_per_hour: float = 0.3,
        exact_hour_budget: float = 0.005,
        exact_decision_risk: float = 1.7e-4,
        exact_free_cap: float = 0.9,
        exact_shares_budget: bool = True,
        guard_starving: bool = True,
        exact_uncertain_room: bool = False,
        pause_wave: bool = False,
        pause_wave_seconds: float = 300.0,
        pause_wave_min: int = 2,
    ) -> None:
        if not 0 < aim_ratio <= 1:
            raise ValueError("aim_ratio must be in (0, 1]")
        if not horizons or any(h <= 0 for h in horizons):
            raise ValueError("horizons must be positive seconds")
        if z_min > z_max:
            raise ValueError("z_min must not exceed z_max")
        if inbound_at_once_seconds < 0:
            raise ValueError("inbound_at_once_seconds must be >= 0 (0 turns it off)")
        for name, tol in (
            ("inbound_tolerance", inbound_tolerance),
            ("inbound_at_once_tolerance", inbound_at_once_tolerance),
            ("hour_break_probability", hour_break_probability),
            ("guard_break_probability", guard_break_probability),
            ("pause_spare_tolerance", pause_spare_tolerance),
            ("overflow_break_probability", overflow_break_probability),
            ("clump_hour_budget", clump_hour_budget),
            ("exact_hour_budget", exact_hour_budget),
            ("exact_decision_risk", exact_decision_risk),
            ("exact_free_cap", exact_free_cap),
        ):
            if not 0 < tol < 1:
                raise ValueError(f"{name} must be in (0, 1)")
        self.aim_ratio = aim_ratio
        self.horizons = tuple(sorted(horizons))
        self.z = min(max(z_start, z_min), z_max)
        self.z_min, self.z_max = z_min, z_max
        self.gain, self.step_up, self.step_down = gain, step_up, step_down
        self.deadband = deadband
        self.adjust_every = adjust_every_seconds
        self.steer_window = steer_window_seconds
        self.wilson_z = wilson_z
        self.min_active_agents = min_active_agents
        self.min_ring_samples = min_ring_samples
        self.min_talk_samples = min_talk_samples
        self.max_calls_per_agent = max_calls_per_agent
        self.talk_prior_mean = talk_prior_mean
        self.wrap_prior_mean = wrap_prior_mean
        self.wrap_points = wrap_points
        self.budget_guard = budget_guard
        self.budget_reserve = budget_reserve
        self.burst_step = burst_step
        if controller not in ("count", "window"):
            raise ValueError("controller must be 'count' or 'window'")
        if z_per_hour < 0:
            raise ValueError("z_per_hour must be >= 0")
        self.controller = controller
        self.z_per_hour = z_per_hour
        self._model_since: float | None = None  # last tick that dialed ahead on the model
        self._model_seconds = 0.0  # seconds dialing ahead since the last steer
        self._abandons_seen: float | None = None
        self._stats_at: float | None = None
        self._samples_seen: tuple[RingSample, ...] | None = None
        self._handle_built_at: float | None = None
        self._ring_built_at: float | None = None
        self.ring_refresh_seconds = ring_refresh_seconds
        self._last_steer: float | None = None
        self._ring: RingModel | None = None
        self._talk_finished = 0
        self._talk_rows: list[tuple[float, ...]] = []
        self._talk_tail: tuple[float, ...] = ()
        self._wrap_rows: list[tuple[float, ...]] = []
        self._wrap_tail: tuple[float, ...] = ()
        self.last_reason = "init"
        self.inbound_aware = inbound_aware
        self.inbound_tolerance = inbound_tolerance
        self.inbound_at_once_seconds = inbound_at_once_seconds
        self.inbound_at_once_tolerance = inbound_at_once_tolerance
        if not inbound_aware:
            self.name = INBOUND_BLIND
        self.last_inbound_reserve = 0
        self.hour_break_probability = hour_break_probability
        self.guard_break_probability = guard_break_probability
        self.drift_z = drift_z
        if clump < 1:
            raise ValueError("clump must be >= 1")
        self.clump = clump
        if drift_min_calls < 1:
            raise ValueError("drift_min_calls must be >= 1")
        self.drift_min_calls = drift_min_calls
        self.drift_level_z = drift_level_z
        self.level_z = level_z
        self.level_error = level_error
        if memory_half_life <= 0 or rise_z <= 0 or fall_z <= 0:
            raise ValueError("memory_half_life, rise_z and fall_z must be positive")
        if clump_weight < 0 or clump_gap_seconds < 0:
            raise ValueError("clump_weight and clump_gap_seconds must be >= 0")
        self._memory = (
            RateMemory(RING_SAMPLE_WINDOW_SECONDS, memory_half_life) if rate_memory else None
        )
        self.rise_z, self.fall_z = rise_z, fall_z
        if shape_half_life <= 0:
            raise ValueError("shape_half_life must be positive seconds")
        self._shape = (
            ShapeMemory(RING_SAMPLE_WINDOW_SECONDS, shape_half_life) if shape_memory else None
        )
        self.rate_verdict = "window"
        self.clump_weight = clump_weight
        self.clump_gap_seconds = clump_gap_seconds
        self._clumps = 0
        self._clump_abandons = 0.0
        self._last_abandon_at: float | None = None
        self.team_scaled_budget = team_scaled_budget
        self.uncertain_allowance = uncertain_allowance
        self.pause_spare = pause_spare
        if burst_floor <= 0:
            raise ValueError("burst_floor must be > 0")
        self.burst_floor = burst_floor
        self.one_abandon_room = one_abandon_room
        self.overflow_bound = overflow_bound
        self.overflow_break_probability = overflow_break_probability
        if overflow_answers_z < 0:
            raise ValueError("overflow_answers_z must be >= 0")
        self.overflow_answers_z = overflow_answers_z
        if overflow_level_z < 0:
            raise ValueError("overflow_level_z must be >= 0")
        self.overflow_level_z = overflow_level_z
        if guard_z_step <= 0 or not 0 < guard_cautious_share <= 1:
            raise ValueError("guard_z_step must be > 0 and guard_cautious_share in (0, 1]")
        self.guard_cautious = guard_cautious
        self.guard_break_test = guard_break_test
        self.guard_z_step = guard_z_step
        self.guard_cautious_share = guard_cautious_share
        self.guard_starving = guard_starving
        self.exact_uncertain_room = exact_uncertain_room
        if pause_wave_seconds <= 0 or pause_wave_min < 1:
            raise ValueError("pause_wave_seconds must be > 0 and pause_wave_min >= 1")
        self.pause_wave = pause_wave
        self.pause_wave_seconds = pause_wave_seconds
        self.pause_wave_min = pause_wave_min
        self.last_pause_share = 0.0
        self.last_starving = False
        self._attempt_mean = 20.0  # mean seconds a call rings to its end (ring samples)
        self.last_overflow_cap: int | None = None
        self.clump_ledger = clump_ledger
        if overflow_shape_z < 0:
            raise ValueError("overflow_shape_z must be >= 0")
        self.overflow_shape_z = overflow_shape_z
        self.clump_hour_budget = clump_hour_budget
        # (time, charge): each decision that dialed ahead, charged the rise in
        # the chance of an hour-breaking clump its calls brought (`_overflow_cap`).
        self._ledger = HourLedger()
        self._pending_charge: tuple[list[float], int] | None = None
        # The exact path's own ledger: the chance of any abandon its calls bring.
        self.exact_ahead = exact_ahead
        if exact_max_per_hour < 0:
            raise ValueError("exact_max_per_hour must be >= 0")
        self.exact_max_per_hour = exact_max_per_hour
        self.exact_hour_budget = exact_hour_budget
        self.exact_decision_risk = exact_decision_risk
        self.exact_free_cap = exact_free_cap
        self._exact_ledger = HourLedger()
        self._uncertain_rates: dict[tuple[int, int, float, float], float] = {}
        # One hour's break budget for both paths (`_exact_break_share`).
        self.exact_shares_budget = exact_shares_budget
        self._pending_exact: tuple[list[float], int] | None = None
        self.last_exact_cap: int | None = None
        self.pause_spare_tolerance = pause_spare_tolerance
        self.last_pause_spare = False
        self._active_track: deque[tuple[float, int]] = deque()
        self._active_sum = 0
        self.rate_error = 0.0  # relative standard error of the answer rate in use
        self.answer_shift = 1.0  # recent / window person-answer rate, when a change is detected
        self._first_seen: float | None = None
        self._budget_rates: dict[tuple[int, float], float] = {}
        self._aim_at: tuple[float, tuple[AbandonWindow, ...]] | None = None
        self._aim_value = 0.0
        self._handle_mean = talk_prior_mean + wrap_prior_mean
        # Estimates kept to build "free within the inbound wait target" rows on demand.
        self._talk_survival: Survival | None = None
        self._wrap_survival: Survival | None = None
        self._wrap_quantiles: tuple[float, ...] = ()
        # Per window (seconds), per agent state: "free within the window" rows.
        self._window_rows: dict[
            float, dict[str, tuple[list[tuple[float, ...]], tuple[float, ...]]]
        ] = {}
        self._reserve_cache: dict[
            tuple[float, tuple[float, ...], float, float, int, float], int
        ] = {}

    # -- estimates ---------------------------------------------------------
    def _refresh(self, s: Snapshot) -> None:
        # New statistics: a new `stats_at`, or new sample tuples from a builder
        # that leaves `stats_at` alone. Rebuilds are rate-limited below.
        if s.stats_at == self._stats_at and s.ring_samples is self._samples_seen:
            return
        self._stats_at = s.stats_at
        self._samples_seen = s.ring_samples
        if self._ring_built_at is None or s.now - self._ring_built_at >= self.ring_refresh_seconds:
            self._ring_built_at = s.now
            samples = s.ring_samples
            counts = RingCounts.of(samples)
            ring = RingModel.from_counts(counts, self.horizons)
            if self._shape is not None:
                ring = self._with_shape(samples, counts, ring, s.now)
            since = (
                answer_change_point(samples, self.drift_z, self.drift_min_calls)
                if (self.drift_z > 0)
                else 0
            )
            self.answer_shift = 1.0
            end = _settled_end(samples)
            if since and ring.human_rate > 0:
                # The split is the most extreme one seen, so the rate after it
                # errs towards the change: steer on its upper bound (too high
                # an answer rate only places fewer calls).
                # Only the settled calls (before the first still ringing): the
                # ones after it that ended are the quick ones (persons, machines,
                # busy, failed; no unanswered call ends before its timeout), so
                # counting them read a 12 % answer rate as 30 % right after a
                # burst of calls, and the floor starved for an hour (drift-20).
                after = samples[since:end] if since < end else ()
                humans = sum(1 for x in after if x.outcome == "human")
                level = wilson_upper(humans, len(after), self.drift_level_z)
                self.answer_shift = level / ring.human_rate
            if self.answer_shift != 1.0:
                # The answer rate moved within the window: the calls since the
                # change set the level, the whole window the timing shape.
                ring = RingModel(
                    rescaled_rows(ring.rows, self.answer_shift),
                    min(1.0, ring.human_rate * self.answer_shift),
                    ring.samples,
                    ring.at_risk,
                )
            # The level after a change is the settled calls' (above); the whole
            # window's is the ring model's, which counts the calls still ringing
            # as censored, so every ended call is behind it.
            settled = (
                max(0, end - since) if since else sum(1 for x in samples if x.outcome != "ringing")
            )
            if self._memory is not None:
                ring, settled = self._with_memory(samples, since, ring, settled, s.now)
            self.rate_error = (
                min(1.0, answer_rate_error(ring.human_rate, int(settled)))
                if self.level_error
                else 0.0
            )
            self._ring = ring
            durations = [x.seconds for x in samples if x.outcome != "ringing"]
            if durations:
                self._attempt_mean = max(1.0, sum(durations) / len(durations))
        # Handle-time tables cost more and move slowly: rebuild every minute
        # while data is thin (early shift: censoring matters), then every 10.
        every = 60.0 if self._talk_finished < 300 else 600.0
        if self._handle_built_at is None or s.now - self._handle_built_at >= every:
            self._handle_built_at = s.now
            talk = Survival.from_samples(
                _with_running(s.talk_samples, s, TALKING), self.talk_prior_mean
            )
            wrap = Survival.from_samples(
                _with_running(s.wrap_samples, s, WRAP_UP), self.wrap_prior_mean
            )
            self._talk_finished = talk.finished
            supply = [h + s.connect_grace_seconds for h in self.horizons]
            points = wrap.quantiles(self.wrap_points) if wrap.finished else (self.wrap_prior_mean,)
            self._talk_rows, self._talk_tail = free_within_rows(talk, points, supply)
            self._wrap_rows, self._wrap_tail = wrap_free_rows(wrap, supply)
            self._talk_survival, self._wrap_survival, self._wrap_quantiles = talk, wrap, points
            self._handle_mean = talk.mean() + wrap.mean()
            self._window_rows = {}  # rebuilt from the new estimates when inbound asks

    def _with_shape(
        self, samples: tuple[RingSample, ...], counts: RingCounts, ring: RingModel, now: float
    ) -> RingModel:
        """The window's ring model with its timing shape pooled over the shift (`ShapeMemory`).

        The level stays the window's (the drift test and the rate memory
        move it next); `samples` stays the window's count (the warm-up gate
        asks whether THIS window has seen enough calls); `at_risk` becomes
        the pooled counts, so the clump bound's row upper bounds narrow as
        the shift's calls accumulate.
        """
        memory = self._shape
        assert memory is not None
        remembered = memory.counts(now)
        if memory.due(now):
            memory.bank(RingCounts.of(samples[: _settled_end(samples)]), now)
        if remembered.calls <= 0:
            return ring
        pooled = RingModel.from_counts(counts.plus(remembered), self.horizons)
        return replace(pooled.at_level(ring.human_rate), samples=ring.samples)

    def _with_memory(
        self, samples: tuple[RingSample, ...], since: int, ring: RingModel, settled: int, now: float
    ) -> tuple[RingModel, int]:
        """The ring model at the rate pooled with earlier windows, and the calls behind it.

        A change found inside the window (`since`) or a fall against the
        memory makes the memory restart; otherwise the window and the memory
        are pooled unless the window is clearly above it (see
        `estimators.pooled_answer_rate`). The pooled level rescales the
        window's rows (the window keeps the timing shape).
        """
        memory = self._memory
        assert memory is not None
        end = _settled_end(samples)
        part = samples[since:end] if since < end else ()
        humans = sum(1 for x in part if x.outcome == "human")
        calls = len(part)
        if since:
            memory.clear()
            self.rate_verdict = "change"
        else:
            mem_h, mem_n = memory.counts(now)
            rate, behind, verdict = pooled_answer_rate(
                humans, calls, mem_h, mem_n, self.rise_z, self.fall_z
            )
            self.rate_verdict = verdict
            if verdict == "fall":
                memory.clear()
            elif verdict in ("pooled", "memory") and mem_n > 0 and ring.human_rate > 0:
                factor = rate / ring.human_rate
                ring = RingModel(
                    rescaled_rows(ring.rows, factor),
                    min(1.0, ring.human_rate * factor),
                    ring.samples,
                    ring.at_risk,
                )
                settled = int(behind)
        if memory.due(now):
            memory.bank(humans, calls, now)
        return ring, settled

    def _active_share(self, s: Snapshot) -> float:
        """Agents active now / agents active on average over the last hour (at most 1).

        A team that shrinks (lunch, breaks) answers fewer calls in the hour
        to come than in the last one, so the hour's allowance is smaller
        than the last hour's answers say.
        """
        active = sum(1 for a in s.agents if a.state in (READY, RESERVED, TALKING, WRAP_UP))
        track = self._active_track
        if not track or s.now - track[-1][0] >= 10.0:
            track.append((s.now, active))
            self._active_sum += active
            while track and track[0][0] < s.now - 3600.0:
                self._active_sum -= track.popleft()[1]
        mean = self._active_sum / len(track) if track else 0.0
        if mean <= 0:
            return 1.0
        return min(1.0, active / mean)

    def _break_share(self, s: Snapshot) -> float:
        """The share of the active team's next hour that its scheduled breaks leave working.

        A lunch that starts within the hour takes its agents out of the hour
        to come, and an abandon now is counted in every rolling hour up to
        an hour from now: the allowance is that hour's answers. The reactive
        `_active_share` sees a break only once it has begun, by which time the
        calls placed for the whole team have spent the larger allowance
        (unseen-4 of the 1207 draw, bench/RESULTS.md). 1.0 when no break is known.
        """
        end = s.now + 3600.0
        active = lost = 0.0
        for a in s.agents:
            if a.state not in ACTIVE_STATES:
                continue
            active += 1
            if a.break_at is not None:
                overlap = min(end, a.break_at + a.break_seconds) - max(s.now, a.break_at)
                lost += max(0.0, overlap) / 3600.0
        return 1.0 - lost / active if active else 1.0

    def _answers_per_hour(self, s: Snapshot) -> float:
        """Persons expected to answer in an hour: the last hour's, or early on what the team can take.

        Until the policy has watched a full hour the window may be young (or
        hold yesterday's end), so the estimate is at least the active agents'
        hourly capacity at 75 % occupancy from the handle-time estimates.
        """
        w = s.window(3600.0)
        answered = w.human_answered if w is not None else 0.0
        if self._first_seen is not None and s.now - self._first_seen >= 3600.0:
            if not self.team_scaled_budget:
                return answered
            # The hour to come: no more than the last half hour's pace (answers
            # fall with the answer rate), times the share of the team still active.
            half = s.window(1800.0)
            if half is not None:
                answered = min(answered, 2.0 * half.human_answered)
            return answered * self._active_share(s) * self._break_share(s)
        handle = self._handle_mean
        active = sum(1 for a in s.agents if a.state in (READY, RESERVED, TALKING, WRAP_UP))
        return max(answered, 0.75 * active * 3600.0 / max(1.0, handle)) * self._break_share(s)

    def _allowed(self, s: Snapshot, per_hour: float) -> int:
        """Abandons an hour with `per_hour` answers may hold."""
        return max(0, math.floor(s.abandon_target * per_hour + 1e-9))

    def _budget_rate(self, allowed: int) -> float:
        """Expected abandons an hour that break an allowance of `allowed` at most that often.

        Abandons come in clumps (several people answer in the same second
        with no agent free), so the Poisson stream is one of clumps of
        `clump` abandons: floor(allowed / clump) clumps may happen.
        """
        clump = self.clump_now()
        key = (allowed, round(clump, 2))
        rate = self._budget_rates.get(key)
        if rate is None:
            clumps = math.floor(allowed / clump + 1e-9)
            rate = clump * budget_rate(clumps, self.hour_break_probability)
            if len(self._budget_rates) > 4096:
                self._budget_rates.clear()
            self._budget_rates[key] = rate
        return rate

    def clump_now(self) -> float:
        """Mean abandons per clump: `clump` as a prior, moved by the clumps this policy saw."""
        if not self.clump_weight:
            return self.clump
        return clump_size(self._clump_abandons, self._clumps, self.clump, self.clump_weight)

    def aim(self, s: Snapshot) -> float:
        """The abandonment ratio steered at: under the target, and under the hour's Poisson budget.

        An hour with N answers may hold floor(target x N) abandons. Abandons
        arrive as a Poisson stream, so the expected count lam is kept where
        P(Poisson(lam) > floor(target x N)) <= `hour_break_probability`: the
        aim is min(target x aim_ratio, lam / N). Large teams get ~the target
        x aim_ratio; small ones much less (5 agents, ~70 answers an hour: 2
        allowed, lam 0.82, aim 1.2 %).
        """
        if self._aim_at == (s.now, s.abandonment):
            return self._aim_value
        base = s.abandon_target * self.aim_ratio
        per_hour = self._answers_per_hour(s)
        aim = base
        if per_hour >= 1.0:
            allowed = self._allowed(s, per_hour)
            aim = min(base, self._budget_rate(allowed) / per_hour)
        self._aim_at, self._aim_value = (s.now, s.abandonment), aim
        return aim

    def _steer(self, s: Snapshot) -> None:
        if self._last_steer is not None and s.now - self._last_steer < self.adjust_every:
            return
        self._last_steer = s.now
        if self.controller == "count":
            # Each abandon raised z once (`_react_to_new_abandons`); time spent
            # dialing ahead lowers it at `z_per_hour`: z settles where abandons
            # come at the aim's rate, without counting an abandon twice.
            self.z = max(self.z_min, self.z - self.z_per_hour * self._model_seconds / 3600.0)
            self._model_seconds = 0.0
            return
        w = s.window(self.steer_window) or s.window(3600.0)
        if w is None:
            return
        aim = self.aim(s)
        upper = wilson_upper(w.abandoned, w.human_answered, self.wilson_z)
        # Bounded steps proportional to the relative error: a 30-minute window
        # reacts late, so large steps would make the controller oscillate.
        error = upper / aim - 1.0
        if -self.deadband <= error <= 0.0:
            return
        step = self.gain * error
        self.z = min(
            self.z_max, max(self.z_min, self.z + min(self.step_up, max(-self.step_down, step)))
        )

    def _react_to_new_abandons(self, s: Snapshot) -> None:
        """Raise the margin at once for each new abandon, by its share of the hour's allowance.

        A burst is what breaks an hour, so the reaction is immediate. New
        abandons are counted on the longest window given, whose count only
        falls when old abandons age out. With the counting controller the
        share is of the abandons an hour the aim allows (aim x N), counted as
        at least `burst_floor` (1): a small team's aim allows 0.3 an hour,
        and one abandon then raised z by 1.6 where a larger team's raises it
        by 0.1-0.5. The guard already stops dialing ahead while that abandon
        leaves no whole clump of room in the hour, and z fell only while
        dialing ahead (0.4 an hour), so an 8-agent team whose answer rate
        falls (falling-8) stayed under its pace for four hours after each
        abandon: 0.644 occupancy where a fixed look-ahead held the hour at
        0.670 (bench/RESULTS.md).
        """
        if not self.burst_step or not s.abandonment:
            return
        longest = max(s.abandonment, key=lambda w: w.seconds)
        seen = self._abandons_seen
        self._abandons_seen = longest.abandoned
        if seen is None or longest.abandoned <= seen:
            return
        new = longest.abandoned - seen
        if self._last_abandon_at is None or s.now - self._last_abandon_at > self.clump_gap_seconds:
            self._clumps += 1
        self._clump_abandons += new
        self._last_abandon_at = s.now
        if self.controller == "count":
            allowance = max(self.burst_floor, self.aim(s) * self._answers_per_hour(s))
        else:
            hour = s.window(3600.0) or longest
            allowance = max(1.0, self.aim(s) * hour.human_answered)
        step = self.burst_step * (longest.abandoned - seen) / allowance
        self.z = min(self.z_max, self.z + step)

    def _budget_level(self, s: Snapshot) -> int:
        """0: dial ahead at `z`; 1: only cautiously (`z` + `guard_z_step`); 2: progressive.

        When the windows to come would break too often at the aim's rate
        (`_over_budget`), falling back to `progressive` starved the floor: at
        a 5-12 % answer rate progressive keeps a third to half the team idle,
        the hour's answers fall, its allowance with them, and the guard held
        for an hour (25-74 agents: 0.87-0.92 occupancy on the seeds where it
        tripped, 0.92-0.95 where it did not; a window full of the starved
        period's few answers then broke on the next abandons). A margin one
        standard deviation wider abandons far less (the normal tail at
        z = 2.3 and 3.3: 1/20); counted as `guard_cautious_share` (a quarter)
        of the aim's rate, if the windows to come hold at that rate the
        model dials on with the wider margin. The hard limits (no whole clump
        of room; the 24 h and 30 d windows) stay progressive, the first
        unless the stop itself would starve the hour (`_starving_breaks_sooner`).

        All of that is the break test, now off by default (`guard_break_test`):
        only the hard limits stop the model (`_no_room`). Since the overflow
        cap, the clump ledger and the settled-call level, the test's stops
        bought no safety the bench could see and cost the hours after each
        clump: on drift-20 (20 agents, 12 % answers after 2 h) a clump of 5
        abandons held it at `budget` for 45 minutes, progressive starved the
        floor, the hour's answers fell from 300 to 200 and the six abandons
        nearly broke the hour by themselves (2.76 %, seed 1). Without it the
        same seeds ran 0.834 occupancy, worst hour 2.44 % (bench/RESULTS.md,
        "The guard's break test, off").
        """
        self.last_starving = False
        if not self.guard_break_test:
            return 2 if self._no_room(s) else 0
        if not self._over_budget(s):
            return 0
        if self.guard_cautious and not self._over_budget(s, self.guard_cautious_share):
            return 1
        if self.guard_cautious and self.guard_starving and self._starving_breaks_sooner(s):
            self.last_starving = True
            return 1
        return 2

    def _no_room(self, s: Snapshot) -> bool:
        """The hard limits: True while the last hour or half hour holds as many abandons
        as the hour to come allows (not one more fits), or while the 24 h and 30 d
        windows would be over the target after another hour at the aim."""
        if self._one_abandon_breaks(s):
            return True
        per_hour = self._answers_per_hour(s)
        return self._long_windows_full(s, self.aim(s) * per_hour, per_hour)

    def _starving_breaks_sooner(self, s: Snapshot) -> bool:
        """True when `progressive` would break a window to come more often than the cautious margin.

        `_over_budget` takes the windows to come to hold an hour's answers
        at the recent pace whatever the policy does. But `progressive` at a
        low answer rate keeps most of the team idle (one call per ready
        agent, 1/p calls per answer): the window's old answers age out, few
        new ones come, and its allowance falls under the abandons already in
        it, with no new abandon at all. Traced on unseen-5 of the 2027 draw
        (25 agents, 5 % answers, seed 6): after a clump left 11 abandons in
        an hour of 458 answers the guard stopped dialing ahead, 13-20 agents
        sat ready, and the hour's answers fell to 353: 3.12 %, broken by
        the stop itself. So where the guard would stop, the windows to come
        (ending in 15 and 30 min: the answers of the last 45 / 30 min that
        stay in them, plus new ones) are judged both ways - `progressive`'s
        answers (each active agent: 1/p calls of the mean ring time, then a
        handle time) with no new abandon, and the recent pace with abandons
        at the cautious share of the aim - and the cautious margin is kept
        when the stop would break them more often by over the guard's own
        tolerance (`guard_break_probability`): where progressive keeps the
        team busy (a high answer rate) both break alike and the stop stays.
        Never past the 24 h and 30 d limits.
        """
        hour, half = s.window(3600.0), s.window(1800.0)
        ring = self._ring
        if hour is None or half is None or ring is None or ring.human_rate <= 0:
            return False
        per_hour = self._answers_per_hour(s)
        lam = self.aim(s) * per_hour * self.guard_cautious_share
        if self._long_windows_full(s, lam, per_hour):
            return False
        active = sum(1 for a in s.agents if a.state in (READY, RESERVED, TALKING, WRAP_UP))
        cycle = self._attempt_mean / ring.human_rate + max(1.0, self._handle_mean)
        starved = min(per_hour, active * 3600.0 / cycle)
        clump = self.clump_now()
        older = max(0.0, hour.human_answered - half.human_answered)
        starving = cautious = 0.0
        for ahead, kept, abandoned in (
            (900.0, half.human_answered + older / 2.0, hour.abandoned),
            (1800.0, half.human_answered, half.abandoned),
        ):
            spent = math.ceil(abandoned - 1e-9)
            share = ahead / 3600.0
            target = s.abandon_target
            starving = max(starving, window_break_probability(
                spent, kept + starved * share, target, 0.0, clump))  # fmt: skip
            cautious = max(cautious, window_break_probability(
                spent, kept + per_hour * share, target, lam * share / clump, clump))  # fmt: skip
        return cautious + self.guard_break_probability < starving

    def _over_budget(self, s: Snapshot, rate_share: float = 1.0) -> bool:
        """True while dialing ahead risks a legal window.

        The hour may hold floor(target x N) abandons (N: answers expected in
        an hour); dialing ahead at the aim expects lam = aim x N of them an
        hour, a Poisson stream. The abandons already counted leave the rolling
        window only as they age, so two windows to come are checked: the one
        ending in a quarter hour (every abandon of the last hour may still be
        in it, plus lam / 4 new ones) and the one ending in half an hour (the
        last half hour's abandons, plus lam / 2). Dialing ahead stops while
        either breaks with probability over `guard_break_probability`. A
        whole new hour at the aim breaks with probability at most
        `hour_break_probability` by the choice of the aim (see `aim`).
        The 24 h and 30 d windows (yesterday's calls are in them): while even
        another hour at the aim would leave them over the target.
        """
        per_hour = self._answers_per_hour(s)
        aim = self.aim(s)
        lam = aim * per_hour * rate_share
        allowed = self._allowed(s, per_hour)
        clump = self.clump_now()
        for seconds, share in ((3600.0, 0.25), (1800.0, 0.5)):
            w = s.window(seconds)
            if w is None:
                continue
            spent = math.ceil(w.abandoned - 1e-9)
            # Not even one clump fits in what the window has left: any overflow breaks it.
            # Except, with `one_abandon_room` (on; before the clump bound it broke an hour
            # when the answer rate fell; docs/pacing.md), a window still without an abandon whose
            # allowance holds one (34-66 answers an hour at 3 %): the break probability
            # below decides, and once one abandon is in, nothing more.
            if math.floor((allowed - spent) / clump + 1e-9) < 1 and not (
                self.one_abandon_room and spent == 0 and allowed >= 1
            ):
                return True
            # The hour to come may hold fewer answers than expected (a Poisson
            # count), and then allows fewer abandons.
            p_break = (
                window_break_probability(
                    spent, per_hour, s.abandon_target, lam * share / clump, clump
                )
                if self.uncertain_allowance
                else poisson_tail(math.floor((allowed - spent) / clump + 1e-9), lam * share / clump)
            )
            if p_break > self.guard_break_probability:
                return True
        return self._long_windows_full(s, lam, per_hour)

    def _long_windows_full(self, s: Snapshot, lam: float, per_hour: float) -> bool:
        """The 24 h and 30 d windows (yesterday's calls are in them): True while even
        another hour of `per_hour` answers and `lam` abandons would leave one over the target."""
        for seconds in LEGAL_WINDOWS[1:]:
            w = s.window(seconds)
            if w is not None and w.abandoned + lam > s.abandon_target * (
                w.human_answered + per_hour
            ):
                return True
        return False

    def _overflow_left(self, s: Snapshot) -> int:
        """Abandons the rolling hour can still absorb, its answers taken at a lower bound.

        The hour's allowance is floor(target x N) with N forecast
        (`_answers_per_hour`); an hour of N expected answers may well get
        fewer (a Poisson count; more so while the answer rate falls), so N is
        taken `overflow_answers_z` standard deviations low. Minus the
        abandons already in the last hour (they are in every window that
        would hold a clump now).
        """
        per_hour = self._answers_per_hour(s)
        low = max(0.0, per_hour - self.overflow_answers_z * math.sqrt(max(0.0, per_hour)))
        allowed = self._allowed(s, low)
        w = s.window(3600.0)
        spent = math.ceil(w.abandoned - 1e-9) if w is not None else 0
        return max(0, allowed - spent)

    def _row_bound(self) -> Callable[[float, int], float]:
        """A ring-model row's chance at its upper bound: the level's error
        (`overflow_level_z`) and the row's own count of calls (Wilson, `overflow_shape_z`)."""
        up = 1.0 + self.overflow_level_z * self.rate_error
        shape_z = self.overflow_shape_z

        def bound(p: float, count: int) -> float:
            b = min(1.0, p * up)
            if shape_z and count > 0:
                b = max(b, wilson_upper(p * count, count, shape_z))
            return b

        return bound

    def _overflow_cap(self, s: Snapshot, predicted: int, progressive: int, m: _Moment) -> int:
        """The most calls for which the calls ringing cannot bring an hour-breaking clump.

        The z x sd margin bounds the answers' spread on average; what breaks
        a small team's hour is one moment when several people answer with
        nobody free. At every horizon h, the answers by h (calls waiting,
        plus one Bernoulli per ringing or new call, its chance of a person
        answering within h at the rate's upper bound) less the agents free
        by h + grace (ready ones, plus one Bernoulli per busy agent) must
        exceed the abandons the hour can still absorb (`_overflow_left`)
        only rarely: the risk of n new calls is the largest of these tails
        over the horizons (`estimators.overflow_tails`, an exact
        Poisson-binomial tail).

        Two limits. Per decision, the risk stays under
        `overflow_break_probability` x (longest horizon / 3600). And per
        hour (`clump_ledger`): a decision that dials ahead is charged the
        rise in risk its calls beyond the progressive answer bring (the
        calls' whole ring is inside the horizons, so each call is charged
        once, when placed), and the charges of the last hour may not exceed
        `clump_hour_budget`. The per-decision limit alone let a shift offer
        thousands of slightly different sets of calls each at the limit
        (the policy decides every second), and small teams broke the hour
        (bench/RESULTS.md, "Small unseen teams"); summed charges bound the
        expected clumps an hour, so the chance of one. Never under the
        progressive answer (the caller keeps it).
        """
        left = self._overflow_left(s)
        tolerance = self.overflow_break_probability * max(self.horizons) / 3600.0
        self._pending_charge = None
        if not self.clump_ledger:
            bound = self._row_bound()
            sure_answers = s.waiting + len(s.inbound_waiting)
            best = predicted
            for i in range(len(self.horizons)):
                ringing = [bound(r[i], c) for r, c in zip(m.ring_rows, m.ring_counts, strict=True)]
                free = [r[i] for r in m.busy_rows]
                n = most_calls_within_overflow(
                    ringing,
                    bound(m.new[i], m.new_count),
                    best,
                    free,
                    sure_answers,
                    m.ready,
                    left,
                    tolerance,
                )
                if n < best:
                    best = max(0, n)
                    if best == 0:
                        break
            return best
        risk = self._risk_by_calls(s, m, predicted, left)
        base = min(progressive, predicted)
        room = self.clump_hour_budget - self._ledger.spent(s.now) - self._exact_break_share(s, left)
        self._pending_charge = (risk, base)
        return _most_within(risk, base, tolerance, room)

    def _charge(self, now: float, placed: int) -> None:
        """Charge the decision's calls beyond the progressive answer to the hour's ledgers."""
        for pending, ledger in ((self._pending_charge, self._ledger),
                                (self._pending_exact, self._exact_ledger)):  # fmt: skip
            if pending is None:
                continue
            risk, base = pending
            if placed > base:
                ledger.charge(now, risk[min(placed, len(risk) - 1)] - risk[base])
        self._pending_charge = self._pending_exact = None

    @property
    def clump_risk_spent(self) -> float:
        """The clump risk charged over the last hour, as of the last decision (for traces)."""
        return self._ledger.last_spent

    @property
    def exact_risk_spent(self) -> float:
        """The exact path's abandon risk charged over the last hour (for traces)."""
        return self._exact_ledger.last_spent

    def _exact_cap(self, s: Snapshot, progressive: int, most: int, m: _Moment) -> int:
        """The most calls whose chance of bringing even one abandon is negligible.

        Where the z x sd margin refuses to dial ahead (a small team: a few
        calls ringing make the normal margin wide; an hour with no abandon to
        spare, where the guard stops the model), calls can still be placed
        whose risk is truly small: with two agents ready and one call ringing
        at a 10 % answer rate, one more call brings an abandon only if both
        people answer and a third does too before anyone frees. The risk is
        the exact Poisson-binomial tail of the clump bound with nothing left
        to absorb (`estimators.overflow_tails`, `left` = 0: P(more answers
        than free agents) at each horizon, each call at its row's upper
        bound, each busy agent free at most `exact_free_cap`), taken as the
        largest over the horizons. Two limits: per decision the rise over
        `progressive` stays under `exact_decision_risk`; and per rolling hour
        the risk charged (the expected abandons these calls bring) stays under
        the rate at which the hour's remaining room (`_overflow_left`) is
        exceeded with probability `exact_hour_budget` - 0.005 an hour when
        any abandon breaks it, ~0.1 with one to spare; with
        `exact_uncertain_room`, summed over the answers' spread instead
        (`_exact_uncertain_allowance`) - and under `exact_max_per_hour`.
        docs/pacing.md, "the exact path".
        """
        if most <= progressive:
            return progressive
        room_left = self._overflow_left(s)
        spent = self._exact_ledger.spent(s.now)
        probability = self.exact_hour_budget
        if self.exact_shares_budget:
            # The hour's break budget less the clump bound's charges: this path's
            # expected abandons may exceed what the hour absorbs with at most that.
            left_over = self.clump_hour_budget - self._ledger.spent(s.now)
            if left_over <= 0:
                return progressive
            probability = min(probability, left_over)
        if self.exact_uncertain_room:
            allowance = min(
                self.exact_max_per_hour, self._exact_uncertain_allowance(s, probability)
            )
        else:
            allowance = min(self.exact_max_per_hour, budget_rate(room_left, min(probability, 0.5)))
        room = allowance - spent
        if room <= 0:
            return progressive
        # A busy agent's chance to be free is at most `exact_free_cap`: the
        # survival's last rows rest on the few talks or wrap-ups that lasted that
        # long (past the longest wrap-up seen it says "free within a second" for
        # sure), and an agent may go on a break instead.
        risk = self._risk_by_calls(s, m, most, 0, free_cap=self.exact_free_cap, arrivals=True)
        best = _most_within(risk, progressive, self.exact_decision_risk, room)
        if best > progressive:
            self._pending_exact = (risk, progressive)
        return best

    def _exact_uncertain_allowance(self, s: Snapshot, probability: float) -> float:
        """The exact path's abandons an hour with `exact_uncertain_room`: the rate at which
        the hour breaks with at most `probability`, its answers a Poisson count around their
        lower bound (`overflow_answers_z` low, as `_overflow_left`) and the abandons already
        in it spent."""
        per_hour = self._answers_per_hour(s)
        low = max(0.0, per_hour - self.overflow_answers_z * math.sqrt(max(0.0, per_hour)))
        w = s.window(3600.0)
        spent = math.ceil(w.abandoned - 1e-9) if w is not None else 0
        key = (spent, round(low), round(probability, 4), s.abandon_target)
        rate = self._uncertain_rates.get(key)
        if rate is None:
            rate = uncertain_budget_rate(spent, float(round(low)), s.abandon_target,
                                         min(probability, 0.5))  # fmt: skip
            if len(self._uncertain_rates) > 4096:
                self._uncertain_rates.clear()
            self._uncertain_rates[key] = rate
        return rate

    def _exact_break_share(self, s: Snapshot, left: int) -> float:
        """The chance that the exact path's abandons of the last hour break it alone.

        The exact path charges the expected abandons its calls bring; if more than
        the `left` abandons the hour can still absorb came of them, it breaks.
        With `exact_shares_budget` (on), this share comes out of the clump
        bound's `clump_hour_budget`, and the exact path may only spend what the
        clump bound left: one break budget an hour for both. Kept apart, one
        hour could spend both budgets, and a shift broke that way (unseen-10
        of the small draw, seed 22: 3.64 %; with one budget 0 of 20 fresh seeds).
        """
        if not (self.exact_ahead and self.exact_shares_budget):
            return 0.0
        return poisson_tail(left, self._exact_ledger.spent(s.now))

    def _risk_by_calls(self, s: Snapshot, m: _Moment, most: int, left: int,
                       free_cap: float = 1.0, arrivals: bool = False) -> list[float]:  # fmt: skip
        """P(more than `left` abandons) with 0, 1, ..., `most` new calls: at each horizon
        the exact tail of answers by h less agents free by h + grace (`overflow_tails`),
        each ringing call at its row's upper bound, each busy agent free at most
        `free_cap`; the largest over the horizons. With `arrivals`, the inbound callers
        expected by each horizon (rounded up) are answers that take agents first."""
        bound = self._row_bound()
        risk = [0.0] * (most + 1)
        for i, h in enumerate(self.horizons):
            sure_answers = s.waiting + len(s.inbound_waiting)
            if arrivals:
                sure_answers += math.ceil(
                    s.inbound_rate_per_s * (h + s.connect_grace_seconds) - 1e-9
                )
            ringing = [bound(r[i], c) for r, c in zip(m.ring_rows, m.ring_counts, strict=True)]
            free = [min(r[i], free_cap) for r in m.busy_rows]
            tails = overflow_tails(ringing, bound(m.new[i], m.new_count), most, free, sure_answers,
                                   m.ready, left)  # fmt: skip
            risk = [max(a, b) for a, b in zip(risk, tails, strict=True)]
        return risk

    def _pause_share(self, s: Snapshot) -> float:
        """The share of agents freeing up lately who went on a pause instead, once a wave.

        A lunch or a team meeting takes agents as their calls end: the talk and
        wrap-up survival still says they free up, so calls placed for them ring
        with nobody to take the answers. Of the agents whose state began within
        `pause_wave_seconds` as ready, reserved, talking or paused (each came free
        from a call or a pause within it), the paused share; 0 until at least
        `pause_wave_min` paused within it (one break is routine, and its agent
        is already out of the supply).
        """
        since = s.now - self.pause_wave_seconds
        paused = freed = 0
        for a in s.agents:
            if a.state_since < since:
                continue
            if a.state == PAUSED:
                paused += 1
            elif a.state in (READY, RESERVED, TALKING):
                freed += 1
        if paused < self.pause_wave_min:
            return 0.0
        return paused / (paused + freed)

    def _one_abandon_breaks(self, s: Snapshot) -> bool:
        """True while a window to come has no room for even one more abandon.

        Written when the console paused a ready agent at once, so a call
        ringing while its agent went on break was abandoned unless another
        agent freed up within the grace. The floor now holds such a pause
        until the calls already ringing are over (`dialer/pause_rule.py`,
        docs/pacing.md), which removed those abandons; `pause_spare` (off by
        default: measured, it starved small teams) stays as the experiment it
        was, cutting the progressive answer to leave one ready agent
        uncovered where one abandon breaks an hour (`_progressive_leaving`).
        """
        per_hour = self._answers_per_hour(s)
        allowed = self._allowed(s, per_hour)
        for seconds in (3600.0, 1800.0):
            w = s.window(seconds)
            if w is not None and allowed - math.ceil(w.abandoned - 1e-9) < 1:
                return True
        return allowed < 1

    def _freeing_within(self, s: Snapshot, seconds: float) -> float:
        """Expected busy agents who finish talk and wrap-up within `seconds`, from the estimates."""
        by_state = self._window_rows.get(seconds)
        if by_state is None:
            assert self._talk_survival is not None and self._wrap_survival is not None
            by_state = self._window_rows[seconds] = {
                TALKING: free_within_rows(self._talk_survival, self._wrap_quantiles, (seconds,)),
                WRAP_UP: wrap_free_rows(self._wrap_survival, (seconds,)),
            }
        total = 0.0
        for a in s.agents:
            tables = by_state.get(a.state)
            if tables is None:
                continue
            rows, tail = tables
            t = int(s.now - a.state_since)
            total += (rows[t] if 0 <= t < len(rows) else tail)[0]
        return total

    def _inbound_reserve(self, s: Snapshot, active: int) -> int:
        """Agents to keep free: within the campaign's wait target, and at once.

        The target alone asks nothing of a large team (someone always frees
        up within 20 s), so callers there would wait whenever outbound answers
        bunch; "at once" keeps the agent or two that answers them without a
        wait, at a tighter tolerance: the price is shown as occupancy.
        """
        target = s.inbound_wait_target_s
        reserve = self._reserve_within(s, active, target, self.inbound_tolerance)
        at_once = min(self.inbound_at_once_seconds, target)
        if at_once > 0:
            reserve = max(
                reserve, self._reserve_within(s, active, at_once, self.inbound_at_once_tolerance)
            )
        return reserve

    def _reserve_within(self, s: Snapshot, active: int, seconds: float, tolerance: float) -> int:
        # The expected freeings move a little every tick; to 0.01 agent the
        # answer is the same, and the cache spares recomputing it each second.
        freeing = round(self._freeing_within(s, seconds), 2)
        key = (s.inbound_rate_per_s, s.inbound_waiting, seconds, freeing, active, tolerance)
        cached = self._reserve_cache.get(key)
        if cached is None:
            if len(self._reserve_cache) > 4096:
                self._reserve_cache.clear()
            cached = self._reserve_cache[key] = inbound_reserve(
                rate_per_s=s.inbound_rate_per_s,
                waited=s.inbound_waiting,
                wait_target_s=seconds,
                freeing_within_target=freeing,
                tolerance=tolerance,
                max_reserve=active,
            )
        return cached

    def _progressive_leaving(
        self,
        s: Snapshot,
        progressive: int,
        reserve: int,
        ring: RingModel | None,
        ready: int,
        tolerance: float,
    ) -> int:
        """The progressive answer, cut so `reserve` ready agents stay free.

        For inbound (the reserve), and for one agent who may pause while a
        call rings (`_one_abandon_breaks`). Most calls placed for ready
        agents are never answered by a person, so a ready agent with a call
        ringing for it is often still free: the calls are cut until the
        chance that their answers (each at the recent human answer rate) take
        more than the ready agents beyond the reserve is at most `tolerance`.
        Without a trusted answer rate every call counts as answered.
        """
        spare = ready - s.waiting - len(s.inbound_waiting) - reserve
        if spare <= 0:
            return 0
        if ring is None or ring.samples < self.min_ring_samples or ring.human_rate >= 1:
            return max(0, min(progressive, spare - len(s.ringing)))
        rate = max(0.0, ring.human_rate)
        calls = progressive
        while calls > 0 and binomial_above(len(s.ringing) + calls, rate, spare) > tolerance:
            calls -= 1
        return calls

    # -- decision ----------------------------------------------------------
    def calls_to_place(self, snapshot: Snapshot) -> int:
        s = snapshot
        if s.has_inbound and not self.inbound_aware:
            s = replace(s, inbound_waiting=(), inbound_rate_per_s=0.0)
        progressive = min(s.room, _uncovered_ready(s))
        if self._first_seen is None:
            self._first_seen = s.now
        if self._model_since is not None:
            self._model_seconds += s.now - self._model_since
            self._model_since = None
        self._refresh(s)
        self._steer(s)
        self._react_to_new_abandons(s)
        ready = 0
        talk_rows: list[tuple[float, ...]] = []
        wrap_rows: list[tuple[float, ...]] = []
        now = s.now
        trows, ttail, n_t = self._talk_rows, self._talk_tail, len(self._talk_rows)
        wrows, wtail, n_w = self._wrap_rows, self._wrap_tail, len(self._wrap_rows)
        active = 0
        pausing = self._pause_share(s) if self.pause_wave else 0.0
        self.last_pause_share = pausing
        last_horizon = self.horizons[-1]
        for a in s.agents:
            st = a.state
            if st == TALKING:
                t = int(now - a.state_since)
                row = trows[t] if 0 <= t < n_t else ttail
                if pausing:
                    row = _free_unless_paused(row, pausing)
                if a.break_at is not None and a.break_at - now < last_horizon:
                    row = _free_before_break(row, self.horizons, a.break_at - now)
                talk_rows.append(row)
                active += 1
            elif st == WRAP_UP:
                w = int(now - a.state_since)
                row = wrows[w] if 0 <= w < n_w else wtail
                if pausing:
                    row = _free_unless_paused(row, pausing)
                if a.break_at is not None and a.break_at - now < last_horizon:
                    row = _free_before_break(row, self.horizons, a.break_at - now)
                wrap_rows.append(row)
                active += 1
            elif st == READY:
                ready += 1
                active += 1
            elif st == RESERVED:
                active += 1
        reserve = self._inbound_reserve(s, active) if s.has_inbound else 0
        self.last_inbound_reserve = reserve
        ring = self._ring
        keep, tolerance = reserve, self.inbound_at_once_tolerance
        self.last_pause_spare = self.pause_spare and self._one_abandon_breaks(s)
        if self.last_pause_spare:
            keep += 1
            tolerance = (
                min(tolerance, self.pause_spare_tolerance)
                if reserve
                else self.pause_spare_tolerance
            )
        if keep:
            progressive = self._progressive_leaving(s, progressive, keep, ring, ready, tolerance)
        if (
            active < self.min_active_agents
            or ring is None
            or ring.samples < self.min_ring_samples
            or self._talk_finished < self.min_talk_samples
        ):
            self.last_reason = "warming_up"
            return progressive
        extra = 0.0
        # The guard stopped the model: only the exact path may still dial ahead,
        # never while the 24 h or 30 d windows are full.
        exact_only = False
        self.last_exact_cap = None
        if self.budget_guard:
            level = self._budget_level(s)
            if level == 2:
                self.last_reason = "budget"
                per_hour = self._answers_per_hour(s)
                if not self.exact_ahead or self._long_windows_full(
                    s, self.aim(s) * per_hour, per_hour
                ):
                    return progressive
                exact_only = True
            if level == 1:
                extra = self.guard_z_step
        k = len(self.horizons)
        supply = [float(ready)] * k + [0.0] * k
        for col, total in enumerate(_column_sums(talk_rows + wrap_rows, 2 * k)):
            supply[col] += total
        rrows, last_r = ring.rows, len(ring.rows) - 1
        ring_rows = []
        ring_ages = []
        for call in s.ringing:
            r = int(now - call.dialed_at)
            ring_rows.append(rrows[r] if 0 <= r <= last_r else rrows[last_r if r > 0 else 0])
            ring_ages.append(r)
        demand = [float(s.waiting)] * k + [0.0] * k
        ring_sums = _column_sums(ring_rows, 2 * k)
        for col, total in enumerate(ring_sums):
            demand[col] += total
        # The answer rate is an estimate: its error is shared by every call, so
        # it adds (error x answers expected from calls)^2 to the variance; the
        # fewer calls since a change, the larger.
        err2 = self.rate_error**2
        # ... and persists for minutes (every decision shares it), so the calls'
        # expected answers are also taken at the rate's upper bound.
        up = 1.0 + self.level_z * self.rate_error
        if s.has_inbound:
            # Inbound goes first to every agent who frees up: the callers queued
            # and those arriving by the horizon (Poisson: variance = mean) take
            # agents before any new call's debtor does.
            queued = len(s.inbound_waiting)
            for i, h in enumerate(self.horizons):
                arriving = s.inbound_rate_per_s * (h + s.connect_grace_seconds)
                demand[i] += queued + arriving
                demand[k + i] += arriving
        new = ring.rows[0]
        z = self.z + extra
        best = -1.0 if exact_only else math.inf
        for i in range(0 if exact_only else k):
            c = new[i] * up
            if c < 1e-6:
                continue
            margin = supply[i] - demand[i] - (up - 1.0) * ring_sums[i]
            var = supply[k + i] + demand[k + i]
            # `first` only sizes the new calls' own variance: taken before the
            # reserve, it errs large, so the answer errs on the safe side.
            first = max(0.0, (margin - z * math.sqrt(var)) / c)
            var += err2 * (ring_sums[i] + c * first) ** 2
            # The reserve comes on top of the z * sd margin kept against
            # abandons: that margin is spent by outbound answers in the very
            # moments they bunch, which is when an inbound caller would wait.
            n_i = (margin - reserve - z * math.sqrt(var + new[k + i] * first)) / c
            best = min(best, n_i)
        cap = int(self.max_calls_per_agent * active) - len(s.ringing)
        predicted = 0 if best == math.inf or best < 0 else int(best)
        predicted = min(predicted, s.room, cap)
        if not exact_only:
            self.last_reason = "model" if not extra else "cautious"
        self.last_overflow_cap = None
        self._pending_charge = self._pending_exact = None
        moment = _Moment(ring_rows, [ring.count_at(r) for r in ring_ages], talk_rows + wrap_rows,
                         ready, new, ring.count_at(0))  # fmt: skip
        if self.overflow_bound and predicted > progressive:
            bounded = self._overflow_cap(s, predicted, progressive, moment)
            if bounded < predicted:
                self.last_overflow_cap = bounded
                self.last_reason = "overflow"
                predicted = bounded
        elif self.exact_ahead and predicted <= progressive and not reserve:
            # The margin (or the guard) refused: calls that can hardly bring an abandon.
            # Not while agents are kept for inbound: the model's reserve is about
            # callers' waits, which this risk does not see.
            # A call or two beyond the ready agents is as far as "hardly any risk" goes.
            most = min(s.room, cap, progressive + max(2, ready))
            exact = self._exact_cap(s, progressive, most, moment)
            if exact > progressive:
                self.last_exact_cap = exact
                self.last_reason = "exact"
                predicted = exact
        if not extra and not exact_only:  # z comes down only while dialing ahead at it
            self._model_since = s.now
        placed = max(0, min(s.room, cap, max(progressive, predicted)))
        self._charge(s.now, placed)
        return placed


@dataclass(frozen=True, slots=True)
class _Moment:
    """The calls and agents of one decision, as the clump bounds read them: each
    ringing call's ring-model row and its count, each busy agent's "free within"
    row, the ready agents, and a new call's row and count."""

    ring_rows: list[tuple[float, ...]]
    ring_counts: list[int]
    busy_rows: list[tuple[float, ...]]
    ready: int
    new: tuple[float, ...]
    new_count: int


def _free_unless_paused(row: tuple[float, ...], pausing: float) -> tuple[float, ...]:
    """A busy agent's free-within row (probabilities, then their Bernoulli variances)
    when each agent freeing up goes on a pause with probability `pausing`."""
    k = len(row) // 2
    ps = [p * (1.0 - pausing) for p in row[:k]]
    return (*ps, *(p * (1.0 - p) for p in ps))


def _free_before_break(row: tuple[float, ...], horizons: Sequence[float],
                       due_in: float) -> tuple[float, ...]:  # fmt: skip
    """A busy agent's free-within row when their scheduled break comes due in `due_in`
    seconds: one who ends the call after that goes on the break, not to the floor
    (the pause is kept for after the call), so at every horizon past it they count
    only as free as by the break. One who frees before it is ready, and the calls
    ringing when the break is asked still go to them (dialer/pause_rule.py)."""
    k = len(row) // 2
    ps = list(row[:k])
    by_break = 0.0
    for i, h in enumerate(horizons):
        if h <= due_in:
            by_break = ps[i]
        else:
            ps[i] = by_break
    return (*ps, *(p * (1.0 - p) for p in ps))


def _most_within(risk: Sequence[float], base: int, tolerance: float, room: float) -> int:
    """The most calls (at least `base`) whose risk stays under `tolerance` and whose rise
    over `base`'s stays within `room`, taking them in order."""
    best = base
    for n in range(base + 1, len(risk)):
        if risk[n] > tolerance or risk[n] - risk[base] > room:
            break
        best = n
    return best


def _settled_end(samples: Sequence[RingSample]) -> int:
    """The index of the first call still ringing: the samples before it have all settled."""
    for i, x in enumerate(samples):
        if x.outcome == "ringing":
            return i
    return len(samples)


def binomial_above(trials: int, p: float, k: int) -> float:
    """P(Binomial(trials, p) > k)."""
    if k >= trials:
        return 0.0
    if k < 0:
        return 1.0
    q = 1.0 - p
    term = q**trials  # P(X = 0)
    at_most = term
    for j in range(1, k + 1):
        term *= (trials - j + 1) / j * (p / q) if q > 0 else 0.0
        at_most += term
    return max(0.0, 1.0 - at_most)


def _with_running(
    samples: tuple[DurationSample, ...], s: Snapshot, state: str
) -> tuple[DurationSample, ...]:
    """The samples, plus the agents now in `state` as censored ones if the builder gave none.

    Leaving running talks out biases the estimate short (early in a shift only
    short calls have finished), so a builder that only records finished ones
    gets them added from the agents' elapsed time in state.
    """
    if any(not x.finished for x in samples):
        return samples
    running = tuple(
        DurationSample(max(0.0, s.now - a.state_since), False) for a in s.agents if a.state == state
    )
    return samples + running


def _column_sums(rows: list[tuple[float, ...]], width: int) -> list[float]:
    if not rows:
        return [0.0] * width
    return [sum(col) for col in zip(*rows, strict=True)]


class VicidialAdaptPolicy:
    """VICIdial-style adaptive dial level, from its campaign documentation (ADAPT dial methods).

    Every `adjust_every_seconds` the dial level is multiplied by
    1 + (ready agents - waiting calls + diff_target) / active agents, both
    averaged over the last minute as VICIdial's campaign stats do, and clamped
    to [1, max_level] (`adaptive_maximum_level`, default 3.0); `diff_target`
    is `adaptive_dl_diff_target` (-1: aim at one agent waiting for calls, +1:
    one call waiting for an agent). `intensity` (`adaptive_intensity`, -40..40)
    makes rises larger and falls smaller when positive, the reverse when
    negative. The drop rate is the 24 h window's, against
    `dropped_percentage` (`adaptive_dropped_percentage`; default: the
    snapshot's target), by `mode` (the dial method):

    - `hard_limit` (ADAPT_HARD_LIMIT): while over the limit, no dialing ahead
      (level 1) until the rate is back under it.
    - `tapered` (ADAPT_TAPERED): over the limit is allowed in the first half
      of the shift (up to twice the limit at its start, tapering to the limit
      at mid-shift); over it the level is halved.
    - `average` (ADAPT_AVERAGE): no hard stop; the level is also scaled each
      step by how far the drop rate is under (or over) the limit, to hold the
      limit on average.

    Lines = level x active agents (ready + in call; with fewer than
    `available_only_below` active agents, ready agents only: VICIdial's
    "available only tally", advised for small teams) - calls in progress.
    `vicidial_adapt` is the plain default configuration (tapered, limit = the
    target, diff 0, intensity 0); `vicidial_recommended` the settings the
    vendor's guides advise for a compliance-sensitive collection floor:
    tapered, drop limit 1.5 %, max level 3.0, diff target -1 (one agent kept
    waiting), available-only tally under 10 agents.
    """

    name = "vicidial_adapt"

    def __init__(
        self,
        *,
        adjust_every_seconds: float = 15.0,
        max_level: float = 3.0,
        diff_target: float = 0.0,
        mode: str = "tapered",
        average_seconds: float = 60.0,
        dropped_percentage: float | None = None,
        intensity: float = 0.0,
        available_only_below: int = 0,
        name: str = "vicidial_adapt",
    ) -> None:
        if max_level < 1:
            raise ValueError("max_level must be >= 1")
        if mode not in ("tapered", "hard_limit", "average"):
            raise ValueError("mode must be 'tapered', 'hard_limit' or 'average'")
        if dropped_percentage is not None and not 0 < dropped_percentage < 100:
            raise ValueError("dropped_percentage must be in (0, 100)")
        if not -40 <= intensity <= 40:
            raise ValueError("intensity must be in -40..40")
        self.name = name
        self.adjust_every = adjust_every_seconds
        self.max_level = max_level
        self.diff_target = diff_target
        self.mode = mode
        self.average_seconds = average_seconds
        self.dropped_percentage = dropped_percentage
        self.intensity = intensity
        self.available_only_below = available_only_below
        self.level = 1.0
        self._last_adjust: float | None = None
        self._shift_start: float | None = None
        self._samples: deque[tuple[float, int, int]] = deque()  # (time, ready - waiting, active)

    def _limit(self, s: Snapshot) -> float:
        limit = (
            s.abandon_target if self.dropped_percentage is None else self.dropped_percentage / 100
        )
        if self.mode != "tapered" or s.shift_ends_at is None or self._shift_start is None:
            return limit
        length = s.shift_ends_at - self._shift_start
        left = 0.0 if length <= 0 else max(0.0, (s.shift_ends_at - s.now) / length)
        return limit * (1.0 + max(0.0, 2.0 * left - 1.0))

    def _scaled(self, factor: float) -> float:
        """The intensity modifier: positive makes rises larger and falls smaller."""
        k = self.intensity / 40.0
        return 1.0 + (factor - 1.0) * (1.0 + k if factor > 1.0 else 1.0 - k)

    def calls_to_place(self, snapshot: Snapshot) -> int:
        s = snapshot
        if self._shift_start is None:
            self._shift_start = s.now
        ready = in_call = 0
        for a in s.agents:
            if a.state == READY:
                ready += 1
            elif a.state in (TALKING, RESERVED):
                in_call += 1
        active = ready + in_call
        samples = self._samples
        samples.append((s.now, ready - s.waiting, active))
        while samples[0][0] < s.now - self.average_seconds:
            samples.popleft()
        if self._last_adjust is None or s.now - self._last_adjust >= self.adjust_every:
            self._last_adjust = s.now
            day = s.window(86400.0)
            drop = day.abandoned / day.human_answered if day and day.human_answered else 0.0
            differential = sum(x[1] for x in samples) / len(samples)
            agents = sum(x[2] for x in samples) / len(samples)
            limit = self._limit(s)
            if drop > limit and self.mode == "hard_limit":
                self.level = 1.0
            elif drop > limit and self.mode == "tapered":
                self.level = max(1.0, self.level / 2.0)
            elif agents > 0:
                factor = 1.0 + (differential + self.diff_target) / agents
                if self.mode == "average" and day and day.human_answered:
                    factor *= 1.0 + 0.5 * max(-1.0, min(1.0, (limit - drop) / limit))
                self.level = min(self.max_level, max(1.0, self.level * self._scaled(factor)))
        counted = ready if active < self.available_only_below else active
        goal = int(round(self.level * counted))
        in_progress = len(s.ringing) + s.waiting + (0 if counted == ready else in_call)
        return max(0, min(s.room, goal - in_progress))


VICIDIAL_RECOMMENDED: dict[str, Any] = {
    "mode": "tapered",
    "dropped_percentage": 1.5,
    "max_level": 3.0,
    "diff_target": -1.0,
    "intensity": 0.0,
    "available_only_below": 10,
    "name": "vicidial_recommended",
}


class IssabelPolicy:
    """Issabel/Elastix-style predictive dialing, from its public description.

    Free agents plus talking agents whose chance of having finished -- under an
    exponential talk time with the recent mean, evaluated at elapsed time plus
    the mean answer time -- is at least `finish_probability`, divided by the
    recent answer-seizure ratio, minus the calls already ringing.
    """

    name = "issabel"

    def __init__(
        self,
        *,
        finish_probability: float = 0.97,
        default_talk_seconds: float = 180.0,
        default_answer_seconds: float = 10.0,
        default_answer_ratio: float = 0.3,
        min_answer_ratio: float = 0.05,
    ) -> None:
        if not 0 < finish_probability < 1:
            raise ValueError("finish_probability must be in (0, 1)")
        self.finish_probability = finish_probability
        self.mean_talk = default_talk_seconds
        self.mean_answer = default_answer_seconds
        self.answer_ratio = default_answer_ratio
        self.min_answer_ratio = min_answer_ratio
        self._stats_at: float | None = None

    def _refresh(self, s: Snapshot) -> None:
        if s.stats_at == self._stats_at:
            return
        self._stats_at = s.stats_at
        talks = [d.seconds for d in s.talk_samples if d.finished]
        if talks:
            self.mean_talk = sum(talks) / len(talks)
        ended = [r for r in s.ring_samples if r.outcome != "ringing"]
        humans = [r.seconds for r in ended if r.outcome == "human"]
        if humans:
            self.mean_answer = sum(humans) / len(humans)
        if len(ended) >= 10:
            self.answer_ratio = max(self.min_answer_ratio, len(humans) / len(ended))

    def calls_to_place(self, snapshot: Snapshot) -> int:
        s = snapshot
        self._refresh(s)
        free = 0
        soon = 0
        # finished with probability >= p  <=>  elapsed + answer >= -ln(1 - p) * mean
        threshold = -math.log(1.0 - self.finish_probability) * self.mean_talk - self.mean_answer
        for a in s.agents:
            if a.state == READY:
                free += 1
            elif a.state == TALKING and s.now - a.state_since >= threshold:
                soon += 1
        want = math.floor((free + soon) / self.answer_ratio)
        return max(0, min(s.room, want - len(s.ringing) - s.waiting))


_FACTORIES: dict[str, Callable[..., Policy]] = {
    "progressive": ProgressivePolicy,
    "predictive": PredictivePolicy,
    INBOUND_BLIND: partial(PredictivePolicy, inbound_aware=False),
    "vicidial_adapt": VicidialAdaptPolicy,
    "vicidial_recommended": partial(VicidialAdaptPolicy, **VICIDIAL_RECOMMENDED),
    "issabel": IssabelPolicy,
}
POLICY_NAMES = tuple(_FACTORIES)


def make_policy(name: str, **params: Any) -> Policy:
    """A fresh policy object by name; unknown names or parameters raise ValueError."""
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise UnknownPolicyError(
            f"unknown pacing policy {name!r}; choose one of {', '.join(POLICY_NAMES)}"
        ) from None
    try:
        return factory(**params)
    except TypeError as exc:
        raise UnknownPolicyError(f"bad parameters for policy {name!r}: {exc}") from None
