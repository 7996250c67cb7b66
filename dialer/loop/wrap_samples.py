"""Wrap-up samples for the pacing snapshot, learned from the agents' states tick by tick.

The policy estimates when an agent in wrap-up becomes free from recent
wrap-ups (censored: an agent still in wrap-up counts as "at least this
long"), as the simulator feeds it from its events. Live, a wrap-up ends when
the agent goes ready or pauses from the console; the dial loop sees each
agent's state and the instant it began every tick, so a wrap-up that began
at `since` and is seen over with the next state's `since` lasted the
difference. Kept in the dialer's memory: after a restart the policy starts
from its prior, as at the start of a shift.
"""

from __future__ import annotations

from collections.abc import Iterable

from dialer.pacing.samples import DurationLog
from dialer.pacing.snapshot import WRAP_UP, DurationSample


class WrapWatcher:
    """Feeds a `DurationLog` with the wrap-ups seen in successive agent lists."""

    def __init__(self, log: DurationLog | None = None) -> None:
        self.log = log or DurationLog()
        self._in_wrap: dict[int, float] = {}  # agent -> when its wrap-up began

    def observe(self, agents: Iterable[tuple[int, str, float]]) -> None:
        """One tick's agents as (agent id, state, since)."""
        seen = set()
        for agent_id, state, since in agents:
            seen.add(agent_id)
            began = self._in_wrap.get(agent_id)
            if began is not None and (state != WRAP_UP or since != began):
                # Over: it ended when the next state began (within a tick, if the
                # agent went through another state between two looks).
                self.log.end(agent_id, max(began, since))
                del self._in_wrap[agent_id]
            if state == WRAP_UP and agent_id not in self._in_wrap:
                self.log.start(agent_id, since)
                self._in_wrap[agent_id] = since
        # An agent gone from the list (logged out) in wrap-up never became free:
        # its interval stays open (censored) until it leaves the sample window.
        for agent_id in [a for a in self._in_wrap if a not in seen]:
            del self._in_wrap[agent_id]

    def samples(self, now: float) -> tuple[DurationSample, ...]:
        return self.log.samples(now)
