"""The shift simulator: accounting invariants on a tiny scenario, determinism, rolling windows."""

from __future__ import annotations

import copy

import pytest

from dialer.pacing.policies import POLICY_NAMES, make_policy
from dialer.pacing.scenario import parse_scenario
from dialer.pacing.simulator import PolicyError, simulate, worst_window_ratio

TINY = {
    "name": "tiny",
    "agents": 4,
    "shift_seconds": 900,
    "seeds": 2,
    "ring_timeout_seconds": 20,
    "connect_grace_seconds": 2,
    "abandon_target": 0.03,
    "phases": [
        {
            "from_seconds": 0,
            "p_human": 0.4,
            "p_machine": 0.1,
            "p_busy": 0.1,
            "p_failed": 0.1,
            "answer_seconds": {"dist": "lognormal", "mean": 6, "sd": 3},
            "talk_seconds": {"dist": "lognormal", "mean": 60, "sd": 30},
        },
        {
            "from_seconds": 400,
            "p_human": 0.2,
            "p_machine": 0.2,
            "p_busy": 0.1,
            "p_failed": 0.1,
            "answer_seconds": {"dist": "uniform", "min": 2, "max": 12},
            "talk_seconds": {"dist": "exponential", "mean": 50},
        },
    ],
    "wrap_seconds": {"dist": "constant", "value": 10},
    "machine_detect_seconds": {"dist": "uniform", "min": 2, "max": 4},
    "pauses": [{"agent_fraction": 0.5, "every_seconds": 300, "for_seconds": 60}],
}


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_given_tiny_shift_when_simulated_then_every_call_and_answer_is_accounted_for(name):
    r = simulate(parse_scenario(TINY), make_policy(name), seed=1)
    ended = r.human_answered + r.machine + r.busy + r.failed + r.no_answer
    assert r.placed == ended + r.ringing_at_end
    assert r.human_answered == r.connected + r.abandoned + r.waiting_at_end
    assert r.placed > 0 and r.connected > 0
    assert 0 <= r.talk_utilization <= r.occupancy <= 1
    assert 0 <= r.abandonment <= r.worst_hour_abandonment or r.abandonment == 0
    assert r.paused_seconds > 0


def test_given_no_pauses_when_progressive_then_nobody_is_abandoned():
    raw = copy.deepcopy(TINY)
    raw["pauses"] = []
    r = simulate(parse_scenario(raw), make_policy("progressive"), seed=3)
    assert r.abandoned == 0
    assert r.connected > 0


def test_given_same_seed_when_simulated_twice_then_same_shift():
    sc = parse_scenario(TINY)
    a = simulate(sc, make_policy("predictive"), seed=7).as_dict()
    b = simulate(sc, make_policy("predictive"), seed=7).as_dict()
    for key in ("wall_seconds", "sim_seconds_per_wall_second"):
        a.pop(key), b.pop(key)
    assert a == b


class _Broken:
    name = "broken"

    def calls_to_place(self, snapshot):
        return -1


def test_given_policy_returning_negative_when_simulated_then_policy_error():
    with pytest.raises(PolicyError, match="broken"):
        simulate(parse_scenario(TINY), _Broken(), seed=0)


def test_given_abandons_in_one_hour_when_worst_window_then_that_hour_counts():
    answers = [float(t) for t in range(0, 7200, 36)]  # 100 per hour
    abandons = [float(t) for t in range(3600, 3700, 36)][:3]
    worst = worst_window_ratio(answers, abandons, end=7200.0)
    assert worst == pytest.approx(0.03)


def test_given_shift_shorter_than_an_hour_when_worst_window_then_whole_shift_is_the_window():
    assert worst_window_ratio([10.0, 20.0], [20.0], end=900.0) == pytest.approx(0.5)


def test_given_no_answers_when_worst_window_then_zero():
    assert worst_window_ratio([], [], end=7200.0) == 0.0


class _Recorder:
    """Progressive, remembering every snapshot's abandonment windows."""

    name = "recorder"

    def __init__(self) -> None:
        self.seen: list = []
        self._inner = make_policy("progressive")

    def calls_to_place(self, snapshot):
        self.seen.append((snapshot.now, snapshot.abandonment))
        return self._inner.calls_to_place(snapshot)


def test_given_history_when_the_shift_starts_then_the_windows_are_not_empty():
    raw = copy.deepcopy(TINY)
    raw["history"] = {"days": 30, "answered_per_agent_hour": 100, "abandon_ratio": 0.02}
    recorder = _Recorder()
    simulate(parse_scenario(raw), recorder, seed=1)
    first = {w.seconds: w for w in recorder.seen[0][1]}
    per_day = 100  # 4 agents x 15-minute shifts x 100 an agent-hour
    # Gap 0: the 15-minute shifts of the last four days fill the hour.
    assert first[3600.0].human_answered == 4 * per_day
    assert first[3600.0].abandoned == 4 * 2
    assert first[2592000.0].human_answered == 30 * per_day
    assert first[2592000.0].abandoned == 30 * 2


