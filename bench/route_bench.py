"""Daily routes (field/routing.py): how long the shipped route is against the best
order found, and how long it takes to compute.

Small days (5-9 visits): against the exhaustive search (the optimum), for the
heuristic alone (`exact_up_to=0`) and for the shipped planner (exact up to 8).
Large days (50-200 visits): against the best of many random-restart local
searches with more kicks, and against the minimum spanning tree (a lower bound
of any open path through the same points: route / MST >= optimum ratio).
Points are uniform over a ~25 km square of Mexico City, or clustered in a few
neighbourhoods (how a territory's accounts usually lie).

    .venv/bin/python bench/route_bench.py [--cases 30] [--seeds 5] [--restarts 10]
        [--sizes 50,100,200] [--no-small]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from field.routing import (
    Matrix,
    Stop,
    _matrix,
    exhaustive,
    iterated_search,
    path_length,
    plan_route,
)

CENTRE = (19.40, -99.15)


def uniform(n: int, rng: random.Random) -> list[Stop]:
    return [
        Stop(i, CENTRE[0] + rng.uniform(-0.11, 0.11), CENTRE[1] + rng.uniform(-0.12, 0.12))
        for i in range(n)
    ]


def clustered(n: int, rng: random.Random) -> list[Stop]:
    hubs = [
        (CENTRE[0] + rng.uniform(-0.1, 0.1), CENTRE[1] + rng.uniform(-0.1, 0.1))
        for _ in range(max(2, n // 25))
    ]
    out = []
    for i in range(n):
        lat, lon = rng.choice(hubs)
        out.append(Stop(i, lat + rng.gauss(0, 0.008), lon + rng.gauss(0, 0.008)))
    return out


def mst_m(d: Matrix) -> float:
    """Prim's minimum spanning tree weight over all points of `d`."""
    n = len(d)
    best = [float("inf")] * n
    best[0] = 0.0
    done = [False] * n
    total = 0.0
    for _ in range(n):
        u = min((i for i in range(n) if not done[i]), key=best.__getitem__)
        done[u] = True
        total += best[u]
        for v in range(n):
            if not done[v] and d[u][v] < best[v]:
                best[v] = d[u][v]
    return total


def reference(stops: list[Stop], start: tuple[float, float], restarts: int, seed: int) -> float:
    d = _matrix([start, *[(s.lat, s.lon) for s in stops]])
    rng = random.Random(seed)
    best = float("inf")
    for _ in range(restarts):
        tail = list(range(1, len(stops) + 1))
        rng.shuffle(tail)
        best = min(best, path_length(iterated_search([0, *tail], d, 60, rng), d))
    return best


def small(cases: int) -> None:
    print("\nsmall days: route length / exhaustive optimum (start fixed and free)")
    print(f"{'visits':>6} {'cases':>5} | {'heuristic mean':>14} {'worst':>7} {'optimal':>8} |"
          f" {'shipped worst':>13} | {'exhaustive ms':>13}")  # fmt: skip
    rng = random.Random(7)
    for n in range(5, 10):
        heur, shipped, exact_ms = [], [], []
        for _ in range(cases):
            stops = uniform(n, rng)
            for start in (CENTRE, None):
                t0 = time.process_time()
                best = exhaustive(stops, start).length_m
                exact_ms.append((time.process_time() - t0) * 1000)
                heur.append(plan_route(stops, start, exact_up_to=0).length_m / best)
                shipped.append(plan_route(stops, start).length_m / best)
        optimal = sum(1 for r in heur if r < 1 + 1e-9) / len(heur)
        print(f"{n:>6} {len(heur):>5} | {statistics.mean(heur):>14.4f} {max(heur):>7.4f}"
              f" {optimal:>8.0%} | {max(shipped):>13.4f} | {statistics.median(exact_ms):>13.1f}")  # fmt: skip


def large(seeds: int, restarts: int, sizes: list[int]) -> None:
    print(f"\nlarge days: route / best of {restarts} random restarts (2-opt, Or-opt, 60 kicks)")
    print(f"{'visits':>6} {'layout':>9} {'seeds':>5} | {'route/best mean':>15} {'worst':>7} |"
          f" {'no kicks/best':>13} | {'route/MST':>9} | {'km':>6} | {'CPU s p50':>9}")  # fmt: skip
    for n in sizes:
        for layout in (uniform, clustered):
            ratios, nn, lower, km, cpu = [], [], [], [], []
            for seed in range(seeds):
                stops = layout(n, random.Random(1000 * n + seed))
                t0 = time.process_time()
                route = plan_route(stops, CENTRE)
                cpu.append(time.process_time() - t0)
                best = min(reference(stops, CENTRE, restarts, seed), route.length_m)
                ratios.append(route.length_m / best)
                nn.append(plan_route(stops, CENTRE, kicks=0, exact_up_to=0).length_m / best)
                d = _matrix([CENTRE, *[(s.lat, s.lon) for s in stops]])
                lower.append(route.length_m / mst_m(d))
                km.append(route.length_m / 1000)
            print(f"{n:>6} {layout.__name__:>9} {seeds:>5} | {statistics.mean(ratios):>15.4f}"
                  f" {max(ratios):>7.4f} | {statistics.mean(nn):>13.4f} |"
                  f" {statistics.mean(lower):>9.3f} | {statistics.mean(km):>6.1f} |"
                  f" {statistics.median(cpu):>9.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=30, help="small days per size")
    parser.add_argument("--seeds", type=int, default=5, help="large days per size and layout")
    parser.add_argument("--restarts", type=int, default=10, help="restarts of the reference")
    parser.add_argument("--sizes", default="50,100,200", help="large days' visit counts")
    parser.add_argument("--no-small", action="store_true", help="skip the small days")
    args = parser.parse_args()
    if not args.no_small:
        small(args.cases)
    large(args.seeds, args.restarts, [int(n) for n in args.sizes.split(",")])


if __name__ == "__main__":
    main()
