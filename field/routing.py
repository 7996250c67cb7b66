"""A field agent's daily route: the order of the day's visits that shortens the walk.

Pure. An open path (the agent does not come back) from a start point when one
is known (where the agent is, or the first visit otherwise): nearest neighbour,
then 2-opt and Or-opt moves until no move shortens it. Distances are
great-circle metres between the addresses' coordinates; streets make the walk
longer than that, in the same proportion for every order, so the order holds.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

from store.geo import distance_m

# Past this many stops the exhaustive search is refused: 9! orders already.
EXHAUSTIVE_LIMIT = 9
# Days this short are ordered by trying every order (8! = 40320: tens of milliseconds).
EXACT_UP_TO = 8
# Or-opt tries to put a run of stops next to this many of its nearest neighbours.
NEIGHBOURS = 12
# Rounds of the iterated local search after the first local optimum.
KICKS = 20


@dataclass(frozen=True)
class Stop:
    key: int  # the visit (or account) id
    lat: float
    lon: float


@dataclass(frozen=True)
class Route:
    stops: tuple[Stop, ...]
    legs_m: tuple[float, ...]  # legs_m[i]: from the previous point (or the start) to stops[i]

    @property
    def length_m(self) -> float:
        return sum(self.legs_m)

    @property
    def keys(self) -> list[int]:
        return [s.key for s in self.stops]


Matrix = list[list[float]]


def _matrix(points: Sequence[tuple[float, float]]) -> Matrix:
    n = len(points)
    out = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            d = distance_m(*points[i], *points[j])
            out[i][j] = out[j][i] = d
    return out


def path_length(order: Sequence[int], d: Matrix) -> float:
    return sum(d[a][b] for a, b in itertools.pairwise(order))


def _nearest_neighbour(d: Matrix, first: int, offset: int = 0) -> list[int]:
    """Points `offset`.. of `d` (rows are points, columns shifted by `offset`), in
    nearest-neighbour order from `first`; returned as indices from 0."""
    n = len(d)
    order, left = [first], set(range(n)) - {first}
    while left:
        here = d[order[-1]]
        nxt = min(left, key=lambda j: (here[j + offset], j))
        order.append(nxt)
        left.remove(nxt)
    return order


def _two_opt(order: list[int], d: Matrix) -> bool:
    """One pass of 2-opt on an open path whose first point stays first; True if improved."""
    n, improved = len(order), False
    for i in range(1, n - 1):
        a, b = order[i - 1], order[i]
        dab = d[a][b]
        for j in range(i + 1, n):
            c = order[j]
            if j + 1 < n:
                e = order[j + 1]
                delta = d[a][c] + d[b][e] - dab - d[c][e]
            else:  # reversing the tail: no edge after it
                delta = d[a][c] - dab
            if delta < -1e-9:
                order[i : j + 1] = reversed(order[i : j + 1])
                improved = True
                b = order[i]
                dab = d[a][b]
    return improved


def _neighbours(d: Matrix, k: int = NEIGHBOURS) -> list[list[int]]:
    return [
        sorted((j for j in range(len(d)) if j != i), key=lambda j: d[i][j])[:k]
        for i in range(len(d))
    ]


def _or_opt(order: list[int], d: Matrix, near: list[list[int]]) -> bool:
    """Move runs of 1-3 consecutive stops (either way round) next to one of their
    nearest neighbours wherever that shortens the path; True if any move did."""
    improved = False
    for size in (1, 2, 3):
        i = 1
        while i + size <= len(order):
            if _move_run(order, d, near, i, size):
                improved = True
            else:
                i += 1
    return improved


def _move_run(order: list[int], d: Matrix, near: list[list[int]], i: int, size: int) -> bool:
    n = len(order)
    seg = order[i : i + size]
    prev = order[i - 1]
    after = order[i + size] if i + size < n else None
    removed = d[prev][seg[0]] + (d[seg[-1]][after] - d[prev][after] if after is not None else 0.0)
    rest = order[:i] + order[i + size :]
    where = {node: k for k, node in enumerate(rest)}
    best_gain, best_k, best_rev = 1e-9, -1, False
    candidates = {where[x] for end in (seg[0], seg[-1]) for x in near[end] if x in where}
    candidates |= {k - 1 for k in candidates if k > 0}  # before a neighbour as well as after
    for k in candidates:
        x = rest[k]
        y = rest[k + 1] if k + 1 < len(rest) else None
        base = -d[x][y] if y is not None else 0.0
        for rev in (False, True):
            s0, s1 = (seg[-1], seg[0]) if rev else (seg[0], seg[-1])
            gain = removed - (d[x][s0] + (d[s1][y] if y is not None else 0.0) + base)
            if gain > best_gain:
                best_gain, best_k, best_rev = gain, k, rev
    if best_k < 0:
        return False
    moved = list(reversed(seg)) if best_rev else seg
    order[:] = rest[: best_k + 1] + moved + rest[best_k + 1 :]
    return True


def improve(order: list[int], d: Matrix, max_rounds: int = 1000) -> list[int]:
    """2-opt and Or-opt until neither shortens the path (the first point stays)."""
    near = _neighbours(d)
    for _ in range(max_rounds):
        if not (_two_opt(order, d) | _or_opt(order, d, near)):
            break
    return order


def plan_route(
    stops: Sequence[Stop],
    start: tuple[float, float] | None = None,
    kicks: int = KICKS,
    exact_up_to: int = EXACT_UP_TO,
) -> Route:
    """The day's visits in walking order from `start` (None: from the best first stop).

    Up to `exact_up_to` stops, every order is tried. Beyond: nearest neighbour,
    improved by 2-opt and Or-opt, then `kicks` rounds of an iterated local search
    (a double-bridge change of the best order, improved again, kept when
    shorter). Deterministic: the same stops give the same route.
    """
    if not stops:
        return Route((), ())
    if len(stops) <= min(exact_up_to, EXHAUSTIVE_LIMIT):
        return exhaustive(stops, start)
    points = [(s.lat, s.lon) for s in stops]
    n = len(points)
    if start is not None:
        d = _matrix([start, *points])
        first = _nearest_neighbour(d, 0)
    else:
        # A free start: a virtual point 0 at distance 0 from every stop; the walk
        # starts from the stop farthest from the others' centre (an end of it).
        d = [[0.0] * (n + 1), *[[0.0, *row] for row in _matrix(points)]]
        centre = (sum(p[0] for p in points) / n, sum(p[1] for p in points) / n)
        far = max(range(n), key=lambda i: (distance_m(*centre, *points[i]), -i))
        first = [0, *[i + 1 for i in _nearest_neighbour(d[1:], far, offset=1)]]
    order = iterated_search(first, d, kicks, random.Random(n))
    return _route(stops, [i - 1 for i in order[1:]], start)


def iterated_search(order: list[int], d: Matrix, kicks: int, rng: random.Random) -> list[int]:
    """Local search from `order`, then `kicks` perturbations of the best (point 0 stays first)."""
    best = improve(list(order), d)
    best_len = path_length(best, d)
    if len(best) < 4:  # three points or fewer: no double bridge to make
        return best
    for _ in range(kicks):
        candidate = improve(_double_bridge(best, rng), d)
        length = path_length(candidate, d)
        if length < best_len - 1e-9:
            best, best_len = candidate, length
    return best


def _double_bridge(order: list[int], rng: random.Random) -> list[int]:
    """A + C + B + D: a change 2-opt cannot undo in one move."""
    p1, p2, p3 = sorted(rng.sample(range(1, len(order)), 3))
    return order[:p1] + order[p2:p3] + order[p1:p2] + order[p3:]


def _route(
    stops: Sequence[Stop], chosen: Sequence[int], start: tuple[float, float] | None
) -> Route:
    ordered = tuple(stops[i] for i in chosen)
    legs: list[float] = []
    here = start
    for s in ordered:
        legs.append(0.0 if here is None else distance_m(*here, s.lat, s.lon))
        here = (s.lat, s.lon)
    return Route(ordered, tuple(legs))


def replan(
    remaining: Sequence[Stop], here: tuple[float, float] | None, skipped: int | None = None
) -> Route:
    """The rest of the day after a visit ends or is skipped: the stops not yet
    visited (without `skipped`), from where the agent is now."""
    return plan_route([s for s in remaining if s.key != skipped], here)


def exhaustive(stops: Sequence[Stop], start: tuple[float, float] | None = None) -> Route:
    """The shortest order by trying every one: for small cases (bench, tests) only."""
    if len(stops) > EXHAUSTIVE_LIMIT:
        raise ValueError(f"exhaustive search is for {EXHAUSTIVE_LIMIT} stops or fewer")
    if not stops:
        return Route((), ())
    base = [start] if start is not None else []
    d = _matrix([*base, *[(s.lat, s.lon) for s in stops]])
    offset = len(base)
    best: tuple[int, ...] = ()
    best_len = float("inf")
    for perm in itertools.permutations(range(offset, offset + len(stops))):
        length = path_length(([0] if base else []) + list(perm), d)
        if length < best_len:
            best, best_len = perm, length
    return _route(stops, [i - offset for i in best], start)