def test_given_no_history_when_the_shift_starts_then_the_windows_are_empty():
    recorder = _Recorder()
    simulate(parse_scenario(TINY), recorder, seed=1)
    assert all(w.human_answered == 0 and w.abandoned == 0 for w in recorder.seen[0][1])


def test_given_history_when_judged_then_hours_reaching_into_yesterday_count():
    # Yesterday's last hour held 1 abandon in 20 answers; today none.
    answers = [-3000.0 + 150.0 * i for i in range(20)] + [100.0 * i for i in range(1, 72)]
    abandons = [-1500.0]
    today_only = worst_window_ratio(answers, abandons, end=7200.0)
    straddling = worst_window_ratio(answers, abandons, end=7200.0, first=60.0)
    assert today_only == 0.0
    assert straddling == pytest.approx(1 / 20)


def test_given_a_lunch_pause_when_simulated_then_half_the_team_is_paused_for_its_length():
    raw = copy.deepcopy(TINY)
    raw["pauses"] = [{"agent_fraction": 0.5, "at_seconds": 300, "for_seconds": 120}]
    r = simulate(parse_scenario(raw), make_policy("progressive"), seed=2)
    # Two agents, 120 s each; one busy at 300 s starts when its call ends (still before 900 s).
    assert r.paused_seconds + 1e-6 >= 2 * 120 - 1e-6
    assert r.paused_seconds <= 2 * 120 + 1e-6


def _one_agent(pause_at: float) -> dict:
    """One agent, every call answered by a person after 10 s, a 60 s pause due at `pause_at`."""
    raw = copy.deepcopy(TINY)
    raw.update(agents=1, shift_seconds=600)
    raw["phases"] = [
        {
            "from_seconds": 0,
            "p_human": 1.0,
            "p_machine": 0.0,
            "p_busy": 0.0,
            "p_failed": 0.0,
            "answer_seconds": {"dist": "constant", "value": 10},
            "talk_seconds": {"dist": "constant", "value": 100},
        }
    ]
    raw["pauses"] = [{"agent_fraction": 1.0, "at_seconds": pause_at, "for_seconds": 60}]
    return raw


def test_given_a_ready_agent_pausing_while_its_call_rings_when_answered_then_they_take_it():
    # As on the live floor (docs/agent-states.md): a pause asked while a call
    # rings waits for it; the person who answers goes to the pausing agent,
    # nobody else being ready, and the pause starts after that call's wrap-up.
    r = simulate(parse_scenario(_one_agent(pause_at=5.0)), make_policy("progressive"), seed=3)
    assert r.placed >= 1
    assert r.abandoned == 0
    assert r.connected >= 1
    assert r.paused_seconds == pytest.approx(60.0)


def test_given_a_pausing_agent_when_the_policy_looks_then_it_sees_them_paused():
    seen: list[tuple[float, int]] = []

    class Spy:
        name = "spy"

        def calls_to_place(self, snap):
            ready = snap.count("ready")
            seen.append((snap.now, ready))
            return 1 if ready and not snap.ringing else 0

    raw = _one_agent(pause_at=5.0)
    raw["phases"][0].update(p_human=0.0, p_failed=1.0)
    raw["failed_seconds"] = {"dist": "constant", "value": 20}
    simulate(parse_scenario(raw), Spy(), seed=3)
    # Asked at 5 s with a call ringing: from then until the pause ends (80 s) no tick sees them ready.
    # The call placed at 0 s fails at 20 s, so the 60 s pause runs 20-80 s (not 5-65 s):
    # from the asking until it ends no tick sees the agent ready, and then they are back.
    assert any(ready for t, ready in seen if t < 5)
    assert [t for t, ready in seen if 5 < t < 80 and ready] == []
    back = min(t for t, ready in seen if t > 5 and ready)
    assert 80 <= back <= 82


def test_given_an_agent_talking_when_the_pause_comes_due_then_it_starts_after_wrap_up():
    # The console keeps a pause asked in a call for after it (pause_after).
    r = simulate(parse_scenario(_one_agent(pause_at=15.0)), make_policy("progressive"), seed=3)
    assert r.abandoned == 0
    assert r.paused_seconds == pytest.approx(60.0)
    # Talk 10-110 s and wrap-up 110-120 s come before the pause (120-180 s).
    assert r.connected >= 2


def test_given_an_agent_talking_when_the_pause_comes_due_then_the_policy_sees_them_paused_from_then():
    # Live, a pause asked in a call is kept for after it and the dial loop shows the
    # agent paused (dialer/loop/pacing_view.py): the policy must not count on them.
    seen: list[tuple[float, str]] = []

    class Spy:
        name = "spy"

        def calls_to_place(self, snap):
            seen.append((snap.now, snap.agents[0].state))
            return 1 if snap.count("ready") and not snap.ringing else 0

    simulate(parse_scenario(_one_agent(pause_at=15.0)), Spy(), seed=3)
    # Talking from 10 s; the pause comes due at 15 s; wrap-up ends at 120 s, the pause at 180 s.
    assert {state for t, state in seen if 10 < t < 15} == {"talking"}
    assert {state for t, state in seen if 15 < t < 180} == {"paused"}
    assert any(state == "ready" for t, state in seen if t > 180)
