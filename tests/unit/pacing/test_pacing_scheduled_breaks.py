"""Scheduled breaks the floor knows in advance: in the scenario, in the snapshot the
simulator builds, and in what `predictive` places (issue 27, unseen-4 of the 1207 draw)."""

from __future__ import annotations

import copy
import dataclasses

import pytest
from pacing_helpers import snapshot
from test_pacing_simulator import TINY

from dialer.pacing.policies import PredictivePolicy
from dialer.pacing.scenario import ScenarioError, parse_scenario
from dialer.pacing.simulator import simulate


def _with_breaks(s, breaks: dict[int, tuple[float, float]]):
    """The snapshot with agent i's next scheduled break at now + start for `seconds`."""
    agents = list(s.agents)
    for i, (start, seconds) in breaks.items():
        agents[i] = dataclasses.replace(agents[i], break_at=s.now + start, break_seconds=seconds)
    return dataclasses.replace(s, agents=tuple(agents))


def _pauses(*rules: dict) -> list:
    raw = copy.deepcopy(TINY)
    raw["pauses"] = list(rules)
    return parse_scenario(raw).pauses


def test_given_a_lunch_hour_when_parsed_then_it_is_scheduled_and_periodic_breaks_are_not():
    lunch, short = _pauses(
        {"agent_fraction": 0.5, "at_seconds": 300, "for_seconds": 120},
        {"agent_fraction": 0.25, "every_seconds": 400, "for_seconds": 60},
    )
    assert lunch.scheduled and not short.scheduled
    (planned,) = _pauses(
        {"agent_fraction": 0.25, "every_seconds": 400, "for_seconds": 60, "scheduled": True}
    )
    assert planned.scheduled


@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_given_a_scheduled_flag_that_is_not_a_boolean_when_parsed_then_scenario_error(bad):
    with pytest.raises(ScenarioError, match="scheduled"):
        _pauses({"agent_fraction": 0.5, "at_seconds": 300, "for_seconds": 120, "scheduled": bad})


class _Spy:
    """Places nothing; records each agent's known break at every tick."""

    name = "spy"

    def __init__(self) -> None:
        self.seen: list[tuple[float, tuple]] = []

    def calls_to_place(self, snap) -> int:
        self.seen.append((snap.now, tuple((a.break_at, a.break_seconds) for a in snap.agents)))
        return 0


@pytest.mark.parametrize("scheduled", [True, False])
def test_given_a_lunch_when_simulated_then_the_policy_sees_it_coming_only_if_scheduled(scheduled):
    raw = copy.deepcopy(TINY)
    lunch = {"agent_fraction": 0.5, "at_seconds": 300, "for_seconds": 120}
    raw["pauses"] = [{**lunch, "scheduled": scheduled}]
    spy = _Spy()
    simulate(parse_scenario(raw), spy, seed=1)
    before = [b for now, b in spy.seen if now < 300]
    after = [b for now, b in spy.seen if now >= 300]
    assert before and after
    if scheduled:
        # Two of four agents, from the first tick until it comes due.
        assert all(sorted(b, key=str) == [(300, 120)] * 2 + [(None, 0.0)] * 2 for b in before)
    else:
        assert all(b == ((None, 0.0),) * 4 for b in before)
    assert all(b == ((None, 0.0),) * 4 for b in after)


def test_given_scheduled_periodic_breaks_when_simulated_then_each_next_one_is_seen():
    raw = copy.deepcopy(TINY)
    raw["pauses"] = [
        {"agent_fraction": 0.25, "every_seconds": 400, "for_seconds": 60, "scheduled": True}
    ]
    spy = _Spy()
    simulate(parse_scenario(raw), spy, seed=4)
    dues = {b[0] for _, breaks in spy.seen for b in breaks if b[0] is not None}
    # One agent, due at a random phase and every 400 s after: at least two dues in 900 s.
    assert len(dues) >= 2
    first, second = sorted(dues)[:2]
    assert second - first == pytest.approx(400)
    for now, breaks in spy.seen:
        assert all(b[0] is None or b[0] >= now for b in breaks)


def test_given_most_of_a_small_team_lunches_within_the_hour_when_deciding_then_no_dialing_ahead():
    # 3 agents, about 40 answers an hour: one abandon fits and the model may dial
    # ahead (test_pacing_budget). Two of them lunch from 10 min on for an hour: the
    # hour to come holds under 20 answers, where no abandon is allowed.
    fresh = snapshot(talking=[60.0] * 3, answered=20, abandoned=0)
    knowing = PredictivePolicy(one_abandon_room=True)
    knowing.calls_to_place(_with_breaks(fresh, {0: (600.0, 3600.0), 1: (600.0, 3600.0)}))
    assert knowing.last_reason == "budget"
    blind = PredictivePolicy(one_abandon_room=True)
    blind.calls_to_place(fresh)
    assert blind.last_reason == "model"


def test_given_a_break_after_the_hour_when_deciding_then_the_hour_is_unchanged():
    fresh = snapshot(talking=[60.0] * 3, answered=20, abandoned=0)
    later = PredictivePolicy(one_abandon_room=True)
    later.calls_to_place(_with_breaks(fresh, {0: (3700.0, 3600.0), 1: (3700.0, 3600.0)}))
    assert later.last_reason == "model"


def test_given_agents_ending_calls_whose_break_is_due_when_deciding_then_fewer_calls_are_placed():
    # Twenty agents near the end of their talks: the model dials for those about to
    # free up. Ten of them go on a scheduled break in 1 s: ending their call after
    # that, they go on break, not to the floor, so fewer calls are placed for them.
    s = snapshot(talking=[235.0] * 20, ready=1)
    blind = PredictivePolicy(budget_guard=False).calls_to_place(s)
    due = _with_breaks(s, {i: (1.0, 900.0) for i in range(10)})
    knowing = PredictivePolicy(budget_guard=False).calls_to_place(due)
    assert knowing < blind
    far = _with_breaks(s, {i: (3000.0, 900.0) for i in range(10)})
    assert PredictivePolicy(budget_guard=False).calls_to_place(far) == blind
