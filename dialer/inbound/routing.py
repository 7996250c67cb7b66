"""Which agents may take an inbound call, in order. Pure: agent views in, agent ids out.

The campaign's own (or its skill group's) ready agents, longest idle first;
once the caller has waited past the campaign's limit, any ready agent of any
campaign, still longest idle first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ReadyAgent:
    agent_id: int
    campaign: str
    ready_since: float
    skills: frozenset[str] = frozenset()


def candidates(agents: Iterable[ReadyAgent], campaign: str, skill_group: str | None,
               waited: float, overflow_after: float) -> list[int]:  # fmt: skip
    """Agent ids to try, best first."""
    pool = list(agents)
    if skill_group:
        own = [a for a in pool if skill_group in a.skills]
    else:
        own = [a for a in pool if a.campaign == campaign]
    own.sort(key=lambda a: (a.ready_since, a.agent_id))
    ordered = [a.agent_id for a in own]
    if waited >= overflow_after:
        rest = sorted((a for a in pool if a.agent_id not in set(ordered)),
                      key=lambda a: (a.ready_since, a.agent_id))  # fmt: skip
        ordered += [a.agent_id for a in rest]
    return ordered
