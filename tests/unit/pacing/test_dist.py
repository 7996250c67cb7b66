"""The one duration distribution of pacing and pbxsim scenarios (dialer/pacing/dist.py)."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from dialer.pacing.dist import Dist, DistError, parse_dist


class ScenarioError(ValueError):
    pass


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (12, Dist("constant", 12.0)),
        (0.5, Dist("constant", 0.5)),
        ({"dist": "constant", "value": 3}, Dist("constant", 3.0)),
        ({"dist": "uniform", "min": 1, "max": 4}, Dist("uniform", 1.0, 4.0)),
        ({"dist": "uniform", "min": 2, "max": 2}, Dist("uniform", 2.0, 2.0)),
        ({"dist": "exponential", "mean": 30}, Dist("exponential", 30.0)),
    ],
)
def test_given_a_distribution_then_it_is_read(raw: object, expected: Dist) -> None:
    assert parse_dist(raw, "talk_seconds") == expected


def test_given_a_lognormal_then_its_samples_have_the_mean_and_sd_asked_for() -> None:
    dist = parse_dist({"dist": "lognormal", "mean": 60, "sd": 20}, "talk_seconds")
    rng = random.Random(7)
    samples = [dist.sample(rng) for _ in range(20000)]
    assert math.isclose(statistics.fmean(samples), 60, rel_tol=0.03)
    assert math.isclose(statistics.stdev(samples), 20, rel_tol=0.08)


def test_given_each_kind_then_samples_stay_in_range() -> None:
    rng = random.Random(1)
    uniform = parse_dist({"dist": "uniform", "min": 1, "max": 4}, "x")
    assert all(1 <= uniform.sample(rng) <= 4 for _ in range(1000))
    assert parse_dist(5, "x").sample(rng) == 5
    assert all(
        parse_dist({"dist": "exponential", "mean": 2}, "x").sample(rng) >= 0 for _ in range(100)
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (True, r"talk_seconds: expected a number or an object"),
        (-1, r"talk_seconds: expected a finite number >= 0"),
        (float("nan"), r"talk_seconds: expected a finite number >= 0"),
        ("10", r"talk_seconds: expected a number or an object"),
        ({"mean": 3}, r"with a 'dist' key"),
        ({"dist": "gamma", "mean": 3}, r"talk_seconds\.dist: unknown dist 'gamma'"),
        ({"dist": "constant"}, r"talk_seconds\.value: missing"),
        ({"dist": "constant", "value": -2}, r"talk_seconds\.value: must be >= 0"),
        ({"dist": "constant", "value": "3"}, r"talk_seconds\.value: expected a finite number"),
        ({"dist": "constant", "value": False}, r"talk_seconds\.value: expected a finite number"),
        ({"dist": "uniform", "min": 5, "max": 1}, r"talk_seconds: max must be >= min"),
        ({"dist": "uniform", "min": 1}, r"talk_seconds\.max: missing"),
        ({"dist": "exponential", "mean": 0}, r"talk_seconds\.mean: must be > 0"),
        ({"dist": "lognormal", "mean": 10}, r"talk_seconds\.sd: missing"),
        ({"dist": "lognormal", "sd": 3}, r"talk_seconds\.mean: missing"),
        (
            {"dist": "lognormal", "mean": float("inf"), "sd": 1},
            r"talk_seconds\.mean: expected a finite",
        ),
    ],
)
def test_given_bad_input_then_the_callers_error_names_the_field(raw: object, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_dist(raw, "talk_seconds", ScenarioError)
    with pytest.raises(DistError, match=message):
        parse_dist(raw, "talk_seconds")
