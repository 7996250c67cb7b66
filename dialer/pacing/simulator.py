"""Discrete-event simulator of a campaign shift, driving a pacing policy on a virtual clock.

The policy object is the one the live dial loop uses: each tick the simulator
builds a `Snapshot` exactly as the loop would and places the calls it asks for.
Calls end as the scenario's current phase says (person, machine dropped after
detection, busy, failed, no answer at the ring timeout); a person who answers
is bridged to a ready agent, or waits up to the connect grace for one, else is
abandoned. Randomness comes from one `random.Random(seed)`.

Pauses follow the live floor (docs/pacing.md, dialer/pause_rule.py): a pause
that comes due while the agent is ready and calls are ringing waits for those
calls ("pausing"): the policy already sees the agent as paused, so no call is
placed on their account, and an answered person goes to them only when nobody
else is ready (their pause then starts after that call's wrap-up). Once no
call that rang when the pause was asked still rings, the pause starts (the
live deadline, ring timeout + detection + grace after the asking, is never
reached here: every call has ended by then). A pause that comes due in a call
or its wrap-up is asked then and kept for after it (live: `pause_after`): the
policy sees that agent as paused from the asking, and the pause starts when the
wrap-up ends.

With an `inbound` section, debtors also call in (Poisson arrivals, a rate per
phase of the shift) and queue for an agent with their patience: inbound has
priority over outbound for the next free agent (the longest-idle ready agent
of the skill group takes a new caller); after the overflow limit any ready
agent may take the caller; a caller whose patience runs out hangs up in
queue. Inbound draws come from a second generator seeded from the same seed,
so every policy meets the same callers and outbound-only shifts are unchanged.
"""

from __future__ import annotations

import heapq
import math
import time
from bisect import bisect_left, bisect_right
from collections import deque
from dataclasses import asdict, dataclass
from random import Random
from typing import Any

from dialer.pacing.policies import Policy
from dialer.pacing.samples import DurationLog, RingLog
from dialer.pacing.scenario import Inbound, PauseRule, Scenario
from dialer.pacing.snapshot import (
    PAUSED,
    READY,
    STATS_REFRESH_SECONDS,
    TALKING,
    WRAP_UP,
    AbandonWindow,
    AgentView,
    DurationSample,
    RingingCall,
    RingSample,
    Snapshot,
)

ABANDON_WINDOWS = (1800.0, 3600.0, 86400.0, 2592000.0)
ROLLING_HOUR = 3600.0
DAY = 86400.0
MONTH = 2592000.0
ROLLING_STEP = 60.0

# Event kinds, ordered so that at equal times agents free up before calls need them.
# Inbound kinds come last so outbound-only shifts keep their exact event order.
(
    _TALK_END,
    _WRAP_END,
    _PAUSE_END,
    _PAUSE_DUE,
    _RING_END,
    _GRACE_END,
    _TICK,
    _INBOUND_ARRIVAL,
    _INBOUND_OVERFLOW,
    _INBOUND_GIVE_UP,
) = range(10)


class PolicyError(RuntimeError):
    """The policy returned something that is not a non-negative int."""


@dataclass(frozen=True)
class RunResult:
    seed: int
    agents: int
    shift_seconds: float
    placed: int
    human_answered: int
    machine: int
    busy: int
    failed: int
    no_answer: int
    connected: int
    abandoned: int
    ringing_at_end: int
    waiting_at_end: int
    talk_seconds: float
    wrap_seconds: float
    paused_seconds: float
    occupancy: float
    talk_utilization: float
    abandonment: float
    worst_hour_abandonment: float
    calls_per_agent_hour: float
    connects_per_agent_hour: float
    wall_seconds: float
    # Worst 24 h and 30 d windows, history included (= shift-to-date without history).
    worst_day_abandonment: float = 0.0
    worst_month_abandonment: float = 0.0
    # Blended inbound (all 0 without an inbound section). Waits are from
    # entering the queue to an agent; percentiles over answered callers.
    inbound_offered: int = 0
    inbound_answered: int = 0
    inbound_abandoned: int = 0
    inbound_waiting_at_end: int = 0
    inbound_overflowed: int = 0
    inbound_wait_mean: float = 0.0
    inbound_wait_p50: float = 0.0
    inbound_wait_p90: float = 0.0
    inbound_wait_max: float = 0.0
    inbound_abandonment: float = 0.0
    inbound_service_level: float = 0.0

    @property
    def sim_seconds_per_wall_second(self) -> float:
        return self.shift_seconds / self.wall_seconds if self.wall_seconds > 0 else float("inf")

    def as_dict(self) -> dict[str, float]:
        d = asdict(self)
        d["sim_seconds_per_wall_second"] = self.sim_seconds_per_wall_second
        return d


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by the nearest-rank method; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def worst_window_ratio(
    answers: list[float],
    abandons: list[float],
    end: float,
    window: float = ROLLING_HOUR,
    first: float | None = None,
) -> float:
    """Worst abandoned/answered over windows (t - window, t], t = first, first + 60 s, ..., end.

    `first` defaults to the window's length (every window inside the shift; a
    shift shorter than the window is judged as one window); with the previous
    days' history, windows from t = 60 s on reach back into it. Windows
    without answers count as 0.
    """
    stops = []
    t = min(window, end) if first is None else first
    while t <= end + 1e-9:
        stops.append(t)
        t += ROLLING_STEP
    worst = 0.0
    for t in stops:
        lo = t - window
        n = bisect_right(answers, t) - bisect_right(answers, lo)
        if n:
            a = bisect_right(abandons, t) - bisect_right(abandons, lo)
            worst = max(worst, a / n)
    return worst


