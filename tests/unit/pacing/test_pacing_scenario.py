"""Scenario files: the shipped ones load; every bad input names its field."""

from __future__ import annotations

import contextlib
import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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
        ("history", [], "history"),
        ("history", {"days": 0, "answered_per_agent_hour": 14, "abandon_ratio": 0.02}, "days"),
        ("history", {"days": 31, "answered_per_agent_hour": 14, "abandon_ratio": 0.02}, "days"),
        (
            "history",
            {"days": 3, "answered_per_agent_hour": 14, "abandon_ratio": 0.05},
            "<= abandon",
        ),
        ("history", {"days": 3, "answered_per_agent_hour": -1, "abandon_ratio": 0.02}, "answered"),
        ("history", {"days": 3, "abandon_ratio": 0.02}, "answered_per_agent_hour"),
        (
            "history",
            {"days": 3, "answered_per_agent_hour": 14, "abandon_ratio": 0.02, "gap_seconds": -1},
            "gap_seconds",
        ),
        (
            "pauses",
            [{"agent_fraction": 0.5, "at_seconds": 10, "every_seconds": 99, "for_seconds": 5}],
            "not both",
        ),
        ("pauses", [{"agent_fraction": 0.5, "at_seconds": -1, "for_seconds": 5}], "at_seconds"),
        ("pauses", [{"agent_fraction": 1.5, "at_seconds": 10, "for_seconds": 5}], "agent_fraction"),
        # Numbers no float holds, or that would make a run never end.
        ("shift_seconds", 10**400, "shift_seconds: expected a finite number up to"),
        ("phases.0.p_human", -(10**400), "p_human: expected a finite number up to"),
        ("shift_seconds", 1e300, "shift_seconds: expected a finite number up to"),
        ("shift_seconds", 30 * 24 * 3600, "at most 604800"),
        ("agents", 10**12, "agents: expected an integer from 1 to 10000"),
        ("seeds", 10**9, "seeds"),
        ("max_ringing", 10**9, "max_ringing"),
        ("wrap_seconds", {"dist": "uniform", "min": 0, "max": 1e308}, "wrap_seconds.max"),
        ("wrap_seconds", 10**400, "wrap_seconds: expected a finite number >= 0"),
        ("wrap_seconds", {"dist": "lognormal", "mean": 1e-6, "sd": 1e6}, "sd: at most 1000"),
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


def test_given_a_history_section_when_parsed_then_events_are_yesterdays_and_earlier():
    raw = copy.deepcopy(TINY)
    raw["history"] = {"days": 2, "answered_per_agent_hour": 20, "abandon_ratio": 0.025}
    sc = parse_scenario(raw)
    assert sc.history is not None
    answers, abandons = sc.history.events(sc.agents, sc.shift_seconds)
    per_day = round(20 * sc.agents * sc.shift_seconds / 3600)
    assert len(answers) == 2 * per_day
    assert len(abandons) == 2 * round(0.025 * per_day)
    assert answers == sorted(answers) and abandons == sorted(abandons)
    assert -2 * sc.shift_seconds <= answers[0] and answers[-1] < 0  # gap 0: yesterday just ended
    assert set(abandons) <= set(answers)


def test_given_a_gap_when_history_events_then_yesterday_ended_that_long_before_the_shift():
    raw = copy.deepcopy(TINY)
    raw["history"] = {
        "days": 1,
        "answered_per_agent_hour": 20,
        "abandon_ratio": 0.0,
        "gap_seconds": 57600,
    }
    sc = parse_scenario(raw)
    answers, abandons = sc.history.events(sc.agents, sc.shift_seconds)
    assert answers[-1] < -57600 and answers[0] >= -57600 - sc.shift_seconds
    assert abandons == []


def test_given_a_lunch_pause_when_parsed_then_it_happens_once_at_its_time():
    raw = copy.deepcopy(TINY)
    raw["pauses"] = [{"agent_fraction": 0.5, "at_seconds": 300, "for_seconds": 120}]
    (rule,) = parse_scenario(raw).pauses
    assert rule.at_seconds == 300 and rule.for_seconds == 120


@pytest.mark.parametrize(
    "data,message",
    [
        (b'{"name": "\xe9"}', "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deep|not valid JSON"),
        (b'{"agents": ' + b"9" * 5000 + b"}", "not valid JSON"),
        (b" " * (2 << 20), "larger than"),
    ],
)
def test_given_a_hostile_file_when_loaded_then_scenario_error(tmp_path, data, message):
    bad = tmp_path / "bad.json"
    bad.write_bytes(data)
    with pytest.raises(ScenarioError, match=message):
        load_scenario(bad)


JSONS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(["agents", "seeds", "shift_seconds", "ring_timeout_seconds",
                        "max_ringing", "wrap_seconds", "phases.0.p_human", "phases.0.talk_seconds",
                        "phases.0.from_seconds", "pauses", "history", "abandon_target",
                        "machine_detect_seconds", "connect_grace_seconds"]), JSONS)  # fmt: skip
def test_given_any_json_in_a_field_then_parsed_or_scenario_error(path, value):
    with contextlib.suppress(ScenarioError):
        parse_scenario(_broken(path, value))
