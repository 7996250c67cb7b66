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

from compliance.ledger import starts_abandon_cooldown
from dialer import attempt_store as store
from dialer import channel_vars as cv
from dialer.call_state import Call
from dialer.loop.context import LoopContext
from dialer.loop.live_call import LiveCall
from dialer.recycle import next_attempt_after, rules_for
from dialer.stats import AttemptTimes
from metrics import definitions as m
from store.models import ContactChannel

log = logging.getLogger(__name__)


def answered_as(call: Call) -> str | None:
    """What answered an ended call, for cobrador_calls_answered_total: human (AMD's
    HUMAN verdict, or no AMD), machine (AMD's MACHINE), unscreened (hung up before
    any verdict); None when nobody answered."""
    if call.answered_at is None:
        return None
    if call.human_at is not None:
        return "human"
    return "machine" if call.result == "machine" else "unscreened"


@dataclass
class FinishedCall:
    """A call that ended, as the dial loop knows it: its attempt row is written
    first (`written`), then the agent, the lease and the statistics follow."""

    attempt_id: int
    call: Call  # ended: result and ended_at set
    live: LiveCall
    values: dict[str, Any]
    written: bool = False


@dataclass
class Unplaced:
    """An attempt row this dialer wrote and never placed: a store failed between
    the row and the Originate. Closed as `not_placed` (`attempt_id` None: the reply
    to the row's insert was lost), then its account's lease is given up."""

    account_id: int
    channel: ContactChannel
    started_at: datetime
    attempt_id: int | None
    closed: list[int] | None = None  # the ids SQL closed, once it has


class Finisher:
    def __init__(self, ctx: LoopContext) -> None:
        self.ctx = ctx
        self.recycle_rules = rules_for((ctx.campaign.config or {}).get("recycle"))
        self.pending: list[FinishedCall] = []
        self.unplaced: list[Unplaced] = []
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

    @property
    def owed(self) -> bool:
        """Something written or to write that has not reached SQL and Redis yet."""
        return bool(self.pending or self.unplaced)

    def not_placed(self, unplaced: Unplaced) -> None:
        """Queued by the placing when a store fails before the Originate; closed by
        the next `retry` (every tick) until SQL has it."""
        self.unplaced.append(unplaced)

    async def retry(self) -> None:
        """Write completed attempts, then act on them; retried by every tick while
        SQL or Redis is away."""
        async with self._lock:  # the event loop and the tick both get here
            await self._write()
            await self._close_unplaced()

    async def _close_unplaced(self) -> None:
        ctx = self.ctx
        while self.unplaced:
            item = self.unplaced[0]
            if item.closed is None:
                try:
                    item.closed = await asyncio.to_thread(
                        store.close_not_placed, ctx.sql, account_id=item.account_id,
                        channel=item.channel, started_at=item.started_at,
                        attempt_id=item.attempt_id, actor=ctx.actor)  # fmt: skip
                except SQLAlchemyError:
                    log.warning("attempt %s to account %s not placed; its closing not written yet "
                                "(SQL unavailable)", item.attempt_id, item.account_id)  # fmt: skip
                    return
                if item.closed:
                    log.warning("attempt(s) %s to account %s closed as not placed (a store "
                                "failed before the originate)", item.closed, item.account_id)  # fmt: skip
            try:
                # Then Redis, from what SQL closed: the caps forget an attempt never
                # dialed (the final check may have counted it), the lease is given up.
                if ctx.compliance.caps is not None:
                    for attempt_id in item.closed:
                        await ctx.compliance.caps.uncount(item.account_id, attempt_id)
                await ctx.hopper.release(ctx.options.owner, item.account_id, None)
            except (RedisError, OSError):
                return
            self.unplaced.pop(0)

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
        answered = answered_as(call)
        if answered is not None:
            m.CALLS_ANSWERED.labels(name, answered).inc()
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
        if starts_abandon_cooldown(result) and ctx.compliance.caps is not None:
            # A machine drop too: the law counts a false positive as an abandon.
            await ctx.compliance.caps.record_abandon(
                call.account_id, attempt_id, datetime.fromtimestamp(ended).astimezone()
            )
        agents = set(finished.live.reserved)
        if call.agent_id is not None:
            agents.add(call.agent_id)
        for agent_id in sorted(agents):
            await ctx.agents.release(agent_id, attempt_id)  # only if still on this call
        await ctx.hopper.release(ctx.options.owner, call.account_id, None)
