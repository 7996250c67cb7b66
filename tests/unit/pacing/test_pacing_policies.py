"""Policy decisions on hand-built snapshots, and properties that hold for every policy."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pacing_helpers import NOW, snapshot

from dialer.pacing.policies import POLICY_NAMES, UnknownPolicyError, make_policy
from dialer.pacing.snapshot import (
    AGENT_STATES,
    AbandonWindow,
    AgentView,
    DurationSample,
    RingingCall,
    RingSample,
    Snapshot,
)


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_given_no_agents_when_asked_then_no_calls(name):
    assert make_policy(name).calls_to_place(snapshot()) == 0


@pytest.mark.parametrize("name", ["progressive", "predictive"])
def test_given_no_agent_ready_and_all_just_started_talking_when_asked_then_no_calls(name):
    s = snapshot(talking=[5.0] * 20)
    assert make_policy(name).calls_to_place(s) == 0


def test_given_everyone_talking_near_the_end_of_a_typical_call_when_predictive_then_calls_ahead():
    # Talks last 120..240 s: at 235 s nearly every agent is about to wrap up.
    s = snapshot(talking=[235.0] * 20)
    assert make_policy("progressive").calls_to_place(s) == 0
    assert make_policy("predictive").calls_to_place(s) > 0


def test_given_agents_freeing_soon_when_predictive_then_more_calls_than_agents_free():
    s = snapshot(talking=[235.0] * 20, ready=5)
    assert make_policy("predictive").calls_to_place(s) > 5


def test_given_abandonment_over_target_when_predictive_then_fewer_calls():
    clean = snapshot(talking=[235.0] * 20, ready=2, answered=800, abandoned=0)
    over = snapshot(talking=[235.0] * 20, ready=2, answered=800, abandoned=40)
    assert make_policy("predictive").calls_to_place(over) < make_policy(
        "predictive"
    ).calls_to_place(clean)


@pytest.mark.parametrize("controller", ["count", "window"])
def test_given_abandons_keep_coming_when_minutes_pass_then_predictive_steers_down(controller):
    # The margin's steering alone (the exact path adds calls whatever z is).
    policy = make_policy("predictive", budget_guard=False, controller=controller, exact_ahead=False)
    decisions = []
    for minute in range(20):
        s = snapshot(
            talking=[235.0] * 20, ready=2, abandoned=80 + 2 * minute, now=NOW + 60 * minute
        )
        decisions.append(policy.calls_to_place(s))
    assert decisions[-1] < decisions[0]


def test_given_no_new_abandon_when_hours_of_dialing_ahead_pass_then_z_falls_to_its_floor():
    policy = make_policy("predictive", budget_guard=False, z_start=2.6, z_min=1.8)
    for minute in range(0, 181, 1):
        policy.calls_to_place(snapshot(talking=[235.0] * 20, ready=2, now=NOW + 60 * minute))
    assert policy.last_reason == "model"
    # 0.4 an hour: 2.6 -> 1.8 in two hours of dialing ahead, and no lower.
    assert policy.z == pytest.approx(1.8)


def test_given_one_new_abandon_when_counting_then_z_rises_by_its_share_of_the_allowance():
    policy = make_policy("predictive", budget_guard=False, z_start=2.0)
    policy.calls_to_place(snapshot(talking=[235.0] * 20, ready=2, abandoned=3))
    before = policy.z
    s = snapshot(talking=[235.0] * 20, ready=2, abandoned=4, now=NOW + 1)
    policy.calls_to_place(s)
    allowance = policy.aim(s) * policy._answers_per_hour(s)
    # The helper's longest window holds 4 x the count: one more abandon there is 4.
    assert policy.z - before == pytest.approx(0.5 * 4 / allowance, rel=0.01)


def test_given_an_unknown_controller_when_built_then_value_error():
    with pytest.raises(ValueError, match="controller"):
        make_policy("predictive", controller="pid")


def test_given_a_small_team_whose_hour_holds_its_allowance_when_predictive_then_progressive_only():
    # Three agents answer ~40 calls an hour: one abandon is the hour's whole
    # allowance, and the last hour already holds two: dial only for ready agents.
    s = snapshot(talking=[235.0], ready=2, answered=10, abandoned=1)
    policy = make_policy("predictive")
    assert policy.calls_to_place(s) == 2
    assert policy.last_reason == "budget"


def test_given_calls_already_ringing_when_progressive_then_only_uncovered_agents():
    assert make_policy("progressive").calls_to_place(snapshot(ready=5, ringing=[3.0, 4.0])) == 3
    assert make_policy("progressive").calls_to_place(snapshot(ready=2, ringing=[1.0] * 3)) == 0


def test_given_answered_calls_waiting_when_progressive_then_they_cover_agents():
    assert make_policy("progressive").calls_to_place(snapshot(ready=3, waiting=2)) == 1


def test_given_line_limit_when_asked_then_never_more_than_free_lines():
    s = snapshot(talking=[235.0] * 50, ready=10, ringing=[1.0] * 8, max_ringing=10)
    for name in POLICY_NAMES:
        assert make_policy(name).calls_to_place(s) <= 2


def test_given_dial_level_one_when_vicidial_adapt_then_it_dials_like_progressive():
    policy = make_policy("vicidial_adapt")
    s = snapshot(talking=[60.0] * 4, ready=3, ringing=[2.0], answered=0)
    policy.level = 1.0
    policy._last_adjust = NOW  # no adjustment this tick
    assert policy.calls_to_place(s) == 2


def test_given_idle_agents_when_vicidial_adapt_adjusts_then_dial_level_rises():
    policy = make_policy("vicidial_adapt")
    policy.calls_to_place(snapshot(talking=[60.0] * 5, ready=5))
    assert policy.level > 1.0


def test_given_one_free_agent_and_quarter_answer_ratio_when_issabel_then_four_calls():
    rings = tuple(RingSample(8.0, "human") for _ in range(25)) + tuple(
        RingSample(25.0, "no_answer") for _ in range(75)
    )
    s = Snapshot(
        now=NOW,
        agents=(AgentView("ready", NOW - 1), AgentView("talking", NOW - 10)),
        ring_samples=rings,
        stats_at=NOW,
    )
    assert make_policy("issabel").calls_to_place(s) == 4


def test_given_unknown_name_when_make_policy_then_error_names_the_choices():
    with pytest.raises(UnknownPolicyError, match="predictive"):
        make_policy("turbo")


def test_given_unknown_parameter_when_make_policy_then_error():
    with pytest.raises(UnknownPolicyError):
        make_policy("progressive", speed=3)


@pytest.mark.parametrize("params", [{"aim_ratio": 0}, {"horizons": ()}, {"z_min": 3, "z_max": 1}])
def test_given_bad_predictive_parameters_when_make_policy_then_value_error(params):
    with pytest.raises(ValueError):
        make_policy("predictive", **params)


_agents = st.lists(
    st.builds(AgentView, st.sampled_from(sorted(AGENT_STATES)), st.floats(NOW - 2000, NOW)),
    max_size=30,
)
_rings = st.lists(
    st.builds(
        RingSample,
        st.floats(0, 40),
        st.sampled_from(["human", "machine", "busy", "failed", "no_answer", "ringing"]),
    ),
    max_size=60,
)


@st.composite
def _snapshots(draw):
    answered = draw(st.integers(0, 2000))
    return Snapshot(
        now=NOW,
        agents=tuple(draw(_agents)),
        ringing=tuple(RingingCall(NOW - x) for x in draw(st.lists(st.floats(0, 60), max_size=40))),
        waiting=draw(st.integers(0, 5)),
        ring_samples=tuple(draw(_rings)),
        stats_at=NOW,
        abandonment=(
            AbandonWindow(1800.0, answered, draw(st.integers(0, answered))),
            AbandonWindow(3600.0, answered, 0),
        ),
        max_ringing=draw(st.integers(1, 100)),
    )


@settings(max_examples=60, deadline=None)
@given(s=_snapshots(), name=st.sampled_from(POLICY_NAMES))
def test_given_any_snapshot_when_asked_then_a_count_between_zero_and_free_lines(s, name):
    n = make_policy(name).calls_to_place(s)
    assert isinstance(n, int)
    assert 0 <= n <= max(0, s.max_ringing - len(s.ringing))


@pytest.mark.parametrize("mode,expected", [("tapered", 1.5), ("hard_limit", 1.0)])
def test_given_day_drop_rate_over_limit_when_vicidial_adapts_then_level_falls(mode, expected):
    policy = make_policy("vicidial_adapt", mode=mode)
    policy.level = 3.0
    # 10% dropped today: over the limit however early in the shift.
    policy.calls_to_place(snapshot(talking=[60.0] * 5, ready=5, answered=100, abandoned=10))
    assert policy.level == expected


def test_given_unknown_vicidial_mode_when_make_policy_then_value_error():
    with pytest.raises(ValueError):
        make_policy("vicidial_adapt", mode="turbo")


def test_given_new_abandons_since_last_tick_when_predictive_then_margin_rises_at_once():
    policy = make_policy("predictive")
    policy.calls_to_place(snapshot(talking=[235.0] * 20, answered=800, abandoned=2))
    before = policy.z
    policy.calls_to_place(snapshot(talking=[235.0] * 20, answered=800, abandoned=4, now=NOW + 1))
    assert policy.z > before


def test_given_new_samples_but_same_stats_at_when_predictive_then_it_re_estimates():
    # A builder that never sets stats_at must not freeze the estimates.
    policy = make_policy("predictive")
    first = snapshot(talking=[235.0] * 20)
    assert policy.calls_to_place(first) > 0
    nobody_answers = tuple(RingSample(25.0, "no_answer") for _ in range(100))
    later = Snapshot(
        now=NOW + 120,
        agents=tuple(AgentView("talking", NOW + 120 - 235.0) for _ in range(20)),
        talk_samples=first.talk_samples,
        wrap_samples=first.wrap_samples,
        ring_samples=nobody_answers,
        stats_at=first.stats_at,
        abandonment=first.abandonment,
    )
    assert policy.calls_to_place(later) == 0


def test_given_builder_without_running_talks_when_predictive_then_same_as_with_them():
    # Early shift: only short talks have finished; 20 agents are 100 s into theirs.
    finished = tuple(DurationSample(30.0 + i, True) for i in range(20))
    running = tuple(DurationSample(100.0, False) for _ in range(20))
    late_answers = tuple(RingSample(20.0, "human") for _ in range(30)) + tuple(
        RingSample(25.0, "no_answer") for _ in range(70)
    )
    base = dataclasses.replace(snapshot(talking=[100.0] * 20), ring_samples=late_answers)
    without = dataclasses.replace(base, talk_samples=finished)
    with_running = dataclasses.replace(base, talk_samples=finished + running)
    assert make_policy("predictive").calls_to_place(without) == make_policy(
        "predictive"
    ).calls_to_place(with_running)


# -- blended inbound ---------------------------------------------------------


def _with_inbound(s: Snapshot, rate: float = 0.0, waited: tuple[float, ...] = ()) -> Snapshot:
    return dataclasses.replace(s, inbound_rate_per_s=rate, inbound_waiting=waited)


def test_given_inbound_callers_expected_when_predictive_then_fewer_calls_than_without():
    s = snapshot(talking=[235.0] * 20, ready=2)
    without = make_policy("predictive").calls_to_place(s)
    with_inbound = make_policy("predictive").calls_to_place(_with_inbound(s, rate=0.1))
    assert with_inbound < without


def test_given_inbound_callers_queued_when_predictive_then_fewer_calls_than_without():
    s = snapshot(talking=[235.0] * 20, ready=0)
    without = make_policy("predictive").calls_to_place(s)
    queued = make_policy("predictive").calls_to_place(_with_inbound(s, waited=(30.0, 12.0, 5.0)))
    assert queued < without


def test_given_a_small_team_expecting_inbound_when_predictive_then_one_ready_agent_is_kept_free():
    # Five agents who just started talking: nobody frees within the 20 s
    # target, so the one ready agent is left to inbound instead of dialed for.
    s = snapshot(talking=[5.0] * 4, ready=1)
    policy = make_policy("predictive")
    assert make_policy("predictive").calls_to_place(s) >= 1
    assert policy.calls_to_place(_with_inbound(s, rate=10 / 3600)) == 0
    assert policy.last_inbound_reserve == 1


def test_given_a_large_team_expecting_inbound_when_predictive_then_an_agent_is_kept_free_at_once():
    # A hundred agents mid-call: several free up within any 20 s target, so
    # the target alone keeps nobody free, and a caller would wait whenever
    # outbound answers took every free agent. "At once" keeps one.
    talking = [2.5 * i for i in range(95)]  # calls at every stage: agents free up all the time
    s = _with_inbound(snapshot(talking=talking, ready=5), rate=200 / 3600)
    target_only = make_policy("predictive", inbound_at_once_seconds=0)
    at_once = make_policy("predictive")
    calls_target_only = target_only.calls_to_place(s)
    calls_at_once = at_once.calls_to_place(s)
    assert target_only.last_inbound_reserve == 0
    assert at_once.last_inbound_reserve >= 1
    assert calls_at_once < calls_target_only


@pytest.mark.parametrize(
    "params",
    [
        {"inbound_at_once_seconds": -1},
        {"inbound_at_once_tolerance": 0},
        {"inbound_at_once_tolerance": 1.5},
        {"inbound_tolerance": 0},
    ],
)
def test_given_bad_inbound_parameters_when_building_predictive_then_refused(params):
    with pytest.raises(ValueError, match="inbound"):
        make_policy("predictive", **params)


def test_given_inbound_when_the_blind_policy_is_asked_then_it_answers_as_without_inbound():
    s = snapshot(talking=[235.0] * 20, ready=2)
    blind = make_policy("predictive_ignores_inbound")
    assert blind.name == "predictive_ignores_inbound"
    assert blind.calls_to_place(_with_inbound(s, rate=0.1, waited=(40.0,))) == make_policy(
        "predictive"
    ).calls_to_place(s)


def test_given_an_inbound_caller_queued_when_progressive_then_a_ready_agent_is_left_to_them():
    s = _with_inbound(snapshot(ready=3), waited=(3.0,))
    assert make_policy("progressive").calls_to_place(s) == 2


@settings(max_examples=40, deadline=None)
@given(
    talking=st.lists(st.floats(0.0, 400.0), max_size=25),
    ready=st.integers(0, 6),
    low=st.floats(0.0, 0.05),
    high=st.floats(0.0, 0.05),
)
def test_given_more_inbound_expected_when_predictive_then_never_more_calls(
    talking, ready, low, high
):
    low, high = sorted((low, high))
    s = snapshot(talking=talking, ready=ready)
    calls_low = make_policy("predictive").calls_to_place(_with_inbound(s, rate=low))
    calls_high = make_policy("predictive").calls_to_place(_with_inbound(s, rate=high))
    assert calls_high <= calls_low


def test_given_trials_when_binomial_above_then_matches_the_sum_of_the_pmf():
    from math import comb

    from dialer.pacing.policies import binomial_above

    for n, p, k in ((5, 0.3, 1), (6, 0.3, 3), (4, 0.0, 0), (3, 1.0, 2), (2, 0.5, -1), (2, 0.5, 2)):
        want = sum(comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(k + 1, n + 1))
        assert binomial_above(n, p, k) == pytest.approx(want)


def test_given_a_small_team_in_progressive_mode_when_inbound_expected_then_calls_leave_the_reserve_likely_free():
    # Five agents, two ready, nobody about to finish: the reserve is one agent.
    # With 30% of calls answered by a person, two calls would both be answered
    # 9% of the time (over the 1% "at once" tolerance) and take the reserve;
    # one would not.
    s = _with_inbound(
        snapshot(talking=[5.0] * 3, ready=2, answered=10, abandoned=2), rate=10 / 3600
    )
    assert make_policy("progressive").calls_to_place(s) == 2
    policy = make_policy("predictive")
    assert policy.calls_to_place(s) == 1
    assert policy.last_reason == "budget" and policy.last_inbound_reserve == 1


def test_given_a_small_team_when_vicidial_recommended_then_only_ready_agents_are_tallied():
    # Fewer than 10 agents: "available only tally". The first adjustment
    # lifts the level to 1 + (2 ready + diff target) / 7 agents.
    s = snapshot(talking=[30.0] * 5, ready=2)
    assert make_policy("vicidial_recommended").calls_to_place(s) == 2  # round(1.14 x 2)
    assert make_policy("vicidial_adapt").calls_to_place(s) == 4  # round(1.29 x 7) - 5 in call


def test_given_the_drop_limit_reached_when_vicidial_hard_limit_then_no_dialing_ahead():
    policy = make_policy("vicidial_adapt", mode="hard_limit", dropped_percentage=1.5)
    policy.level = 2.5
    s = snapshot(talking=[30.0] * 18, ready=2, answered=100, abandoned=2)  # 2 % of the day
    policy.calls_to_place(s)
    assert policy.level == 1.0


def test_given_drops_under_the_limit_when_vicidial_average_then_the_level_rises_faster():
    plain = make_policy("vicidial_adapt", mode="tapered")
    average = make_policy("vicidial_adapt", mode="average")
    s = snapshot(talking=[30.0] * 18, ready=2, answered=100, abandoned=0)
    plain.calls_to_place(s)
    average.calls_to_place(s)
    assert average.level > plain.level > 1.0


def test_given_a_positive_intensity_when_vicidial_rises_then_it_rises_more():
    calm = make_policy("vicidial_adapt")
    intense = make_policy("vicidial_adapt", intensity=20)
    s = snapshot(talking=[30.0] * 18, ready=2)
    calm.calls_to_place(s)
    intense.calls_to_place(s)
    assert intense.level > calm.level


@pytest.mark.parametrize(
    "params", [{"intensity": 41}, {"dropped_percentage": 0}, {"mode": "ratio"}, {"max_level": 0.5}]
)
def test_given_bad_vicidial_settings_when_make_policy_then_unknown_policy_error(params):
    with pytest.raises(ValueError):
        make_policy("vicidial_adapt", **params)
