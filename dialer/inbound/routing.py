"""Which agents may take an inbound call, in order. Pure: agent views in, agent ids out.

The campaign's own (or its skill group's) ready agents, longest idle first;
once the caller has waited past the campaign's limit, any ready agent of any
campaign, still longest idle first. The same rule tells the outbound dial loop
which of its ready agents an inbound caller is owed (`owes_inbound`), and its
pacing which callers its agents may have to serve (`callers_for`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ReadyAgent:
    agent_id: int
    campaign: str
    ready_since: float
    skills: frozenset[str] = frozenset()


@dataclass(frozen=True)
class QueueRule:
    """How the callers of one campaign are routed (its inbound settings)."""

    campaign: str
    skill_group: str | None
    overflow_after: float


def _own(agent_campaign: str, agent_skills: frozenset[str], campaign: str,
         skill_group: str | None) -> bool:  # fmt: skip
    """The agent is one of the campaign's first choices: in its skill group, or, when
    it names none, logged in to it."""
    return skill_group in agent_skills if skill_group else agent_campaign == campaign


def may_serve(agent_campaign: str, agent_skills: frozenset[str], rule: QueueRule,
              waited: float) -> bool:  # fmt: skip
    """An agent logged in to `agent_campaign` with `agent_skills` may take a caller of
    `rule.campaign` who has waited `waited` seconds in the queue."""
    return waited >= rule.overflow_after or _own(agent_campaign, agent_skills, rule.campaign,
                                                 rule.skill_group)  # fmt: skip


def owes_inbound(agent_campaign: str, agent_skills: frozenset[str],
                 oldest_waits: Mapping[str, float], rules: Mapping[str, QueueRule]) -> bool:  # fmt: skip
    """A ready agent goes to inbound before any outbound call: a caller waits whom the
    agent may take (`may_serve`), or the agent's own campaign has callers waiting
    (whether or not it names a skill group: its agents stay free for them).
    `oldest_waits`: campaign -> the wait of its longest-waiting caller, for the
    campaigns with callers queued; `rules`: the routing of each campaign."""
    for campaign, waited in oldest_waits.items():
        if campaign == agent_campaign:
            return True
        rule = rules.get(campaign)
        if rule is not None and may_serve(agent_campaign, agent_skills, rule, waited):
            return True
    return False


def callers_for(campaign: str, skills: frozenset[str], waits: Mapping[str, Iterable[float]],
                rules: Mapping[str, QueueRule]) -> tuple[float, ...]:  # fmt: skip
    """The waits of the queued callers a campaign's agents may have to serve: all of its
    own, and another campaign's callers that an agent of this campaign with one of
    `skills` (the union of its logged-in agents' groups) may take."""
    out = list(waits.get(campaign, ()))
    for other, queued in waits.items():
        rule = rules.get(other)
        if other == campaign or rule is None:
            continue
        out += [w for w in queued if may_serve(campaign, skills, rule, w)]
    return tuple(out)


def candidates(agents: Iterable[ReadyAgent], campaign: str, skill_group: str | None,
               waited: float, overflow_after: float) -> list[int]:  # fmt: skip
    """Agent ids to try, best first."""
    pool = list(agents)
    own = [a for a in pool if _own(a.campaign, a.skills, campaign, skill_group)]
    own.sort(key=lambda a: (a.ready_since, a.agent_id))
    ordered = [a.agent_id for a in own]
    if waited >= overflow_after:
        rest = sorted((a for a in pool if a.agent_id not in set(ordered)),
                      key=lambda a: (a.ready_since, a.agent_id))  # fmt: skip
        ordered += [a.agent_id for a in rest]
    return ordered
