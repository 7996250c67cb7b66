"""What a pacing policy sees each tick: a frozen snapshot of agents, ringing calls and stats.

The live dial loop builds one `Snapshot` per tick from Redis; the simulator builds
the same objects from its virtual world. A policy answers
`policy.calls_to_place(snapshot) -> int` and takes the clock only from
`snapshot.now` (never `time.time()`), so the same object runs live and simulated.

Fields (all times in seconds on ONE clock, e.g. epoch seconds live, virtual
seconds in the simulator):

- `now`: the current time.
- `agents`: one `AgentView(state, state_since)` per logged-in agent of the
  campaign. `state` is one of `AGENT_STATES` (the Redis agent hash's `state`),
  `state_since` is the hash's `since`; seconds in state = `now - state_since`.
  `talking` = bridged with a debtor; `wrap_up` = after-call work; `reserved` =
  picked for an answered call that is being bridged (counts as busy).
- `ringing`: one `RingingCall(dialed_at)` per call placed and not yet answered
  or ended (neither human, machine nor failure known yet).
- `waiting`: answered-by-a-person calls with no agent yet (inside the connect
  grace); each becomes abandoned if no agent frees up in time.
- `talk_samples`, `wrap_samples`: `DurationSample(seconds, finished)` for the
  talks (wrap-ups) that STARTED within the last `HANDLE_SAMPLE_WINDOW_SECONDS`;
  a still-ongoing one has `finished=False` and `seconds` = elapsed so far
  (a censored observation, "at least this long"). Leaving ongoing ones out
  biases the estimate short early in a shift.
- `ring_samples`: `RingSample(seconds, outcome)` for the calls DIALED within the
  last `RING_SAMPLE_WINDOW_SECONDS`: seconds from dial to the outcome
  (`human`, `machine`, `busy`, `failed`, `no_answer`), or to now with outcome
  `ringing` while still ringing (censored). A short window lets the policy
  follow answer rates that change during the shift. Oldest first (by dial
  or end time): `predictive` looks for the latest change of the answer rate
  among the settled calls (those before the first still ringing) and takes
  the level from the calls since it (`estimators.answer_change_point`).
- `stats_at`: when the sample tuples were collected. Policies re-estimate
  only when it (or the sample tuple itself) changes, and at most about once
  a minute, so the builder may refresh the samples every
  `STATS_REFRESH_SECONDS` instead of every tick and pass the same tuples in
  between (estimation is the costly part).
- `abandonment`: one `AbandonWindow(seconds, human_answered, abandoned)` per
  rolling window; live builders give at least 1800 s, 3600 s, 86400 s and
  2592000 s (30 min steering window; 1 h, 24 h, 30 d legal windows). An
  abandoned call counts in the window of its answer time. The legal figure:
  a person not connected within the grace of their greeting's end; a debtor
  who hung up before that is in neither count; an AMD machine drop counts as
  a person abandoned (times the campaign's false-positive estimate, 1 by
  default); see `dialer.call_state.abandonment_role`.
- `abandon_target`: the abandonment ratio that must hold in every window (0.03).
- `connect_grace_seconds`: how long an answered debtor may wait for an agent
  before the call is abandoned (2 s).
- `max_ringing`: the most calls that may ring at once (trunk/line limit); a
  policy never returns more than `max_ringing - len(ringing)`.
- `shift_ends_at`: when the shift ends, if known (lets baselines taper).

Blended inbound (debtors calling back; all three default to "no inbound", so a
builder that knows nothing of inbound keeps working unchanged):

- `inbound_waiting`: for each inbound caller queued for an agent of this
  campaign right now, the seconds waited so far (`now - entered_queue`), any
  order. Live: the campaign's own callers, plus other campaigns' callers one
  of its agents may take (their skill group, or past their overflow limit;
  dialer/inbound/routing.py `callers_for`). Counted from when the caller entered the queue (after the greeting),
  not from the dial-in. Callers already bridged to an agent are not in it:
  their agents are `talking` like any other.
- `inbound_rate_per_s`: inbound calls expected per second at this time of day
  (the campaign's profile for this hour, or a recent measured rate); 0.0 when
  the campaign takes no inbound.
- `inbound_wait_target_s`: the campaign's target for an inbound caller's wait
  (seconds). Inbound has priority over outbound for the next free agent; the
  predictive policy keeps enough agents free that a caller's wait stays under
  this target (see `dialer.pacing.inbound`).
"""

from __future__ import annotations

from dataclasses import dataclass

READY = "ready"
RESERVED = "reserved"
TALKING = "talking"
WRAP_UP = "wrap_up"
PAUSED = "paused"
NO_AUDIO = "no_audio"
LOGGED_OUT = "logged_out"
AGENT_STATES = frozenset({READY, RESERVED, TALKING, WRAP_UP, PAUSED, NO_AUDIO, LOGGED_OUT})
# States in which an agent works the campaign (counts for team size and occupancy).
ACTIVE_STATES = frozenset({READY, RESERVED, TALKING, WRAP_UP})

RING_OUTCOMES = frozenset({"human", "machine", "busy", "failed", "no_answer", "ringing"})

HANDLE_SAMPLE_WINDOW_SECONDS = 3600.0
RING_SAMPLE_WINDOW_SECONDS = 900.0
STATS_REFRESH_SECONDS = 30.0
DEFAULT_INBOUND_WAIT_TARGET_SECONDS = 20.0


@dataclass(frozen=True, slots=True)
class AgentView:
    state: str
    state_since: float
    # The agent's next scheduled break, when the floor knows it (the supervisor's break
    # plan): its start on the snapshot's clock and its length. None: none known.
    break_at: float | None = None
    break_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class RingingCall:
    dialed_at: float


@dataclass(frozen=True, slots=True)
class DurationSample:
    seconds: float
    finished: bool


@dataclass(frozen=True, slots=True)
class RingSample:
    seconds: float
    outcome: str


@dataclass(frozen=True, slots=True)
class AbandonWindow:
    seconds: float
    # As the law counts them: persons answered, and those not connected within the
    # grace (live: AMD machine drops weighted by the campaign's false-positive estimate).
    human_answered: float
    abandoned: float


@dataclass(frozen=True, slots=True)
class Snapshot:
    now: float
    agents: tuple[AgentView, ...]
    ringing: tuple[RingingCall, ...] = ()
    waiting: int = 0
    talk_samples: tuple[DurationSample, ...] = ()
    wrap_samples: tuple[DurationSample, ...] = ()
    ring_samples: tuple[RingSample, ...] = ()
    stats_at: float = 0.0
    abandonment: tuple[AbandonWindow, ...] = ()
    abandon_target: float = 0.03
    connect_grace_seconds: float = 2.0
    max_ringing: int = 1000
    shift_ends_at: float | None = None
    inbound_waiting: tuple[float, ...] = ()
    inbound_rate_per_s: float = 0.0
    inbound_wait_target_s: float = DEFAULT_INBOUND_WAIT_TARGET_SECONDS

    def window(self, seconds: float) -> AbandonWindow | None:
        """The abandonment window of exactly this length, if the builder gave one."""
        for w in self.abandonment:
            if w.seconds == seconds:
                return w
        return None

    def count(self, state: str) -> int:
        return sum(1 for a in self.agents if a.state == state)

    @property
    def has_inbound(self) -> bool:
        """True when inbound callers are waiting or expected: the policy must make room for them."""
        return self.inbound_rate_per_s > 0 or bool(self.inbound_waiting)

    @property
    def room(self) -> int:
        """How many more calls the line limit allows now."""
        return max(0, self.max_ringing - len(self.ringing))