class _Sim:
    def __init__(self, scenario: Scenario, policy: Policy, seed: int) -> None:
        self.sc = scenario
        self.policy = policy
        self.rng = Random(seed)
        self.seed = seed
        self.end = scenario.shift_seconds
        self.events: list[tuple[float, int, int, int]] = []
        self.seq = 0
        n = scenario.agents
        self.state = [READY] * n
        self.views = [AgentView(READY, 0.0)] * n
        # Each agent's next scheduled break the policy may see (`PauseRule.scheduled`).
        self.break_at: list[float | None] = [None] * n
        self.ready: set[int] = set(range(n))
        self.pause_pending = [False] * n
        # Ready agents whose pause waits for the calls ringing when it was asked: agent -> asked at.
        self.pausing: dict[int, float] = {}
        self.state_since = [0.0] * n
        self.ringing: dict[int, RingingCall] = {}
        self.waiting: deque[int] = deque()
        self.waiting_set: set[int] = set()
        self.answer_time: dict[int, float] = {}
        self.next_call = 0
        # The same sample logs a live dial loop can feed.
        self.ring_log = RingLog()
        self.talk_log = DurationLog()
        self.wrap_log = DurationLog()
        self.outcome_of: dict[int, str] = {}
        self.answers: list[float] = []
        self.abandons: list[float] = []
        if scenario.history is not None:
            # Earlier shifts' calls, at negative times: the windows start where yesterday ended.
            self.answers, self.abandons = scenario.history.events(n, scenario.shift_seconds)
        self.counts = {
            "placed": 0,
            "human": 0,
            "machine": 0,
            "busy": 0,
            "failed": 0,
            "no_answer": 0,
            "connected": 0,
            "abandoned": 0,
        }
        self.time_in = {TALKING: 0.0, WRAP_UP: 0.0, PAUSED: 0.0}
        self.stats_at = -1.0
        self.pause_rule_of: dict[int, PauseRule] = {}
        self.samples: tuple[
            tuple[DurationSample, ...], tuple[DurationSample, ...], tuple[RingSample, ...]
        ] = ((), (), ())
        # Blended inbound: a FIFO queue of caller ids; callers who hung up or
        # were answered leave `queued` and are skipped when they reach the head.
        self.inbound: Inbound | None = scenario.inbound
        self.inbound_rng = Random(f"inbound:{seed}")
        self.inbound_queue: deque[int] = deque()
        self.queued: set[int] = set()
        self.caller_arrived: dict[int, float] = {}
        self.caller_talk: dict[int, tuple[float, float]] = {}  # talk, wrap-up
        self.next_caller = 0
        self.inbound_wrap: dict[int, float] = {}  # agent -> wrap-up after its inbound talk
        self.inbound_waits: list[float] = []
        self.inbound_counts = {"offered": 0, "answered": 0, "abandoned": 0, "overflowed": 0}
        skill = scenario.inbound.skill_agents if scenario.inbound else n
        self.in_skill = [agent < skill for agent in range(n)]

    # -- event queue -----------------------------------------------------------
    def push(self, t: float, kind: int, ident: int) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, kind, self.seq, ident))

    # -- agents ----------------------------------------------------------------
    def set_state(self, agent: int, state: str, now: float) -> None:
        old = self.state[agent]
        if old in self.time_in:
            self.time_in[old] += now - self.state_since[agent]
        if old == READY:
            self.ready.discard(agent)
        self.state[agent] = state
        self.state_since[agent] = now
        self.views[agent] = self.view(agent, self.shown(agent, state), now)
        if state == READY:
            self.ready.add(agent)
        else:
            self.pausing.pop(agent, None)

    def view(self, agent: int, state: str, since: float) -> AgentView:
        due = self.break_at[agent]
        if due is None:
            return AgentView(state, since)
        return AgentView(state, since, due, self.pause_rule_of[agent].for_seconds)

    def plan_break(self, agent: int, due: float) -> None:
        """The agent's next break comes due at `due`; the policy sees it if it is scheduled."""
        self.push(due, _PAUSE_DUE, agent)
        if self.pause_rule_of[agent].scheduled:
            self.break_at[agent] = due
            self.views[agent] = self.view(
                agent, self.views[agent].state, self.views[agent].state_since
            )

    def shown(self, agent: int, state: str) -> str:
        """The state the policy sees: paused for an agent whose break came due in a call
        (live: a pause asked in a call is kept for after it, `pause_after`, and the dial
        loop shows that agent paused; dialer/loop/pacing_view.py)."""
        if self.pause_pending[agent] and state not in (READY, PAUSED):
            return PAUSED
        return state

    def agent_free(self, agent: int, now: float) -> None:
        if self.pause_pending[agent]:
            self.pause_pending[agent] = False
            self.start_pause(agent, now)
            return
        self.set_state(agent, READY, now)
        if self.inbound_queue and self.take_queued_caller(agent, now):
            return
        while self.waiting:
            call = self.waiting.popleft()
            if call in self.waiting_set:
                self.waiting_set.discard(call)
                self.connect(call, agent, now)
                return

    def ask_pause(self, agent: int, now: float) -> None:
        """A ready agent's pause: at once if nothing rings, else once the ringing calls end."""
        if not self.ringing:
            self.start_pause(agent, now)
            return
        self.pausing[agent] = now
        self.views[agent] = self.view(
            agent, PAUSED, now
        )  # the policy places nothing on their account

    def settle_pausing(self, now: float) -> None:
        """Start the pauses whose calls (those ringing when they were asked) have all ended."""
        if not self.pausing:
            return
        # Calls are numbered in placing order and `ringing` keeps insertion order: the first is the oldest.
        oldest = next(iter(self.ringing.values())).dialed_at if self.ringing else math.inf
        for agent, asked in list(self.pausing.items()):
            if oldest > asked:
                del self.pausing[agent]
                self.start_pause(agent, now)

    def pick_ready(self) -> int:
        """A ready agent for an answered person: one not pausing if any (the live answer path's order)."""
        if not self.pausing:
            return self.ready.pop()
        for agent in self.ready:
            if agent not in self.pausing:
                self.ready.discard(agent)
                return agent
        # Only pausing agents are ready. The live floor gives the call to the one who
        # asked last; which of them takes it changes no count, so any one does here.
        agent = self.ready.pop()
        del self.pausing[agent]
        self.pause_pending[agent] = True  # the pause they asked starts after this call's wrap-up
        return agent

    def start_pause(self, agent: int, now: float) -> None:
        rule = self.pause_rule_of[agent]
        self.set_state(agent, PAUSED, now)
        self.push(now + rule.for_seconds, _PAUSE_END, agent)

    def connect(self, call: int, agent: int, now: float) -> None:
        self.counts["connected"] += 1
        self.set_state(agent, TALKING, now)
        talk = self.sc.phase_at(now).talk.sample(self.rng)
        self.talk_log.start(agent, now)
        self.push(now + talk, _TALK_END, agent)

    # -- inbound ---------------------------------------------------------------
    def schedule_next_arrival(self, after: float) -> None:
        """Next Poisson arrival: exponential gaps at the current phase's rate, redrawn at a change."""
        inbound = self.inbound
        assert inbound is not None
        t = after
        while t < self.end:
            rate, change = inbound.rate_at(t), inbound.next_change_after(t)
            if rate > 0:
                arrival = t + self.inbound_rng.expovariate(rate)
                if arrival < change:
                    self.push(arrival, _INBOUND_ARRIVAL, 0)
                    return
            t = change

    def inbound_arrival(self, now: float) -> None:
        inbound = self.inbound
        assert inbound is not None
        self.schedule_next_arrival(now)
        caller = self.next_caller
        self.next_caller += 1
        self.inbound_counts["offered"] += 1
        # Drawn at arrival in arrival order, so every policy meets the same callers.
        rng = self.inbound_rng
        self.caller_talk[caller] = (inbound.talk.sample(rng), self.sc.wrap.sample(rng))
        patience = inbound.patience.sample(rng)
        self.caller_arrived[caller] = now
        agent = self.longest_idle(skill_only=inbound.overflow_after_seconds > 0)
        if agent is not None:
            self.connect_caller(caller, agent, now)
            return
        self.inbound_queue.append(caller)
        self.queued.add(caller)
        self.push(now + patience, _INBOUND_GIVE_UP, caller)
        if not all(self.in_skill):
            self.push(now + inbound.overflow_after_seconds, _INBOUND_OVERFLOW, caller)

    def longest_idle(self, *, skill_only: bool) -> int | None:
        best: int | None = None
        for agent in self.ready:
            if skill_only and not self.in_skill[agent] or agent in self.pausing:
                continue
            if best is None or self.state_since[agent] < self.state_since[best]:
                best = agent
        return best

    def queue_head(self) -> int | None:
        queue = self.inbound_queue
        while queue and queue[0] not in self.queued:
            queue.popleft()
        return queue[0] if queue else None

    def may_take(self, agent: int, caller: int, now: float) -> bool:
        """Skill agents take any queued caller; others only one waiting past the overflow limit."""
        if self.in_skill[agent]:
            return True
        assert self.inbound is not None
        return now - self.caller_arrived[caller] >= self.inbound.overflow_after_seconds

    def take_queued_caller(self, agent: int, now: float) -> bool:
        """A ready agent takes the oldest queued caller it may take; False if none."""
        caller = self.queue_head()
        if caller is None or not self.may_take(agent, caller, now):
            return False
        self.connect_caller(caller, agent, now)
        return True

    def overflow(self, caller: int, now: float) -> None:
        if caller not in self.queued or caller != self.queue_head():
            return  # answered, gone, or behind an older caller who goes first
        agent = self.longest_idle(skill_only=False)
        if agent is not None:
            self.inbound_counts["overflowed"] += 1
            self.connect_caller(caller, agent, now)

    def give_up(self, caller: int, now: float) -> None:
        if caller in self.queued:
            self.queued.discard(caller)
            self.inbound_counts["abandoned"] += 1
            del self.caller_talk[caller], self.caller_arrived[caller]

    def connect_caller(self, caller: int, agent: int, now: float) -> None:
        self.queued.discard(caller)
        self.inbound_counts["answered"] += 1
        self.inbound_waits.append(now - self.caller_arrived.pop(caller))
        talk, wrap = self.caller_talk.pop(caller)
        self.set_state(agent, TALKING, now)
        self.inbound_wrap[agent] = wrap
        self.talk_log.start(agent, now)
        self.push(now + talk, _TALK_END, agent)

    # -- calls -----------------------------------------------------------------
    def place(self, now: float) -> None:
        sc, rng = self.sc, self.rng
        call = self.next_call
        self.next_call += 1
        self.counts["placed"] += 1
        phase = sc.phase_at(now)
        u = rng.random()
        if u < phase.p_human:
            outcome, at = "human", phase.answer.sample(rng)
        elif u < phase.p_human + phase.p_machine:
            outcome, at = "machine", phase.answer.sample(rng)
            if at < sc.ring_timeout_seconds:
                at += sc.machine_detect.sample(rng)
        elif u < phase.p_human + phase.p_machine + phase.p_busy:
            outcome, at = "busy", sc.busy_seconds.sample(rng)
        elif u < phase.p_human + phase.p_machine + phase.p_busy + phase.p_failed:
            outcome, at = "failed", sc.failed_seconds.sample(rng)
        else:
            outcome, at = "no_answer", sc.ring_timeout_seconds
        if at >= sc.ring_timeout_seconds and outcome in ("human", "machine", "busy"):
            outcome, at = "no_answer", sc.ring_timeout_seconds
        self.ringing[call] = RingingCall(now)
        self.ring_log.dialed(call, now)
        self.outcome_of[call] = outcome
        self.push(now + at, _RING_END, call)

    def ring_end(self, call: int, now: float) -> None:
        del self.ringing[call]
        outcome = self.outcome_of.pop(call)
        self.ring_log.ended(call, now, outcome)
        if outcome == "human":
            self.counts["human"] += 1
            self.answers.append(now)
            if self.ready:
                self.connect(call, self.pick_ready(), now)
            else:
                self.waiting.append(call)
                self.waiting_set.add(call)
                self.answer_time[call] = now
                self.push(now + self.sc.connect_grace_seconds, _GRACE_END, call)
        else:
            self.counts[outcome] += 1
        self.settle_pausing(now)

    def grace_end(self, call: int, now: float) -> None:
        answered = self.answer_time.pop(call)
        if call in self.waiting_set:
            self.waiting_set.discard(call)
            self.counts["abandoned"] += 1
            self.abandons.append(answered)

    # -- snapshot ----------------------------------------------------------------
    def refresh_samples(self, now: float) -> None:
        self.samples = (
            self.talk_log.samples(now),
            self.wrap_log.samples(now),
            self.ring_log.samples(now),
        )
        self.stats_at = now

    def abandon_windows(self, now: float) -> tuple[AbandonWindow, ...]:
        out = []
        answers, abandons = self.answers, self.abandons
        n_ab = len(abandons)
        grace = self.sc.connect_grace_seconds
        for w in ABANDON_WINDOWS:
            lo = now - w
            # Answers still inside the grace period are not yet known outcomes.
            known = bisect_right(answers, now - grace)
            ans = known - bisect_left(answers, lo)
            ab = n_ab - bisect_left(abandons, lo)
            out.append(AbandonWindow(w, max(0, ans), ab))
        return tuple(out)

    def snapshot(self, now: float) -> Snapshot:
        if now - self.stats_at >= STATS_REFRESH_SECONDS:
            self.refresh_samples(now)
        talk, wrap, ring = self.samples
        return Snapshot(
            now=now,
            agents=tuple(self.views),
            ringing=tuple(self.ringing.values()),
            waiting=len(self.waiting_set),
            talk_samples=talk,
            wrap_samples=wrap,
            ring_samples=ring,
            stats_at=self.stats_at,
            abandonment=self.abandon_windows(now),
            abandon_target=self.sc.abandon_target,
            connect_grace_seconds=self.sc.connect_grace_seconds,
            max_ringing=self.sc.max_ringing,
            shift_ends_at=self.end,
            **self.inbound_view(now),
        )

    def inbound_view(self, now: float) -> dict[str, Any]:
        if self.inbound is None:
            return {}
        arrived = self.caller_arrived
        return {
            "inbound_waiting": tuple(
                now - arrived[c] for c in self.inbound_queue if c in self.queued
            ),
            "inbound_rate_per_s": self.inbound.rate_at(now),
            "inbound_wait_target_s": self.inbound.wait_target_seconds,
        }

    # -- main loop ---------------------------------------------------------------
    def schedule_pauses(self) -> None:
        order = list(range(self.sc.agents))
        self.rng.shuffle(order)
        start = 0
        for rule in self.sc.pauses:
            k = round(rule.agent_fraction * self.sc.agents)
            for agent in order[start : start + k]:
                self.pause_rule_of[agent] = rule
                if rule.at_seconds is not None:
                    self.plan_break(agent, rule.at_seconds)
                else:
                    self.plan_break(agent, self.rng.uniform(0, rule.every_seconds))
            start += k

    def run(self) -> RunResult:
        started = time.perf_counter()
        self.schedule_pauses()
        self.push(0.0, _TICK, 0)
        if self.inbound is not None:
            self.schedule_next_arrival(0.0)
        events, end, tick = self.events, self.end, self.sc.tick_seconds
        policy = self.policy
        while events:
            now, kind, _, ident = heapq.heappop(events)
            if now > end:
                break
            if kind == _TICK:
                n = policy.calls_to_place(self.snapshot(now))
                if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                    raise PolicyError(f"{policy.name} returned {n!r}; expected an int >= 0")
                for _ in range(n):
                    self.place(now)
                self.push(now + tick, _TICK, 0)
            elif kind == _RING_END:
                self.ring_end(ident, now)
            elif kind == _TALK_END:
                self.talk_log.end(ident, now)
                self.set_state(ident, WRAP_UP, now)
                self.wrap_log.start(ident, now)
                wrap = self.inbound_wrap.pop(ident, None)
                if wrap is None:
                    wrap = self.sc.wrap.sample(self.rng)
                self.push(now + wrap, _WRAP_END, ident)
            elif kind == _WRAP_END:
                self.wrap_log.end(ident, now)
                self.agent_free(ident, now)
            elif kind == _GRACE_END:
                self.grace_end(ident, now)
            elif kind == _PAUSE_DUE:
                rule = self.pause_rule_of[ident]
                self.break_at[ident] = None
                if rule.at_seconds is None:
                    self.plan_break(ident, now + rule.every_seconds)
                if self.state[ident] == READY:
                    if ident not in self.pausing:
                        self.ask_pause(ident, now)
                elif self.state[ident] != PAUSED:
                    # In a call or its wrap-up: the agent asks for the pause now, kept for after it.
                    self.pause_pending[ident] = True
                    self.views[ident] = self.view(ident, PAUSED, self.state_since[ident])
            elif kind == _PAUSE_END:
                self.agent_free(ident, now)
            elif kind == _INBOUND_ARRIVAL:
                self.inbound_arrival(now)
            elif kind == _INBOUND_OVERFLOW:
                self.overflow(ident, now)
            elif kind == _INBOUND_GIVE_UP:
                self.give_up(ident, now)
        for agent in range(self.sc.agents):
            self.set_state(agent, self.state[agent], end)  # close the time accounting
        wall = time.perf_counter() - started
        return self.result(wall)

    def result(self, wall: float) -> RunResult:
        c = self.counts
        agents, shift = self.sc.agents, self.end
        talk, wrap, paused = self.time_in[TALKING], self.time_in[WRAP_UP], self.time_in[PAUSED]
        available = agents * shift - paused
        agent_hours = agents * shift / 3600.0
        # Answers still inside the grace period at the end are not judged.
        judged = c["human"] - len(self.waiting_set)
        # With history, hours straddling yesterday's end are judged too.
        first = ROLLING_STEP if self.sc.history is not None else None
        ic, waits = self.inbound_counts, self.inbound_waits
        in_queue = len(self.queued)
        target = self.inbound.wait_target_seconds if self.inbound else 0.0
        # Callers still in queue at the end are not judged: they may yet be answered.
        inbound_judged = ic["offered"] - in_queue
        return RunResult(
            seed=self.seed,
            agents=agents,
            shift_seconds=shift,
            placed=c["placed"],
            human_answered=c["human"],
            machine=c["machine"],
            busy=c["busy"],
            failed=c["failed"],
            no_answer=c["no_answer"],
            connected=c["connected"],
            abandoned=c["abandoned"],
            ringing_at_end=len(self.ringing),
            waiting_at_end=len(self.waiting_set),
            talk_seconds=talk,
            wrap_seconds=wrap,
            paused_seconds=paused,
            occupancy=(talk + wrap) / available if available > 0 else 0.0,
            talk_utilization=talk / available if available > 0 else 0.0,
            abandonment=c["abandoned"] / judged if judged > 0 else 0.0,
            worst_hour_abandonment=worst_window_ratio(
                self.answers, self.abandons, shift, first=first
            ),
            worst_day_abandonment=worst_window_ratio(
                self.answers, self.abandons, shift, DAY, first=ROLLING_STEP
            ),
            worst_month_abandonment=worst_window_ratio(
                self.answers, self.abandons, shift, MONTH, first=ROLLING_STEP
            ),
            calls_per_agent_hour=c["placed"] / agent_hours,
            connects_per_agent_hour=c["connected"] / agent_hours,
            wall_seconds=wall,
            inbound_offered=ic["offered"],
            inbound_answered=ic["answered"],
            inbound_abandoned=ic["abandoned"],
            inbound_waiting_at_end=in_queue,
            inbound_overflowed=ic["overflowed"],
            inbound_wait_mean=sum(waits) / len(waits) if waits else 0.0,
            inbound_wait_p50=percentile(waits, 0.5),
            inbound_wait_p90=percentile(waits, 0.9),
            inbound_wait_max=max(waits, default=0.0),
            inbound_abandonment=ic["abandoned"] / inbound_judged if inbound_judged else 0.0,
            inbound_service_level=(
                sum(1 for w in waits if w <= target) / inbound_judged if inbound_judged else 0.0
            ),
        )


def simulate(scenario: Scenario, policy: Policy, seed: int) -> RunResult:
    """Run one shift of `scenario` with `policy` (a fresh object per run) and this seed."""
    return _Sim(scenario, policy, seed).run()
