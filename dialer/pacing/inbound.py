"""How many agents outbound pacing must leave to inbound callers so their wait stays under target.

Inbound has priority: every agent who finishes a call goes to the inbound
queue first. So an inbound caller who arrives now is answered within the
target T if the agents kept free for inbound (the reserve) plus the agents
who finish a call within T cover everyone ahead of them and the caller. The
reserve is the smallest number of agents for which that fails with
probability at most `tolerance`, on average over a caller arriving at any
moment u of the next T seconds:

    mean over u of P(waiting + A_u + 1 > reserve + F) <= tolerance,
    A_u ~ Poisson(rate * u)  callers who arrived before u (ahead of this one),
    F ~ Poisson(m_T)         agents finishing a call within T of the arrival,

and, for each caller already waiting (oldest first, position j, waited w),
P(j + 1 > reserve + F_(T - w)) <= tolerance, with the freeing rate taken as
constant over the window (F_s ~ Poisson(m_T * s / T)).

The predictive policy asks this twice and keeps the larger answer: for the
campaign's wait target (tolerance 5 %), and for "at once" (2 s, tolerance
1 %). The target alone asks nothing of a large team, where someone frees up
within 20 s whatever happens, and callers there would still wait whenever
outbound answers bunch and take every free agent; "at once" keeps the agent
or two that answers them, and the policy keeps that reserve on top of the
margin it holds against outbound abandons.

Why not Erlang C: Erlang C sizes a pool of agents dedicated to inbound. In a
blended team nobody is dedicated; busy outbound agents free up all the time
and inbound takes them first, so a large team needs one agent free at most
while a five-agent team may need one or two. The expected number of agents finishing
within T (m_T) comes from the policy's handle-time estimators, so it already
carries the team size and how long each agent has been talking; a Poisson
with that mean is at least as likely to be short as the real sum of
independent chances, so the reserve errs on the safe side.

Pure functions: no clock, no randomness; the caller passes what it knows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

DEFAULT_TOLERANCE = 0.05
# "Answered at once": within this many seconds (an agent is free when the
# caller comes off the greeting), missed at most this often. A large team
# meets any 20 s target without a free agent; this is what keeps callers
# from waiting whenever outbound answers bunch.
DEFAULT_AT_ONCE_SECONDS = 2.0
DEFAULT_AT_ONCE_TOLERANCE = 0.01
# Where in the next T seconds a caller may arrive (fractions of T, midpoints).
ARRIVAL_MOMENTS = (0.125, 0.375, 0.625, 0.875)


def poisson_pmf(mean: float, n: int) -> list[float]:
    """P(X = k) for k in 0..n-1, X ~ Poisson(mean)."""
    if mean < 0 or math.isnan(mean):
        raise ValueError(f"Poisson mean must be >= 0, got {mean!r}")
    if n <= 0:
        return []
    out = [math.exp(-mean)]
    for k in range(1, n):
        out.append(out[-1] * mean / k)
    return out


def _support(mean: float) -> int:
    """Enough terms that the Poisson tail beyond them is negligible (< 1e-9)."""
    return int(mean + 10.0 * math.sqrt(mean) + 12)


def shortfall_probability(
    needed: int, arrivals_mean: float, reserve: int, freeing_mean: float
) -> float:
    """P(needed + Poisson(arrivals_mean) > reserve + Poisson(freeing_mean)), both independent."""
    if needed < 0 or reserve < 0:
        raise ValueError("needed and reserve must be >= 0")
    free_pmf = poisson_pmf(freeing_mean, _support(freeing_mean))
    # arrivals_above[k] = P(A > k); A > k always holds for k < 0.
    top = reserve + len(free_pmf)
    arrivals_pmf = poisson_pmf(arrivals_mean, max(1, top + 1))
    arrivals_above = []
    below = 0.0
    for p in arrivals_pmf:
        below += p
        arrivals_above.append(max(0.0, 1.0 - below))
    total = 0.0
    for freed, p_freed in enumerate(free_pmf):
        k = reserve + freed - needed  # the shortfall happens when A > k
        total += p_freed * (1.0 if k < 0 else arrivals_above[k])
    return min(1.0, total)


def inbound_reserve(
    *,
    rate_per_s: float,
    waited: Sequence[float],
    wait_target_s: float,
    freeing_within_target: float,
    tolerance: float = DEFAULT_TOLERANCE,
    max_reserve: int,
) -> int:
    """Agents to keep free for inbound now (0..max_reserve); see the module docstring.

    `waited`: seconds each queued inbound caller has waited; `freeing_within_target`:
    expected number of busy agents who finish a call within `wait_target_s`;
    `max_reserve`: the most that can be kept free (agents working the campaign).
    """
    if rate_per_s < 0 or math.isnan(rate_per_s):
        raise ValueError(f"inbound rate must be >= 0, got {rate_per_s!r}")
    if wait_target_s <= 0:
        raise ValueError("inbound wait target must be > 0 seconds")
    if not 0 < tolerance < 1:
        raise ValueError("tolerance must be in (0, 1)")
    if max_reserve <= 0 or (rate_per_s == 0 and not waited):
        return 0
    freeing = max(0.0, freeing_within_target)
    # Each check: a list of equally likely (needed, arrivals ahead, agents
    # freeing in the caller's time left), whose mean shortfall must stay
    # under the tolerance.
    checks: list[list[tuple[int, float, float]]] = []
    if rate_per_s > 0:
        checks.append(
            [(len(waited) + 1, rate_per_s * wait_target_s * u, freeing) for u in ARRIVAL_MOMENTS]
        )
    for position, w in enumerate(sorted(waited, reverse=True)):
        left = max(0.0, wait_target_s - w)
        checks.append([(position + 1, 0.0, freeing * left / wait_target_s)])
    reserve = 0
    for cases in checks:
        while reserve < max_reserve and (
            sum(shortfall_probability(n, a, reserve, f) for n, a, f in cases) / len(cases)
            > tolerance
        ):
            reserve += 1
    return reserve


def expected_freeing(busy_agents: int, mean_handle_s: float, seconds: float) -> float:
    """Agents expected to finish within `seconds` when all that is known is the mean handle time.

    A rough stand-in for the estimators (memoryless handle times) for a caller
    that has no per-agent elapsed times; the predictive policy uses its
    Kaplan-Meier tables instead.
    """
    if mean_handle_s <= 0:
        raise ValueError("mean handle time must be > 0 seconds")
    if busy_agents <= 0 or seconds <= 0:
        return 0.0
    return busy_agents * (1.0 - math.exp(-seconds / mean_handle_s))
