"""The pacing snapshot of one campaign's floor, built each tick: agents, every
dialer's calls in flight, the abandonment windows (rebuilt from SQL when Redis lost
them), talk, wrap-up and ring samples, and the inbound callers its agents owe first."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from dialer import attempt_store as store
from dialer.agent_state import AgentSnapshot, AgentState
from dialer.break_store import load_rules
from dialer.call_state import Call, CallState
from dialer.floor import SharedFloor
from dialer.inbound.board import snapshot_fields
from dialer.inbound.routing import callers_for
from dialer.loop.break_cache import BreakCache
from dialer.loop.context import LoopContext
from dialer.loop.wrap_samples import WrapWatcher
from dialer.pacing.snapshot import AgentView, RingingCall, Snapshot
from dialer.pause_rule import wait_bound
from dialer.stats import WINDOW_LABELS, AttemptTimes, WindowCounts
from metrics import definitions as m

log = logging.getLogger(__name__)

AGENT_STATES = ("ready", "reserved", "talking", "wrap_up", "paused", "no_audio", "pausing")


# In a call or its wrap-up: a pause kept for after it (`pause_after`) means the agent
# will not come free for the floor when it ends.
_BUSY_STATES = frozenset({AgentState.reserved, AgentState.talking, AgentState.wrap_up})


def policy_state(agent: AgentSnapshot) -> str:
    """An agent's state as the pacing policy reads it: a pausing agent is paused (no
    new call is placed on their account; the calls they wait for are counted ringing),
    and so is one in a call who asked for a pause after it: the policy must not count
    on them coming free (the simulator's agents whose break comes due in a call)."""
    if agent.state is AgentState.pausing:
        return AgentState.paused.value
    if agent.pause_after and agent.state in _BUSY_STATES:
        return AgentState.paused.value
    return agent.state.value


def agent_view(agent: AgentSnapshot, next_break: tuple[float, float] | None) -> AgentView:
    """The agent as the policy sees them, with their next scheduled break if any."""
    if next_break is None:
        return AgentView(policy_state(agent), agent.since)
    return AgentView(policy_state(agent), agent.since, next_break[0], next_break[1])


class PacingView:
    def __init__(self, ctx: LoopContext, floor: SharedFloor) -> None:
        self.ctx = ctx
        self.floor = floor
        self.window_counts: tuple[WindowCounts, ...] = ()  # the wallboard's, from the last snapshot
        self.own_inbound_waits: tuple[float, ...] = ()  # the wallboard's: this campaign's callers
        self._stats_built = False  # rebuilt from SQL once per start, then when lost
        self.wraps = WrapWatcher()  # wrap-up samples, as the simulator's log gives them
        # Each agent's next scheduled break (the supervisors' plan, from SQL).
        self.breaks = BreakCache(lambda: asyncio.to_thread(load_rules, ctx.sql))

    def own_calls(self) -> Iterable[Call]:
        return [c.call for c in self.ctx.calls.values()]

    async def publish_floor(self) -> None:
        """This dialer's calls in flight, for every dialer's next decision, and how long
        one of them may need an agent (a pausing agent's deadline, from this dialer's
        own ring timeout and connect grace)."""
        options = self.ctx.options
        bound = wait_bound(options.ring_timeout_seconds, options.connect_grace_seconds)
        await self.floor.publish(self.own_calls(), bound)

    async def _stats_from_sql(self, now: float) -> None:
        """The abandonment windows and pacing samples rebuilt from call_attempts when
        this loop starts and whenever Redis has lost them, before they are read: pacing
        and the wallboard never see a 0 % that is only a flushed key."""
        ctx = self.ctx

        async def load(answered_since: float, ended_since: float) -> list[AttemptTimes]:
            return await asyncio.to_thread(store.ended_attempts, ctx.sql, ctx.campaign.id,
                                           answered_since, ended_since)  # fmt: skip

        added = await ctx.stats.ensure_built(now, load, force=not self._stats_built)
        if not self._stats_built or added:
            log.info("dialer %s: abandonment windows and pacing samples rebuilt from %d "
                     "attempt(s)", ctx.name, added)  # fmt: skip
        self._stats_built = True

    async def snapshot(self, now: float, false_positive_ratio: float) -> Snapshot:
        ctx = self.ctx
        name, campaign = ctx.name, ctx.campaign
        agents = await ctx.agents.list(name)
        self.wraps.observe((a.agent_id, a.state.value, a.since) for a in agents)
        await self._stats_from_sql(now)
        ring_samples, talk_samples = await ctx.stats.samples(now)
        self.window_counts = await ctx.stats.windows(now)
        # Pacing steers on the legal figure; the early hang-ups are shown beside it.
        abandonment = tuple(c.legal(false_positive_ratio) for c in self.window_counts)
        for c, w in zip(self.window_counts, abandonment, strict=True):
            if w.seconds in WINDOW_LABELS:
                label = WINDOW_LABELS[w.seconds]
                if w.human_answered:
                    m.ABANDONMENT_RATIO.labels(name, label).set(w.abandoned / w.human_answered)
                m.EARLY_HANGUP_RATIO.labels(name, label).set(c.early_ratio)
        target = float(campaign.abandon_target)
        m.ABANDONMENT_TARGET.labels(name).set(target)
        by_state: dict[str, int] = {}
        for a in agents:
            by_state[a.state.value] = by_state.get(a.state.value, 0) + 1
        for state in AGENT_STATES:
            m.AGENTS_BY_STATE.labels(name, state).set(by_state.get(state, 0))
        # The floor: every dialer's calls in flight (this one's published first), so
        # several dialers on the campaign pace as one (dialer/floor.py).
        await self.publish_floor()
        view = await self.floor.read()
        # Pausing agents whose calls are over (every dialer's) begin their pause now.
        agents = await ctx.agents.settle_pausing(agents, view.in_flight, now)
        calls = ctx.calls.values()
        m.CALLS_IN_FLIGHT.labels(name, "ringing").set(sum(1 for c in calls if c.is_ringing))
        m.CALLS_IN_FLIGHT.labels(name, "connected").set(
            sum(1 for c in calls if c.state is CallState.bridged)
        )
        directory = ctx.directory
        inbound, elsewhere = await snapshot_fields(ctx.inbound, name, campaign.config,
                                                   campaign.country, now,
                                                   list(directory.rules))  # fmt: skip
        self.own_inbound_waits = inbound.get("inbound_waiting", ())
        if elsewhere:
            # Other campaigns' callers this campaign's agents may take (their skill group,
            # or past their overflow limit) come before its outbound calls too.
            skills = frozenset().union(*(directory.skills_of(a.agent_id) for a in agents))
            inbound["inbound_waiting"] = callers_for(
                name, skills, {**elsewhere, name: self.own_inbound_waits},
                directory.rules)  # fmt: skip
        coming = await self.breaks.next_breaks((a.agent_id for a in agents), now)
        return Snapshot(
            now=now,
            agents=tuple(agent_view(a, coming.get(a.agent_id)) for a in agents),
            ringing=tuple(RingingCall(at) for at in view.ringing),
            waiting=view.waiting,
            talk_samples=talk_samples,
            wrap_samples=self.wraps.samples(now),
            ring_samples=ring_samples,
            stats_at=now - now % 30,
            abandonment=abandonment,
            abandon_target=target,
            connect_grace_seconds=ctx.options.connect_grace_seconds,
            max_ringing=ctx.options.max_ringing,
            **inbound,
        )
