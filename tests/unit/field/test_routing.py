"""Daily routes: every visit once, in an order close to the shortest walk."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from field.routing import (
    EXHAUSTIVE_LIMIT,
    Matrix,
    Stop,
    _matrix,
    exhaustive,
    iterated_search,
    path_length,
    plan_route,
    replan,
)
from store.geo import distance_m

COYOACAN = (19.35, -99.16)


def scatter(n: int, seed: int, spread: float = 0.12) -> list[Stop]:
    rng = random.Random(seed)
    return [
        Stop(1000 + i, COYOACAN[0] + rng.uniform(-spread, spread),
             COYOACAN[1] + rng.uniform(-spread, spread))
        for i in range(n)
    ]  # fmt: skip


def test_given_no_stops_then_empty_route() -> None:
    route = plan_route([])
    assert route.stops == () and route.length_m == 0


def test_given_one_stop_then_the_walk_from_the_start_is_its_leg() -> None:
    stop = Stop(7, 19.36, -99.16)
    assert plan_route([stop]).length_m == 0
    assert plan_route([stop], COYOACAN).length_m == pytest.approx(
        distance_m(*COYOACAN, 19.36, -99.16)
    )


def test_given_stops_on_a_line_then_walked_in_line_order() -> None:
    stops = [Stop(k, 19.30 + 0.01 * k, -99.16) for k in (3, 0, 4, 1, 2)]
    assert plan_route(stops, (19.29, -99.16)).keys == [0, 1, 2, 3, 4]
    assert plan_route(stops).keys in ([0, 1, 2, 3, 4], [4, 3, 2, 1, 0])


@pytest.mark.parametrize("seed", range(12))
def test_given_small_days_then_the_heuristic_is_within_25_percent_of_exhaustive(seed: int) -> None:
    stops = scatter(8, seed)  # exact_up_to=0: the heuristic runs, not the exact search
    for start in (None, COYOACAN):
        best = exhaustive(stops, start).length_m
        heuristic = plan_route(stops, start, exact_up_to=0).length_m
        assert best <= heuristic + 1e-6
        assert heuristic <= 1.25 * best, (seed, start, heuristic / best)


def _best_of_restarts(stops: list[Stop], restarts: int) -> float:
    """A reference: local search (2-opt, Or-opt, kicks) from random orders, the best kept."""
    d: Matrix = _matrix([COYOACAN, *[(s.lat, s.lon) for s in stops]])
    rng = random.Random(99)
    best = float("inf")
    for _ in range(restarts):
        tail = list(range(1, len(stops) + 1))
        rng.shuffle(tail)
        best = min(best, path_length(iterated_search([0, *tail], d, 5, rng), d))
    return best


def test_given_200_visits_then_every_visit_once_and_within_25_percent_of_the_best_found() -> None:
    stops = scatter(200, 2026)
    route = plan_route(stops, COYOACAN)
    assert sorted(route.keys) == sorted(s.key for s in stops)
    assert route.length_m == pytest.approx(sum(route.legs_m))
    reference = min(_best_of_restarts(stops, 3), route.length_m)
    assert route.length_m <= 1.25 * reference
    # And far shorter than the order the accounts came in.
    given_order = path_length(
        list(range(201)), _matrix([COYOACAN, *[(s.lat, s.lon) for s in stops]])
    )
    assert route.length_m < 0.5 * given_order


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(19.2, 19.5), st.floats(-99.3, -99.0)), min_size=1, max_size=30))
def test_given_any_points_then_each_visit_exactly_once_and_legs_add_up(
    points: list[tuple[float, float]],
) -> None:
    stops = [Stop(i, lat, lon) for i, (lat, lon) in enumerate(points)]
    route = plan_route(stops, COYOACAN)
    assert sorted(route.keys) == list(range(len(points)))
    assert route.length_m == pytest.approx(sum(route.legs_m))
    assert route.legs_m[0] == pytest.approx(
        distance_m(*COYOACAN, route.stops[0].lat, route.stops[0].lon)
    )


def test_given_same_stops_then_same_route() -> None:
    stops = scatter(60, 5)
    assert plan_route(stops).keys == plan_route(list(stops)).keys


def test_given_a_skipped_visit_then_replanned_from_here_without_it() -> None:
    stops = scatter(12, 3)
    here = (stops[4].lat, stops[4].lon)
    rest = replan(stops[5:], here, skipped=stops[7].key)
    assert stops[7].key not in rest.keys
    assert sorted(rest.keys) == sorted(s.key for s in stops[5:] if s.key != stops[7].key)
    assert rest.legs_m[0] == pytest.approx(distance_m(*here, rest.stops[0].lat, rest.stops[0].lon))


def test_given_too_many_stops_then_exhaustive_refuses() -> None:
    with pytest.raises(ValueError, match="exhaustive search"):
        exhaustive(scatter(EXHAUSTIVE_LIMIT + 1, 1))
