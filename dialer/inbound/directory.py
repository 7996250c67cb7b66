"""Who may serve whose inbound callers, as the outbound dial loop needs it every tick:
each inbound campaign's routing (skill group, overflow limit) and every agent's skill
groups, read from SQL and kept for a few seconds (SQL is the truth; one process's
dial loops share one copy)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from sqlalchemy import Engine

from dialer.inbound import records
from dialer.inbound.routing import QueueRule
from dialer.inbound.skills import memberships


class InboundDirectory:
    def __init__(self, sql: Engine, refresh_seconds: float = 10.0) -> None:
        self.sql = sql
        self.refresh_seconds = refresh_seconds
        self.rules: Mapping[str, QueueRule] = {}
        self.skills: Mapping[int, frozenset[str]] = {}
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    async def refresh(self, now: float, every: float | None = None) -> None:
        """Reload from SQL if older than `every` seconds (default `refresh_seconds`)."""
        every = self.refresh_seconds if every is None else every
        async with self._lock:  # several dial loops ask at once: one query
            if self._loaded_at is not None and abs(now - self._loaded_at) < every:
                return
            campaigns = await asyncio.to_thread(records.inbound_campaigns, self.sql)
            skills = await asyncio.to_thread(memberships, self.sql)
            self.rules = {c.name: QueueRule(c.name, c.skill_group, c.overflow_after_seconds)
                          for c in campaigns}  # fmt: skip
            self.skills = skills
            self._loaded_at = now

    def skills_of(self, agent_id: int) -> frozenset[str]:
        return self.skills.get(agent_id, frozenset())
