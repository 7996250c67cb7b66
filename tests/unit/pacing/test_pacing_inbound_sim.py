"""Blended inbound in the shift simulator: priority, patience, overflow, phases, determinism."""

from __future__ import annotations

import copy

import pytest
from test_pacing_simulator import TINY

from dialer.pacing.policies import make_policy
from dialer.pacing.scenario import ScenarioError, parse_scenario
from dialer.pacing.simulator import _Sim, percentile, simulate
from dialer.pacing.snapshot import READY, TALKING

LONG = {"dist": "constant", "value": 100_000}


def with_inbound(**inbound):
    raw = copy.deepcopy(TINY)
    raw["pauses"] = []
    raw["inbound"] = {
        "phases": [{"from_seconds": 0, "per_hour": 120}],
        "talk_seconds": {"dist": "lognormal", "mean": 60, "sd": 30},
        "patience_seconds": {"dist": "lognormal", "mean": 90, "sd": 40},
        "wait_target_seconds": 20,
        **inbound,
    }
    return raw


class _NeverDials:
    name = "never"

    def __init__(self):
        self.seen = []

    def calls_to_place(self, snapshot):
        self.seen.append(snapshot)
        return 0


def test_given_an_answered_outbound_call_and_an_inbound_caller_waiting_when_an_agent_frees_then_inbound_gets_it():
    sim = _Sim(parse_scenario(with_inbound()), _NeverDials(), seed=0)
    for agent in range(sim.sc.agents):
        sim.set_state(agent, TALKING, 0.0)
    sim.waiting.append(99)
    sim.waiting_set.add(99)
    sim.caller_arrived[7] = 1.0
    sim.caller_talk[7] = (60.0, 10.0)
    sim.inbound_queue.append(7)
    sim.queued.add(7)

    sim.agent_free(0, now=5.0)

    assert sim.state[0] == TALKING
    assert 7 not in sim.queued and sim.inbound_waits == [4.0]
    assert 99 in sim.waiting_set  # the outbound call still waits for the next agent


def test_given_no_inbound_caller_waiting_when_an_agent_frees_then_the_outbound_call_gets_it():
    sim = _Sim(parse_scenario(with_inbound()), _NeverDials(), seed=0)
    for agent in range(sim.sc.agents):
        sim.set_state(agent, TALKING, 0.0)
    sim.waiting.append(99)
    sim.waiting_set.add(99)

    sim.agent_free(0, now=5.0)

    assert sim.state[0] == TALKING and 99 not in sim.waiting_set


def test_given_one_agent_on_an_endless_call_when_callers_keep_arriving_then_each_hangs_up_after_its_patience():
    raw = with_inbound(
        talk_seconds=LONG,
        patience_seconds={"dist": "constant", "value": 30},
        phases=[{"from_seconds": 0, "per_hour": 60}],
    )
    raw["agents"] = 1
    r = simulate(parse_scenario(raw), _NeverDials(), seed=4)
    assert r.inbound_offered > 3
    assert r.inbound_answered == 1  # the first caller; the agent never frees again
    assert r.inbound_abandoned + r.inbound_waiting_at_end == r.inbound_offered - 1
    assert r.inbound_wait_max == 0.0
    judged = r.inbound_offered - r.inbound_waiting_at_end
    assert r.inbound_abandonment == pytest.approx(r.inbound_abandoned / judged)


def test_given_a_skill_group_when_its_agents_are_busy_then_a_caller_reaches_another_agent_only_after_the_limit():
    raw = with_inbound(
        talk_seconds=LONG,
        patience_seconds=LONG,
        skill_agents=1,
        overflow_after_seconds=30,
        phases=[{"from_seconds": 0, "per_hour": 60}],
    )
    raw["agents"] = 2
    r = simulate(parse_scenario(raw), _NeverDials(), seed=2)
    # Caller 1 takes the skill agent at once, caller 2 the other agent after
    # exactly the overflow limit; nobody else is ever answered.
    assert r.inbound_offered > 3
    assert r.inbound_answered == 2 and r.inbound_overflowed == 1
    assert r.inbound_wait_max == pytest.approx(30.0)


def test_given_the_rate_drops_to_zero_mid_shift_when_simulated_then_arrivals_follow_the_phases():
    raw = with_inbound(
        phases=[{"from_seconds": 0, "per_hour": 3600}, {"from_seconds": 300, "per_hour": 0}]
    )
    policy = _NeverDials()
    r = simulate(parse_scenario(raw), policy, seed=1)
    assert 240 <= r.inbound_offered <= 360  # Poisson(300) for the first 300 s only
    assert {s.inbound_rate_per_s for s in policy.seen if s.now < 300} == {1.0}
    assert {s.inbound_rate_per_s for s in policy.seen if s.now >= 300} == {0.0}


def test_given_callers_queued_when_the_policy_is_asked_then_it_sees_their_waits_and_the_target():
    raw = with_inbound(talk_seconds=LONG, patience_seconds=LONG)
    policy = _NeverDials()
    simulate(parse_scenario(raw), policy, seed=3)
    queued = [s for s in policy.seen if s.inbound_waiting]
    assert queued, "with every agent on an endless call, callers must queue"
    last = queued[-1]
    assert all(w >= 0 for w in last.inbound_waiting)
    assert last.inbound_wait_target_s == 20.0
    assert last.count(READY) == 0


def test_given_the_same_seed_when_two_policies_run_then_they_meet_the_same_callers():
    sc = parse_scenario(with_inbound())
    a = simulate(sc, make_policy("progressive"), seed=5)
    b = simulate(sc, make_policy("predictive"), seed=5)
    assert a.inbound_offered == b.inbound_offered > 0


def test_given_the_same_seed_when_simulated_twice_then_same_inbound_figures():
    sc = parse_scenario(with_inbound())
    a = simulate(sc, make_policy("predictive"), seed=8).as_dict()
    b = simulate(sc, make_policy("predictive"), seed=8).as_dict()
    for key in ("wall_seconds", "sim_seconds_per_wall_second"):
        a.pop(key), b.pop(key)
    assert a == b


def test_given_a_shift_with_inbound_when_simulated_then_every_caller_is_accounted_for():
    r = simulate(parse_scenario(with_inbound()), make_policy("predictive"), seed=6)
    assert r.inbound_offered == r.inbound_answered + r.inbound_abandoned + r.inbound_waiting_at_end
    assert r.human_answered == r.connected + r.abandoned + r.waiting_at_end
    assert 0 <= r.inbound_wait_p50 <= r.inbound_wait_p90 <= r.inbound_wait_max
    assert 0 <= r.inbound_service_level <= 1


def test_given_no_inbound_section_when_simulated_then_inbound_figures_are_zero():
    r = simulate(parse_scenario(TINY), make_policy("progressive"), seed=1)
    assert r.inbound_offered == r.inbound_answered == r.inbound_abandoned == 0


@pytest.mark.parametrize(
    ("inbound", "message"),
    [
        ({"skill_agents": 9}, "skill_agents"),
        ({"phases": [{"from_seconds": 5, "per_hour": 10}]}, "first phase"),
        ({"phases": [{"from_seconds": 0, "per_hour": -1}]}, "per_hour"),
        ({"wait_target_seconds": 0}, "wait_target_seconds"),
    ],
)
def test_given_a_bad_inbound_section_when_parsed_then_the_field_is_named(inbound, message):
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(with_inbound(**inbound))


def test_given_values_when_percentile_then_nearest_rank():
    assert percentile([], 0.9) == 0.0
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([float(i) for i in range(1, 11)], 0.9) == 9.0
