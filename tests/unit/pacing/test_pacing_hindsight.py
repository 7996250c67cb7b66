"""The hindsight-tuned reference (bench/pacing/hindsight.py): its policies and its search."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pacing_helpers import snapshot

sys.path.insert(0, str(Path(__file__).parents[3] / "bench" / "pacing"))

import hindsight  # noqa: E402
from hindsight import FixedRatioPolicy, LookAheadPolicy, Trial, search  # noqa: E402

from dialer.pacing.policies import make_policy  # noqa: E402
from dialer.pacing.scenario import parse_scenario  # noqa: E402
from dialer.pacing.simulator import simulate  # noqa: E402

TINY_RAW = {
    "name": "tiny",
    "agents": 3,
    "shift_seconds": 600,
    "ring_timeout_seconds": 20,
    "phases": [
        {
            "from_seconds": 0,
            "p_human": 0.3,
            "p_machine": 0.1,
            "p_busy": 0.1,
            "p_failed": 0.1,
            "answer_seconds": {"dist": "lognormal", "mean": 6, "sd": 3},
            "talk_seconds": {"dist": "lognormal", "mean": 60, "sd": 30},
        }
    ],
    "wrap_seconds": {"dist": "constant", "value": 10},
    "machine_detect_seconds": {"dist": "uniform", "min": 2, "max": 4},
}


@pytest.mark.parametrize("policy", [FixedRatioPolicy(0.5), LookAheadPolicy(0.1)])
def test_given_ready_agents_when_a_reference_decides_then_never_fewer_than_progressive(policy):
    s = snapshot(talking=[30.0] * 10, ready=4)
    assert policy.calls_to_place(s) >= make_policy("progressive").calls_to_place(s) == 4


def test_given_a_larger_factor_when_look_ahead_decides_then_at_least_as_many_calls():
    s = snapshot(talking=[235.0] * 20, ready=1)
    counts = [LookAheadPolicy(f).calls_to_place(s) for f in (0.1, 0.3, 1.0)]
    assert counts == sorted(counts) and counts[-1] > counts[0]


def test_given_a_larger_ratio_when_fixed_ratio_decides_then_more_calls():
    s = snapshot(talking=[30.0] * 10, ready=2, wrap=[3.0] * 2)
    assert FixedRatioPolicy(3.0).calls_to_place(s) == 12
    assert FixedRatioPolicy(1.0).calls_to_place(s) == 4


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_given_a_non_positive_parameter_when_built_then_value_error(bad):
    with pytest.raises(ValueError):
        FixedRatioPolicy(bad)
    with pytest.raises(ValueError):
        LookAheadPolicy(bad)


def _fake_evaluate(limit: float):
    """Feasible up to `limit`; occupancy grows with the parameter."""

    def evaluate(scenario, family, param, seeds):
        trial = Trial(family, param, feasible=param <= limit)
        trial.runs = []
        return trial

    return evaluate


def test_given_feasibility_up_to_a_point_when_searched_then_the_best_is_just_under_it(monkeypatch):
    monkeypatch.setattr(hindsight, "evaluate", _fake_evaluate(0.33))
    monkeypatch.setattr(Trial, "occupancy", property(lambda t: t.param))
    best, trials = search(None, "look_ahead", (0, 1))  # type: ignore[arg-type]
    assert best is not None
    assert best.param <= 0.33
    # The coarse step is x1.25; two refinements leave it within x1.06 of the limit.
    assert best.param * 1.25**0.25 > 0.33
    assert all(t.feasible == (t.param <= 0.33) for t in trials)
    assert len(trials) <= 8  # a bisection, not the whole grid


def test_given_nothing_feasible_when_searched_then_no_best(monkeypatch):
    monkeypatch.setattr(hindsight, "evaluate", _fake_evaluate(0.0))
    best, trials = search(None, "fixed_ratio", (0,))  # type: ignore[arg-type]
    assert best is None and trials


def test_given_only_the_cautious_end_feasible_when_searched_then_the_best_comes_from_it(
    monkeypatch,
):
    monkeypatch.setattr(hindsight, "evaluate", _fake_evaluate(0.03))
    monkeypatch.setattr(Trial, "occupancy", property(lambda t: t.param))
    best, trials = search(None, "look_ahead", (0, 1))  # type: ignore[arg-type]
    assert best is not None
    assert 0.03 / 1.25 < best.param <= 0.03
    assert min(hindsight.GRIDS["look_ahead"]) in [t.param for t in trials]
    assert all(t.feasible == (t.param <= 0.03) for t in trials)


def test_given_nothing_feasible_even_at_the_cautious_end_when_searched_then_no_best(monkeypatch):
    monkeypatch.setattr(hindsight, "evaluate", _fake_evaluate(0.001))
    best, trials = search(None, "look_ahead", (0,))  # type: ignore[arg-type]
    assert best is None
    assert min(t.param for t in trials) == min(hindsight.CAUTIOUS_GRIDS["look_ahead"])


def test_given_a_grid_given_when_nothing_feasible_then_the_cautious_end_is_not_searched(
    monkeypatch,
):
    monkeypatch.setattr(hindsight, "evaluate", _fake_evaluate(0.03))
    best, trials = search(None, "look_ahead", (0,), grid=(0.1, 0.2))  # type: ignore[arg-type]
    assert best is None and {t.param for t in trials} <= {0.1, 0.2}


def test_given_a_run_over_the_target_when_evaluated_then_infeasible_and_later_seeds_skipped():
    sc = parse_scenario(TINY_RAW)
    bold = hindsight.evaluate(sc, "fixed_ratio", 50.0, range(5))
    assert not bold.feasible and len(bold.runs) == 1
    assert bold.runs[0].worst_hour_abandonment > sc.abandon_target
    calm = hindsight.evaluate(sc, "look_ahead", 0.01, range(2))
    assert calm.feasible and len(calm.runs) == 2
    assert calm.runs[0].as_dict()["placed"] == simulate(sc, LookAheadPolicy(0.01), 0).placed


def _result(scenario: str, seeds: int, policies: dict, reference: bool = False) -> dict:
    out = {"scenario": scenario, "seeds": seeds, "policies": policies}
    if reference:
        out["reference"] = {"best": None, "families": {}}
    return out


def test_given_two_runs_when_combined_then_policies_united_and_reference_kept():
    import run  # bench/pacing/run.py

    early = [_result("agents-5", 10, {"progressive": {"x": 1}}, reference=True)]
    late = [_result("agents-5", 10, {"predictive": {"x": 2}}), _result("agents-8", 10, {})]
    merged = run.combine([early, late])
    assert [r["scenario"] for r in merged] == ["agents-5", "agents-8"]
    assert merged[0]["policies"] == {"progressive": {"x": 1}, "predictive": {"x": 2}}
    assert merged[0]["reference"] == {"best": None, "families": {}}
    assert early[0]["policies"] == {"progressive": {"x": 1}}  # inputs untouched


def test_given_runs_on_different_seed_counts_when_combined_then_value_error():
    import run

    with pytest.raises(ValueError, match="3 and 10 seeds"):
        run.combine([[_result("agents-5", 3, {})], [_result("agents-5", 10, {})]])


def test_given_runs_on_other_draws_when_combined_then_value_error():
    import run

    other = {**_result("agents-5", 10, {}), "first_seed": 10}
    with pytest.raises(ValueError, match="not the same draws"):
        run.combine([[_result("agents-5", 10, {})], [other]])


def _acceptance_input(worst_mean: float, worst_max: float) -> dict:
    stats = {"mean": worst_mean, "max": worst_max}
    predictive = {"worst_hour_abandonment": stats, "occupancy": {"mean": 0.8, "max": 0.8}}
    return {"scenario": "unseen-8", "agents": 10, "abandon_target": 0.03,
            "policies": {"predictive": predictive}}  # fmt: skip


def test_given_one_seed_over_the_target_when_judged_without_a_reference_then_not_met():
    import run

    lines, ok = run.acceptance([_acceptance_input(worst_mean=0.022, worst_max=0.0444)])
    assert not ok
    assert any("no seed's worst hour over 3%" in line and "NOT MET" in line for line in lines)


def test_given_every_seed_under_the_target_when_judged_then_met():
    import run

    lines, ok = run.acceptance([_acceptance_input(worst_mean=0.022, worst_max=0.029)])
    assert ok, lines


def test_given_the_reference_chosen_when_checked_on_fresh_seeds_then_both_run_on_those_seeds():
    import run

    sc = parse_scenario({**TINY_RAW, "shift_seconds": 4000})
    best = {"family": "fixed_ratio", "param": 50.0, "occupancy": 0.9, "worst_max": 0.0}
    checked = run.fresh_check(sc, best, (7, 8))
    ref, mine = checked["reference"], checked["predictive"]
    assert checked["first_seed"] == 7 and ref["seeds"] == mine["seeds"] == 2
    # The same shifts as the reference's own policy on those seeds.
    alone = [simulate(sc, FixedRatioPolicy(50.0), seed) for seed in (7, 8)]
    assert ref["occupancy"] == pytest.approx(sum(r.occupancy for r in alone) / 2)
    # A ratio of 50 calls per agent abandons most answers: every seed is over the target.
    assert ref["over"] == [7, 8] and ref["worst_max"] > sc.abandon_target
    assert (ref["family"], ref["param"]) == ("fixed_ratio", 50.0)
    assert mine["over"] == [] and mine["worst_max"] <= sc.abandon_target


def test_given_a_fresh_check_when_tabled_then_one_row_with_the_seeds_over_the_target():
    import run

    stats = {"occupancy": 0.61, "worst_max": 0.0857, "over": [12, 19], "seeds": 20}
    fresh = {"first_seed": 10, "reference": {**stats, "family": "look_ahead", "param": 0.2},
             "predictive": {"occupancy": 0.57, "worst_max": 0.027, "over": [], "seeds": 20}}  # fmt: skip
    text = run.fresh_table([{"scenario": "unseen-10", "fresh": fresh}, {"scenario": "x"}])
    rows = text.splitlines()[2:]
    assert rows == ["| unseen-10 | 10-29 | 0.610 (look_ahead 0.2) | 8.57% | 2 of 20 | 0.570 | 2.70% "
                    "| 0 of 20 |"]  # fmt: skip


def test_given_fresh_seeds_without_the_reference_when_run_then_usage_error():
    import run

    with pytest.raises(SystemExit):
        run.main(["--fresh-seeds", "5", "--no-reference"])
    with pytest.raises(SystemExit):
        run.main(["--fresh-seeds", "-1"])


def test_given_fresh_seeds_when_run_then_the_json_and_the_tables_carry_the_check(tmp_path, capsys):
    import json

    import run

    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY_RAW), encoding="utf-8")
    out = tmp_path / "out.json"
    run.main(["--scenario", str(path), "--policy", "predictive", "--history", "off",
              "--seeds", "2", "--fresh-seeds", "2", "--json-out", str(out)])  # fmt: skip
    (res,) = json.loads(out.read_text(encoding="utf-8"))
    assert res["fresh"]["first_seed"] == 2  # after the table's seeds 0-1
    assert res["fresh"]["reference"]["param"] == res["reference"]["best"]["param"]
    assert "| tiny | 2-3 |" in capsys.readouterr().out
    early = {k: v for k, v in res.items() if k != "fresh"}  # a run without the check first
    merged = run.combine([[early], [res]])
    assert merged[0]["fresh"] == res["fresh"]
