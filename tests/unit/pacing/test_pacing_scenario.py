"""Scenario files: the shipped ones load; every bad input names its field."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from test_pacing_simulator import TINY

from dialer.pacing.scenario import ScenarioError, load_scenario, parse_scenario

SCENARIOS = sorted((Path(__file__).parents[3] / "bench" / "pacing" / "scenarios").glob("*.json"))


def test_given_the_shipped_scenarios_when_loaded_then_all_parse():
    assert len(SCENARIOS) >= 5
    names = {load_scenario(p).name for p in SCENARIOS}
    assert len(names) == len(SCENARIOS)


def test_given_a_drift_scenario_when_phase_at_then_phase_changes_at_its_start():
    sc = parse_scenario(TINY)
    assert sc.phase_at(399).p_human == 0.4
    assert sc.phase_at(400).p_human == 0.2


def _broken(path: str, value):
    raw = copy.deepcopy(TINY)
    target = raw
    keys = path.split(".")
    for k in keys[:-1]:
        target = target[int(k)] if k.isdigit() else target[k]
    last = keys[-1]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return raw


@pytest.mark.parametrize(
    "path,value,message",
    [
        ("agents", 0, "agents"),
        ("agents", True, "agents"),
        ("shift_seconds", -5, "shift_seconds"),
        ("name", KeyError, "name"),
        ("phases", [], "phases"),
        ("phases.0.p_human", 0.9, "must be <= 1"),
        ("phases.0.p_busy", "x", "p_busy"),
        ("phases.0.talk_seconds", {"dist": "gamma", "mean": 3}, "unknown dist"),
        ("phases.0.talk_seconds", {"dist": "lognormal", "sd": 3}, "mean"),
        ("phases.0.from_seconds", 5, "first phase"),
        ("phases.1.from_seconds", 0, "increase"),
        ("wrap_seconds", {"dist": "uniform", "min": 5, "max": 1}, "max must be"),
        (
            "pauses",
            [{"agent_fraction": 2, "every_seconds": 10, "for_seconds": 5}],
            "agent_fraction",
        ),
        ("pauses", [{"agent_fraction": 0.5, "every_seconds": 10, "for_seconds": 50}], "shorter"),
        ("abandon_target", 1.5, "abandon_target"),
        ("max_ringing", 0, "max_ringing"),
        ("seeds", 0, "seeds"),
    ],
)
def test_given_bad_field_when_parsed_then_scenario_error_names_it(path, value, message):
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(_broken(path, value))


def test_given_not_an_object_when_parsed_then_scenario_error():
    with pytest.raises(ScenarioError):
        parse_scenario([1, 2])


def test_given_invalid_json_file_when_loaded_then_scenario_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope", encoding="utf-8")
    with pytest.raises(ScenarioError, match="not valid JSON"):
        load_scenario(bad)


def test_given_missing_file_when_loaded_then_scenario_error(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "absent.json")


def test_given_tiny_file_when_loaded_then_same_as_parsed(tmp_path):
    f = tmp_path / "tiny.json"
    f.write_text(json.dumps(TINY), encoding="utf-8")
    assert load_scenario(f) == parse_scenario(TINY)
