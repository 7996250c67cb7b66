"""The end of a call: its result written to SQL first (the result is evidence),
then the statistics, the caps, the agents and the lease follow from that written
record. A Redis or SQL outage delays them, never loses them."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from dialer import attempt_store as store
from dialer import channel_vars as cv
from dialer.call_state import Call
from dialer.loop.context import LoopContext
from dialer.loop.live_call import LiveCall
from dialer.recycle import next_attempt_after, rules_for
from dialer.stats import AttemptTimes
from metrics import definitions as m

log = logging.getLogger(__name__)


@dataclass
class FinishedCall:
    """A call that ended, as the dial loop knows it: its attempt row is written
    first (`written`), then the agent, the lease and the statistics follow."""

    attempt_id: int
    call: Call  # ended: result and ended_at set
    live: LiveCall
    values: dict[str, Any]
    written: bool = False


class Finisher:
    def __init__(self, ctx: LoopContext) -> None:
        self.ctx = ctx
        self.recycle_rules = rules_for((ctx.campaign.config or {}).get("recycle"))
        self.pending: list[FinishedCall] = []
        self._lock = asyncio.Lock()

    async def finish(self, attempt_id: int, call: Call) -> None:
        """The call ended: its result is queued, in order, and written before
        anything else happens (`_write`)."""
        live = self.ctx.calls.pop(attempt_id, None)
        if live is None:
            return  # finished already (a reconciliation and its event at once)
        result = call.result or "failed"
        ended = call.ended_at or self.ctx.clock()
        values: dict[str, Any] = {
            "result": result,
            "ended_at": store.utc(ended),
            "answered_at": store.utc(call.answered_at),
            "bridged_at": store.utc(call.bridged_at),
            "hangup_cause": call.hangup_cause,
            "agent_id": call.agent_id,
            "pbx_channel": call.channel,
            "uniqueid": cv.originate_channel_id(attempt_id),
        }
        self.pending.append(
            FinishedCall(attempt_id, replace(call, result=result, ended_at=ended), live, values)
        )
        await self.retry()
        log.info("attempt %s ended: %s", attempt_id, result)

    async def retry(self) -> None:
        """Write completed attempts, then act on them; retried by every tick while
        SQL or Redis is away."""
        async with self._lock:  # the event loop and the tick both get here
            await self._write()

    async def _write(self) -> None:
        ctx = self.ctx
        # 1. SQL, in the order the calls ended: nothing else may fail before this.
        for finished in self.pending:
            if finished.written:
                continue
            call = finished.call
            result, ended = str(call.result), float(call.ended_at or 0.0)

            def when(in_a_row: int, result: str = result, ended: float = ended) -> datetime:
                at = next_attempt_after(result, in_a_row, ended, self.recycle_rules)
                return datetime.fromtimestamp(at).astimezone()

            try:
                await asyncio.to_thread(store.finish_attempt, ctx.sql, finished.attempt_id,
                                        call.account_id, finished.values, when,
                                        finished.live.callback_id)  # fmt: skip
            except SQLAlchemyError:
                log.warning("attempt %s completion not written yet (SQL unavailable)",
                            finished.attempt_id)  # fmt: skip
                break
            finished.written = True
            self._count(call)  # /metrics counts what SQL has, once
            if ctx.recorder is not None:  # its row refers to the attempt's written end
                ctx.recorder.close(finished.attempt_id, ended)
        # 2. From the written record: statistics, caps, the agent, the lease (Redis).
        while self.pending and self.pending[0].written:
            finished = self.pending[0]
            try:
                await self._after(finished)
            except (RedisError, OSError) as exc:
                log.warning("attempt %s written; agent and statistics not updated yet (%s)",
                            finished.attempt_id, type(exc).__name__)  # fmt: skip
                return
            self.pending.pop(0)

    def _count(self, call: Call) -> None:
        name = self.ctx.name
        result, ended = str(call.result), float(call.ended_at or 0.0)
        m.CALL_RESULTS.labels(name, result).inc()
        if result == "abandoned":
            m.ABANDONED.labels(name).inc()
        ring_end = call.answered_at or ended
        m.RING_TIME.labels(name).observe(max(0.0, ring_end - call.dialed_at))
        if call.bridged_at is not None:
            m.TALK_TIME.labels(name).observe(max(0.0, ended - call.bridged_at))

    async def _after(self, finished: FinishedCall) -> None:
        """Every step is idempotent: a retry after a partial failure repeats none twice."""
        ctx = self.ctx
        call, attempt_id = finished.call, finished.attempt_id
        result, ended = str(call.result), float(call.ended_at or 0.0)
        values = finished.values
        # The figures from the row as SQL keeps it: a rebuild from SQL finds the same.
        await ctx.stats.record_end(AttemptTimes(
            attempt_id, result, store.epoch(store.utc(call.dialed_at)) or 0.0,
            store.epoch(values["answered_at"]), store.epoch(values["bridged_at"]),
            store.epoch(values["ended_at"]) or ended))  # fmt: skip
        if result == "abandoned" and ctx.compliance.caps is not None:
            await ctx.compliance.caps.record_abandon(
                call.account_id, attempt_id, datetime.fromtimestamp(ended).astimezone()
            )
        agents = set(finished.live.reserved)
        if call.agent_id is not None:
            agents.add(call.agent_id)
        for agent_id in sorted(agents):
            await ctx.agents.release(agent_id, attempt_id)  # only if still on this call
        await ctx.hopper.release(ctx.options.owner, call.account_id, None)
