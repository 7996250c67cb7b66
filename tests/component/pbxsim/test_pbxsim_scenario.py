"""pbxsim scenario files: the shipped ones load, bad ones are refused by field."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

import pbxsim
from pbxsim import scenario as sc
from pbxsim.scenario import ScenarioError, load_scenario, parse_scenario

SHIPPED = sorted((Path(pbxsim.__file__).parent / "scenarios").glob("*.json"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_given_a_shipped_scenario_when_loaded_then_plans_are_valid(path: Path) -> None:
    scenario = load_scenario(path)
    rng = random.Random(1)
    for n in range(200):
        plan = scenario.plan(f"5215550000{n:03d}", rng)
        assert plan.behaviour in sc.BEHAVIOURS
        assert plan.ring_seconds >= 0 and plan.talk_seconds >= 0


@pytest.mark.parametrize(
    ("number", "behaviour", "ring"),
    [
        ("5215512340107", sc.HUMAN, 7),
        ("5215512340215", sc.MACHINE, 15),
        ("5215512340301", sc.BUSY, 0),
        ("5215512340401", sc.NO_ANSWER, 0),
        ("5215512340501", sc.CONGESTION, 0),
        ("5215512340601", sc.UNALLOCATED, 0),
        ("5215512340801", sc.DECLINED, 0),
        ("5215512340809", sc.DECLINED, 0),
        ("5215512340811", sc.UNALLOCATED, 0),
        ("5215512340999", sc.UNALLOCATED, 0),
        ("12", sc.UNALLOCATED, 0),
    ],
)
def test_given_suffix_rules_when_planning_then_last_three_digits_decide(
    number: str, behaviour: str, ring: float
) -> None:
    plan = parse_scenario({"suffix_rules": True}).plan(number, random.Random(0))
    assert (plan.behaviour, plan.ring_seconds) == (behaviour, ring)


def test_given_a_per_number_override_then_it_wins_over_suffix_rules() -> None:
    scenario = parse_scenario(
        {
            "suffix_rules": True,
            "numbers": {"+5215512340101": {"behaviour": "busy", "ring_seconds": 2}},
        }
    )
    plan = scenario.plan("5215512340101", random.Random(0))
    assert (plan.behaviour, plan.ring_seconds) == (sc.BUSY, 2.0)


def test_given_a_mix_when_many_calls_are_planned_then_shares_follow_the_probabilities() -> None:
    scenario = parse_scenario(
        {"p_human": 0.5, "p_machine": 0.5, "p_busy": 0, "p_congestion": 0, "p_unallocated": 0}
    )
    rng = random.Random(3)
    kinds = [scenario.plan("1", rng).behaviour for _ in range(2000)]
    assert set(kinds) == {sc.HUMAN, sc.MACHINE}
    assert 0.4 < kinds.count(sc.HUMAN) / len(kinds) < 0.6


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ([], "scenario"),
        ({"p_human": 1.5}, "p_human"),
        ({"p_busy": -0.1}, "p_busy"),
        ({"p_human": "half"}, "p_human"),
        ({"p_human": 0.6, "p_machine": 0.6}, "must be <= 1"),
        ({"p_human": 0.9, "p_declined": 0.2}, "must be <= 1"),
        ({"p_declined": -0.01}, "p_declined"),
        ({"p_declined": "some"}, "p_declined"),
        ({"p_dead_numbers": 1.01}, "p_dead_numbers"),
        ({"p_dead_numbers": float("inf")}, "p_dead_numbers"),
        ({"ring_seconds": {"dist": "weird"}}, "ring_seconds.dist"),
        ({"ring_seconds": {"dist": "uniform", "min": 5, "max": 1}}, "ring_seconds"),
        ({"talk_seconds": {"dist": "exponential", "mean": 0}}, "talk_seconds.mean"),
        ({"talk_seconds": {"dist": "lognormal", "mean": 10}}, "talk_seconds.sd"),
        ({"talk_seconds": True}, "talk_seconds"),
        ({"suffix_rules": "yes"}, "suffix_rules"),
        ({"seed": 1.5}, "seed"),
        ({"numbers": []}, "numbers"),
        ({"numbers": {"1": {"behaviour": "angry"}}}, "numbers.1.behaviour"),
        ({"numbers": {"1": "human"}}, "numbers.1"),
        ({"numbers": {"1": {"behaviour": "human", "ring_seconds": -1}}}, "numbers.1.ring_seconds"),
        ({"amd_human_seconds": float("nan")}, "amd_human_seconds"),
        ({"surprise": 1}, "unknown field"),
    ],
)
def test_given_bad_scenario_input_when_parsed_then_error_names_the_field(
    raw: object, field: str
) -> None:
    with pytest.raises(ScenarioError, match=field.replace(".", r"\.")):
        parse_scenario(raw)


def test_given_a_missing_or_broken_file_when_loaded_then_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="not found"):
        load_scenario(tmp_path / "nope.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ScenarioError, match="not valid JSON"):
        load_scenario(broken)
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"talk_seconds": 12}))
    assert load_scenario(good).talk_seconds == sc.Dist("constant", 12.0)


def test_given_declines_in_the_mix_when_many_calls_are_planned_then_that_share_declines() -> None:
    scenario = parse_scenario({"p_human": 0.5, "p_machine": 0, "p_busy": 0, "p_congestion": 0,
                               "p_unallocated": 0, "p_declined": 0.5})  # fmt: skip
    rng = random.Random(5)
    kinds = [scenario.plan("1", rng).behaviour for _ in range(2000)]
    assert set(kinds) == {sc.HUMAN, sc.DECLINED}
    assert 0.4 < kinds.count(sc.DECLINED) / len(kinds) < 0.6


def test_given_dead_numbers_when_planned_again_then_the_same_numbers_never_exist() -> None:
    """A dead number is dead on every call and every run (the rule needs it a day later);
    the share is about the one asked for; the others follow the mix."""
    scenario = parse_scenario({"p_dead_numbers": 0.1, "p_human": 1.0, "p_machine": 0,
                               "p_busy": 0, "p_congestion": 0, "p_unallocated": 0})  # fmt: skip
    numbers = [f"52155500{n:05d}" for n in range(3000)]
    first = {n for n in numbers if scenario.plan(n, random.Random(1)).behaviour == sc.UNALLOCATED}
    again = {n for n in numbers if scenario.plan(n, random.Random(99)).behaviour == sc.UNALLOCATED}
    assert first == again
    assert 0.08 < len(first) / len(numbers) < 0.12
    assert {scenario.plan(n, random.Random(2)).behaviour for n in numbers if n not in first} == {
        sc.HUMAN
    }
    assert all(sc.number_share(n) == sc.number_share("+" + n) for n in numbers[:10])


def test_given_the_demo_scenario_then_some_calls_decline_and_some_numbers_do_not_exist() -> None:
    from cobrador.demo import demo_scenario

    scenario = demo_scenario()
    rng = random.Random(4)
    kinds = [scenario.plan(f"52155500{n:05d}", rng).behaviour for n in range(3000)]
    assert 0.02 < kinds.count(sc.DECLINED) / len(kinds) < 0.045
    assert kinds.count(sc.UNALLOCATED) / len(kinds) > 0.03
