"""Reconciliation with Asterisk's live channels: at start and after an AMI reconnect
(nothing is dialed before), and periodically for what dead dialers left open."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Set
from datetime import UTC, datetime
from typing import Any

from dialer import attempt_store as store
from dialer import call_state as cs
from dialer import channel_vars as cv
from dialer import pbx_records
from dialer.agent_state import AgentState
from dialer.ami import Message
from dialer.ami.errors import AMIError
from dialer.channels.asterisk_call import attempt_of
from dialer.liveness import Liveness
from dialer.loop.context import LoopContext
from dialer.loop.events import CallEvents, SeenCall
from dialer.loop.finishing import Finisher
from dialer.recycle import next_attempt_after, rules_for
from metrics import definitions as m

log = logging.getLogger(__name__)

# How often the live channels are read again while a dead peer's calls go on.
DEAD_PASS_SECONDS = 2.0
# A call Asterisk's CEL has, without its end yet (its channel just went): closed by
# a later pass, with the outcome CEL will record, rather than now from less.
CEL_PENDING = object()


class Reconciler:
    def __init__(self, ctx: LoopContext, finisher: Finisher, events: CallEvents,
                 liveness: Liveness) -> None:  # fmt: skip
        self.ctx = ctx
        self.finisher = finisher
        self.events = events
        self.liveness = liveness
        self.reconciled = False
        self._last = ctx.clock()
        self._last_dead_pass = 0.0
        self._dead_seen: set[str] = set()
        # The other dialers SQL names on open attempts placed through this Asterisk,
        # read at every pass: judged by their heartbeat even when Redis lost them.
        self._placers: set[str] = set()
        self._keys_lost = 0  # the heartbeat's count when this reconciler last looked
        # A peer found dead since the dial loop last looked (peer_died): it may have
        # died between its refill's SQL holds and its Redis add (dialer/hopper_holds.py).
        self.peer_died = False
        self._lock = asyncio.Lock()

    async def live_channels(self) -> list[Message]:
        _, items = await self.ctx.ami.send_list_action({"Action": "CoreShowChannels"})
        return items

    async def reconcile(self, channels: list[Message]) -> None:
        """After (re)connecting: calls Asterisk no longer has ended while we were away."""
        async with self._lock:  # the AMI client's callback and the tick
            await self._reconcile(channels)

    async def _reconcile(self, channels: list[Message]) -> None:
        ctx = self.ctx
        live = {attempt_of(c) for c in channels}
        now = ctx.clock()
        for attempt_id, call in list(ctx.calls.items()):
            if attempt_id not in live:
                log.info("attempt %s ended while AMI was away", attempt_id)
                await self.finisher.finish(attempt_id, cs.on_hangup(call.call, None, now))
            else:
                call.unknown_since = None
        await self._close_orphans({a for a in live if a is not None}, now)
        self.reconciled = True

    async def periodically(self, now: float) -> None:
        """A dialer that dies leaves attempts open and agents "talking": every
        `reconcile_every_seconds` (at once while a reconciliation is owed, e.g. one
        that met a Redis outage after an AMI reconnect) the live channels are read
        again and what dead dialers left is closed; every DEAD_PASS_SECONDS while a
        peer on this Asterisk has lost its heartbeat (dialer/liveness.py), until what
        it left is closed. The peers judged are those Redis names and those SQL
        names on open attempts (read at every pass, and at once when Redis lost
        this dialer's heartbeat: a flush takes the others' names with it). Not our
        own calls: an Originate just sent may have no channel yet."""
        ctx = self.ctx
        if not ctx.ami.connected:
            return
        if self.reconciled and self.liveness.keys_lost != self._keys_lost:
            # Redis lost keys (a flush): the leases and the members naming a dead peer
            # with them. The dialers with open attempts are read from SQL now; their
            # silence counts once the live ones have had a TTL to beat again.
            self._placers = await self._read_placers()
            self._keys_lost = self.liveness.keys_lost
        dead = await self.liveness.dead(self._placers) if self.reconciled else set()
        if dead and dead - self._dead_seen:
            self.peer_died = True
            log.warning("dialer %s: dialer(s) %s on this Asterisk stopped beating; closing "
                        "what they left", ctx.name, ", ".join(sorted(dead - self._dead_seen)))  # fmt: skip
        self._dead_seen = dead
        if (
            self.reconciled
            and now - self._last < ctx.options.reconcile_every_seconds
            and not (dead and abs(now - self._last_dead_pass) >= DEAD_PASS_SECONDS)
        ):
            return
        self._last = now
        if dead:
            self._last_dead_pass = now
        try:
            channels = await self.live_channels()
        except AMIError as exc:
            log.warning("dialer %s: live channels not read (%s); reconciliation later",
                        ctx.name, exc)  # fmt: skip
            return
        if not self.reconciled:
            await self.reconcile(channels)
            return
        async with self._lock:
            await self._close_orphans(
                {a for c in channels if (a := attempt_of(c)) is not None}, now, dead
            )

    async def _close_orphans(self, live: set[int], now: float,
                             dead: Set[str] = frozenset()) -> None:  # fmt: skip
        """Attempts another (dead) dialer left open: no live channel, nobody to end them.
        Not those of accounts another live dialer holds a lease on, nor those a dialer
        still beating placed (its row names it; dialer/liveness.py): its calls live on
        its own Asterisk, which we do not see, and their leases may be lost with Redis. The leases of `dead` dialers (silent on
        this Asterisk) protect nothing: their attempts, found by the dialer each row
        names (SQL, whatever Redis lost) and by their leases, are closed as soon as
        their channels are gone. Each is closed with what Asterisk reported of it
        (`seen`, its CEL), its agent released; then any agent still shown on a call
        that has ended in SQL is released too."""
        ctx = self.ctx
        seen_calls = self.events.seen
        holders = await ctx.hopper.lease_holders(now)
        others = {a for a, who in holders.items() if who != ctx.options.owner and who not in dead}
        theirs = {a for a, who in holders.items() if who in dead}
        on_call = {a.attempt_id: a for a in await ctx.agents.list(ctx.name)
                   if a.attempt_id is not None
                   and a.state in (AgentState.reserved, AgentState.talking)}  # fmt: skip

        recorded = self._pbx_record_reader()
        # The other dialers with calls open, on any Asterisk, still beating: their
        # calls are theirs to end, whatever leases Redis lost (a flush).
        anywhere = await asyncio.to_thread(store.open_attempt_dialers, ctx.sql, ctx.campaign.id)
        alive = await self.liveness.beating(anywhere - set(dead))

        def outcome(attempt: Any) -> dict[str, Any] | None:
            seen = seen_calls.get(attempt.id, SeenCall())
            agent = on_call.get(attempt.id)
            pbx = recorded(attempt.id)
            if pbx is CEL_PENDING:
                return None  # in Asterisk's CEL, its end not written yet: the next pass
            if isinstance(pbx, pbx_records.Outcome):
                return self._pbx_outcome(attempt.id, pbx, agent, attempt.agent_id)
            talking = agent is not None and agent.state is AgentState.talking
            # The row names the agent from the bridge on (store.mark_bridged): the
            # evidence when Redis no longer knows who was talking (a flush).
            row_bridged = store.epoch(attempt.bridged_at) if attempt.agent_id is not None else None
            bridged = talking or row_bridged is not None
            result = cs.orphan_result(answered=seen.answered_at is not None,
                                      ended=seen.ended_at is not None, bridged=bridged,
                                      cause=seen.cause)  # fmt: skip
            started = attempt.started_at.replace(tzinfo=UTC) if attempt.started_at.tzinfo is None \
                else attempt.started_at  # fmt: skip
            # The end Asterisk reported; else the last moment known: the agent's.
            last = max(started.timestamp(), agent.since if agent is not None else 0.0,
                       row_bridged or 0.0)  # fmt: skip
            bridged_at: float | None = row_bridged
            agent_id: int | None = attempt.agent_id if bridged else None
            if talking and agent is not None:
                bridged_at, agent_id = agent.since, agent.agent_id
            return {"result": result, "ended_at": store.utc(seen.ended_at or last),
                    "answered_at": store.utc(seen.answered_at), "hangup_cause": seen.cause,
                    "bridged_at": store.utc(bridged_at), "agent_id": agent_id,
                    "uniqueid": cv.originate_channel_id(attempt.id)}  # fmt: skip

        rules = rules_for((ctx.campaign.config or {}).get("recycle"))

        def next_attempt(result: str, in_a_row: int, ended: datetime) -> datetime:
            """The campaign's recycle rule, as the Finisher applies it to a call it ends."""
            at = next_attempt_after(result, in_a_row, ended.timestamp(), rules)
            return datetime.fromtimestamp(at, UTC)

        closed = await asyncio.to_thread(
            store.close_lost_attempts, ctx.sql, ctx.campaign.id, live, set(ctx.calls),
            store.utc(now - ctx.options.orphan_grace_seconds), ctx.options.owner, others,
            outcome, theirs, store.utc(now - ctx.options.alive_seconds), next_attempt, dead,
            alive,
        )  # fmt: skip
        for attempt in closed:
            seen_calls.pop(attempt.id, None)
            log.warning("dialer %s: attempt %s left open by a stopped dialer closed as %s",
                        ctx.name, attempt.id, attempt.result)  # fmt: skip
            if attempt.result != "not_placed":
                m.CALL_RESULTS.labels(ctx.name, str(attempt.result)).inc()
        await self._release_agents_of_ended(on_call)
        if ctx.recorder is not None:
            await ctx.recorder.reconcile(
                live | set(ctx.calls), lambda ids: store.attempts_ended_at(ctx.sql, ids)
            )
        self._placers = await self._read_placers()
        if dead:
            await self._release_claims(dead, holders, now)
            await self._forget_closed(dead, holders)

    async def _read_placers(self) -> set[str]:
        """The other dialers that placed the campaign's open calls through this
        Asterisk, as SQL names them."""
        ctx = self.ctx
        placers = await asyncio.to_thread(store.open_attempt_dialers, ctx.sql, ctx.campaign.id,
                                          ctx.pbx)  # fmt: skip
        return placers - {ctx.options.owner}

    async def _release_claims(self, dead: Set[str], holders: dict[int, str], now: float) -> None:
        """The leases of `dead` dialers on accounts they never dialed from the hopper
        end now instead of when they expire (store.dead_claims): an account still held
        goes back to the hopper, one whose hold was lifted (its result written) leaves
        it. The release is the hopper's own, only while the lease is still theirs; a
        dead dialer that was only stalled finds another's call in flight at its final
        check and does not dial (store.start_placing)."""
        ctx = self.ctx
        theirs = {a: who for a, who in holders.items() if who in dead}
        fresh, settled = await asyncio.to_thread(store.dead_claims, ctx.sql, ctx.campaign.id,
                                                 set(theirs))  # fmt: skip
        released = 0
        for account_id in sorted(fresh | settled):
            eligible_at = now if account_id in fresh else None
            released += await ctx.hopper.release(theirs[account_id], account_id, eligible_at)
        if released:
            log.warning("dialer %s: %d account(s) claimed by a stopped dialer and never dialed "
                        "given back", ctx.name, released)  # fmt: skip

    async def _forget_closed(self, dead: Set[str], holders: dict[int, str]) -> None:
        """A dead dialer with no open attempt left (none its rows name, none of the
        accounts it still leases) is forgotten (its calls still live in Asterisk keep
        it looked at)."""
        ctx = self.ctx
        theirs = {a for a, who in holders.items() if who in dead}
        still = await asyncio.to_thread(store.open_attempt_accounts, ctx.sql, ctx.campaign.id,
                                        theirs)  # fmt: skip
        for owner in sorted(dead):
            if owner in self._placers or any(holders[a] == owner for a in still):
                continue
            if await self.liveness.forget(owner):
                self._dead_seen.discard(owner)
                log.info("dialer %s: what dialer %s left is closed", ctx.name, owner)

    def _pbx_record_reader(self) -> Callable[[int], pbx_records.Outcome | object | None]:
        """Asterisk's own record of a call (its CEL file, when this dialer can read
        it): read once per reconciliation, and only if an orphan needs it (it runs
        in the closing thread)."""
        path = self.ctx.options.pbx_cel_path
        name = self.ctx.name
        calls: dict[int, pbx_records.PbxCall] | None = None

        def recorded(attempt_id: int) -> pbx_records.Outcome | object | None:
            nonlocal calls
            if path is None:
                return None
            if calls is None:
                try:
                    rows = pbx_records.read_records(path, pbx_records.CEL_FIELDS)
                except OSError as exc:
                    log.warning("dialer %s: Asterisk's CEL %s unreadable (%s)", name, path, exc)
                    rows = []
                calls = pbx_records.calls_from_cel(rows)
            call = calls.get(attempt_id)
            if call is None:
                return None
            return pbx_records.orphan_outcome(call) or CEL_PENDING

        return recorded

    def _pbx_outcome(self, attempt_id: int, pbx: pbx_records.Outcome,
                     agent: Any, row_agent: int | None = None) -> dict[str, Any]:  # fmt: skip
        """An orphan closed as Asterisk recorded it: its result and Asterisk's times
        (its wall clock; this dialer's clock is the same up to a constant, which
        tests use to move into a shift)."""
        shift = self.ctx.clock() - time.time()

        def at(stamp: float | None) -> datetime | None:
            return store.utc(stamp + shift) if stamp is not None else None

        contact = pbx.result == "contact"
        # The agent Redis shows on the call, else the one its row names (a flush).
        agent_id = agent.agent_id if agent is not None else row_agent
        return {"result": pbx.result, "ended_at": at(pbx.ended_at),
                "answered_at": at(pbx.answered_at), "hangup_cause": pbx.cause,
                "bridged_at": at(pbx.bridged_at) if contact else None,
                "agent_id": agent_id if contact else None,
                "uniqueid": cv.originate_channel_id(attempt_id)}  # fmt: skip

    async def _release_agents_of_ended(self, on_call: dict[int, Any]) -> None:
        """Agents still reserved or talking on an attempt that SQL has closed (a dead
        dialer's, an inbound call whose end met a Redis outage) go to wrap-up."""
        ctx = self.ctx
        ids = [a for a in on_call if a not in ctx.calls]
        if not ids:
            return
        ended = await asyncio.to_thread(store.attempts_ended_at, ctx.sql, ids)
        for attempt_id in ids:
            if ended.get(attempt_id) is None:
                continue  # open: a live call (inbound, or another dialer's)
            agent = on_call[attempt_id]
            if await ctx.agents.release(agent.agent_id, attempt_id):
                log.warning("agent %s released: attempt %s had ended", agent.agent_id, attempt_id)
