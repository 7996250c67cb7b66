"""Scenarios the pacing policies were not tuned on: drawn at random from a seed.

    nice .venv/bin/python bench/pacing/run.py --unseen 6 --unseen-seed 2027 --seeds 10 --jobs 2
    # small teams only (3-15 agents), where one abandon breaks an hour:
    nice .venv/bin/python bench/pacing/run.py --unseen 10 --unseen-seed 77 --unseen-max-agents 15 \
        --only-unseen --no-reference --policy predictive --seeds 10 --jobs 2

Each draw: a team of 3-200 agents (log-uniform), a person-answer rate of
5-60 %, a drift up or down (x0.4 to x2.5, capped at 60 %) at a random hour,
talk times lognormal with mean 120-300 s and a coefficient of variation of
0.5-2 (2: heavy tail), wrap-up 10-40 s, 0-30 % of the team on periodic
10-minute breaks and, half of the time, a lunch hour for 30-50 % of it.
The draw is a pure function of the seed, so a table can be re-measured.
"""

from __future__ import annotations

import math
from random import Random
from typing import Any

from dialer.pacing.scenario import Scenario, parse_scenario

SHIFT = 28800


def _phase(start: float, human: float, talk_mean: float, talk_cv: float) -> dict[str, Any]:
    machine = min(0.2, 0.9 - human) * 0.5
    return {
        "from_seconds": start,
        "p_human": round(human, 4),
        "p_machine": round(machine, 4),
        "p_busy": 0.08,
        "p_failed": 0.07,
        "answer_seconds": {"dist": "lognormal", "mean": 9, "sd": 5},
        "talk_seconds": {"dist": "lognormal", "mean": talk_mean, "sd": talk_mean * talk_cv},
    }


def draw(rng: Random, index: int) -> dict[str, Any]:
    agents = int(round(math.exp(rng.uniform(math.log(3), math.log(200)))))
    human = rng.uniform(0.05, 0.60)
    drift = math.exp(rng.uniform(math.log(0.4), math.log(2.5)))
    later = min(0.60, max(0.03, human * drift))
    at = rng.randrange(1, 8) * 3600
    talk_mean, talk_cv = rng.uniform(120, 300), rng.uniform(0.5, 2.0)
    pauses: list[dict[str, Any]] = []
    breaks = round(rng.uniform(0.0, 0.3), 2)
    if breaks * agents >= 1:
        pauses.append({"agent_fraction": breaks, "every_seconds": 5400, "for_seconds": 600})
    if rng.random() < 0.5:
        lunch = round(rng.uniform(0.3, 0.5), 2)
        pauses.append(
            {"agent_fraction": lunch, "at_seconds": rng.randrange(3, 6) * 3600, "for_seconds": 3600}
        )
    name = (
        f"unseen-{index}: {agents} agents, {100 * human:.0f}%->{100 * later:.0f}% at "
        f"{at // 3600} h, talk {talk_mean:.0f} s cv {talk_cv:.1f}"
    )
    return {
        "name": name,
        "agents": agents,
        "shift_seconds": SHIFT,
        "ring_timeout_seconds": 25,
        "connect_grace_seconds": 2,
        "abandon_target": 0.03,
        "max_ringing": agents * 6,
        "phases": [_phase(0, human, talk_mean, talk_cv), _phase(at, later, talk_mean, talk_cv)],
        "wrap_seconds": {"dist": "lognormal", "mean": rng.uniform(10, 40), "sd": 6},
        "machine_detect_seconds": {"dist": "uniform", "min": 2, "max": 4},
        "pauses": pauses,
    }


# Draws looked at before `unseen` gives up on a team-size limit nothing meets.
MAX_DRAWS = 10_000


def unseen(count: int, seed: int, max_agents: int | None = None) -> list[Scenario]:
    """The first `count` draws of `seed`, or with `max_agents` the first `count` teams that small.

    The filter keeps each draw's index in its name (unseen-8 is the ninth draw
    of the stream whatever the limit), so a row names the same scenario in
    every table of that seed. Small teams are where one abandon breaks an
    hour, and the log-uniform team size draws few of them.
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    if max_agents is not None and max_agents < 3:
        raise ValueError("max_agents must be >= 3 (the smallest team drawn)")
    rng = Random(seed)
    out: list[Scenario] = []
    index = 0
    while len(out) < count:
        if index >= MAX_DRAWS:
            raise ValueError(f"fewer than {count} teams of at most {max_agents} agents")
        d = draw(rng, index)
        index += 1
        if max_agents is None or d["agents"] <= max_agents:
            out.append(parse_scenario(d))
    return out
