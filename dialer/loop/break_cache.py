"""Each agent's next scheduled break for the pacing snapshot (AgentView.break_at,
break_seconds), from the break plan in SQL, read again at most every REFRESH_SECONDS.

SQL is the truth and the plan changes seldom (a supervisor's page): a copy in memory
a minute old at most is what the pacing reads each tick. When SQL cannot be read the
last copy is kept (none before the first read: the policy then paces as it did
without the plan), and the read is tried again at the next refresh."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable

from sqlalchemy.exc import SQLAlchemyError

from dialer.break_plan import BreakRule, next_break

log = logging.getLogger(__name__)

REFRESH_SECONDS = 45.0

Loader = Callable[[], Awaitable[list[BreakRule]]]


class BreakCache:
    def __init__(self, load: Loader, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self._load = load
        self.refresh_seconds = refresh_seconds
        self._by_agent: dict[int, list[BreakRule]] = {}
        self._read_at: float | None = None

    async def _refresh(self, now: float) -> None:
        # A clock that went back (a corrected host clock) reads again too.
        if self._read_at is not None and 0 <= now - self._read_at < self.refresh_seconds:
            return
        self._read_at = now
        try:
            rules = await self._load()
        except SQLAlchemyError as exc:
            log.warning("break plan not read (%s): the last one read is kept", exc)
            return
        by_agent: dict[int, list[BreakRule]] = {}
        for rule in rules:
            by_agent.setdefault(rule.agent_id, []).append(rule)
        self._by_agent = by_agent

    async def next_breaks(self, agent_ids: Iterable[int],
                          now: float) -> dict[int, tuple[float, float]]:  # fmt: skip
        """Agent -> (start, seconds) of their next break not yet begun (today or
        tomorrow in its zone); agents with none are left out."""
        await self._refresh(now)
        found = {}
        for agent_id in agent_ids:
            upcoming = next_break(self._by_agent.get(agent_id, ()), now)
            if upcoming is not None:
                found[agent_id] = (upcoming.start, upcoming.rule.seconds)
        return found
