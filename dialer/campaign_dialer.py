"""The dial loop of one campaign in one dialer process: the conductor.

Each tick: refill the hopper when low, build the pacing snapshot, ask the
policy how many calls to place and place them (`dialer.loop.placing`: the attempt
row, the final compliance check atomic with the attempt counter, the channel).
AMI events (`dialer.loop.events`) and the FastAGI `answer` route
(`dialer.loop.answer`) move each call through the state machine in `call_state`;
when it ends `dialer.loop.finishing` completes the attempt and recycles the
account. Rules that never bend live here as plain code paths: no AMI or no
reconciliation -> no originate; Redis or SQL trouble -> no originate; an
Originate whose fate is unknown is never re-sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from compliance.service import ComplianceService
from dialer import attempt_store as store
from dialer import messages as msg
from dialer.ami import AMIClient, Message
from dialer.ami.errors import AMIError
from dialer.channels.asterisk_call import AsteriskCall
from dialer.command_replies import Reply
from dialer.fastagi import AGISession
from dialer.fastagi.errors import AGIError
from dialer.floor import SharedFloor
from dialer.hopper_holds import CHECK_EVERY_SECONDS, hopper_lost, release_stranded
from dialer.inbound.directory import InboundDirectory
from dialer.liveness import Liveness
from dialer.loop.answer import AnswerRoute
from dialer.loop.call_control import CallControl
from dialer.loop.campaign_state import CampaignState, amd_false_positive_ratio
from dialer.loop.commands import Commands
from dialer.loop.context import ORPHAN_GRACE_SECONDS, DialerOptions, LoopContext, Preview
from dialer.loop.events import DIALER_EVENTS, CallEvents, SeenCall
from dialer.loop.finishing import FinishedCall, Finisher
from dialer.loop.live_call import LiveCall
from dialer.loop.pacing_view import PacingView
from dialer.loop.placing import Placer
from dialer.loop.preview import PREVIEW_HOLD_SECONDS, PREVIEW_SKIP_SECONDS, Previews
from dialer.loop.reconcile import Reconciler
from dialer.loop.transfer import Transfer
from dialer.loop.wallboard import LoopView, publish_wallboard
from dialer.pacing.policies import Policy
from dialer.pacing.snapshot import Snapshot
from dialer.recording import Recorder
from dialer.refill import Refiller
from metrics import definitions as m
from store.models import Campaign

log = logging.getLogger(__name__)

# How often a loop looks for recordings nobody is closing (a dialer that died, with
# or without Redis), and how long after its call's end one is left to its own dialer.
RECORDINGS_CHECK_SECONDS = 60.0
# How long a stopping loop waits for the Hangup events of the calls it withdrew.
STOP_WITHDRAW_SECONDS = 3.0


@dataclass
class DialerHealth:
    ok: bool = True
    reason: str = ""
    paused_since: float | None = None
    events: list[str] = field(default_factory=list)


class CampaignDialer:
    def __init__(
        self,
        *,
        sql: Engine,
        redis: aioredis.Redis,
        ami: AMIClient,
        compliance: ComplianceService,
        campaign: Campaign,
        options: DialerOptions,
        clock: Callable[[], float] = time.time,
        policy: Policy | None = None,
        recorder: Recorder | None = None,
        inbound_directory: InboundDirectory | None = None,
    ) -> None:
        ctx = self.ctx = LoopContext(sql=sql, redis=redis, ami=ami, compliance=compliance,
                                     campaign=campaign, options=options, clock=clock,
                                     recorder=recorder, inbound_directory=inbound_directory)  # fmt: skip
        self.sql, self.redis, self.ami, self.compliance = sql, redis, ami, compliance
        self.campaign, self.name, self.options, self.clock = campaign, ctx.name, options, clock
        self.hopper, self.agents, self.stats = ctx.hopper, ctx.agents, ctx.stats
        self.inbound, self.directory = ctx.inbound, ctx.directory
        # Every dialer of the campaign: their calls in flight, and whose turn it is to pace.
        self.floor = SharedFloor(redis, campaign.name, options.owner)
        self.refiller = Refiller(sql, redis, self.hopper, compliance, campaign)
        self.settings = CampaignState(ctx, policy)
        self.health = DialerHealth()
        # The pieces of the loop, each on the shared context.
        channel = AsteriskCall(ami, campaign=campaign.name,
                               ring_timeout_seconds=options.ring_timeout_seconds,
                               agi_host=options.agi_host, agi_port=options.agi_port)  # fmt: skip
        self.pacing_view = PacingView(ctx, self.floor)
        self.finisher = Finisher(ctx)
        self.placer = Placer(ctx, channel, self.finisher)
        self.events = CallEvents(ctx, self.finisher, channel)
        # Alive on this Asterisk (a heartbeat); the dead peers' leftovers closed at once.
        self.liveness = Liveness(redis, campaign.name, options.owner, ctx.pbx,
                                 options.alive_seconds)  # fmt: skip
        self.reconciler = Reconciler(ctx, self.finisher, self.events, self.liveness)
        self.answer = AnswerRoute(ctx)
        self.control = CallControl(ctx, channel)
        self.transfers = Transfer(ctx)
        self.previewing = Previews(ctx, self.placer)
        self.commands = Commands(ctx, self.control, self.transfers, self.previewing,
                                 self.settings.changed)  # fmt: skip
        self._last_refill = 0.0
        self._last_holds_check: float | None = None  # None: not since this loop started
        self._last_recordings_check = 0.0
        self._last_reload = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._events = ami.events()
        ami.on_reconnect = self.reconcile

    # -- the loop's state, as its readers (service, tests) know it ----------------

    @property
    def calls(self) -> dict[int, LiveCall]:
        return self.ctx.calls

    @calls.setter
    def calls(self, value: dict[int, LiveCall]) -> None:
        self.ctx.calls = value

    @property
    def recorder(self) -> Recorder | None:
        """None: this dialer records nothing."""
        return self.ctx.recorder

    @recorder.setter
    def recorder(self, recorder: Recorder | None) -> None:
        self.ctx.recorder = recorder

    @property
    def previews(self) -> dict[int, Preview]:
        return self.ctx.previews

    @property
    def reconciled(self) -> bool:
        return self.reconciler.reconciled

    @reconciled.setter
    def reconciled(self, value: bool) -> None:
        self.reconciler.reconciled = value

    @property
    def agent_check(self) -> Callable[[int], Awaitable[bool]] | None:
        """Set by the service when it places agent legs (dialer.agent_legs)."""
        return self.answer.agent_check

    @agent_check.setter
    def agent_check(self, check: Callable[[int], Awaitable[bool]] | None) -> None:
        self.answer.agent_check = check

    @property
    def false_positive_ratio(self) -> float:
        return self.settings.false_positive_ratio

    @property
    def policy(self) -> Policy:
        return self.settings.policy

    @policy.setter
    def policy(self, policy: Policy) -> None:
        self.settings.policy = policy

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Reconcile with Asterisk first: nothing is dialed before that."""
        # Alive before the first reconciliation: a dialer whose own heartbeat is not
        # there yet takes every other dialer for alive and leaves their calls open
        # (dialer/liveness.py `beating`), those of the dead ones too.
        with contextlib.suppress(RedisError, OSError):
            await self.liveness.beat()
        with contextlib.suppress(AMIError):
            if self.ami.connected:
                await self.reconcile(await self.reconciler.live_channels())
        self._tasks = [
            asyncio.create_task(self._event_loop(), name=f"dialer-events-{self.name}"),
            asyncio.create_task(
                self.commands.run(self._stopping), name=f"dialer-commands-{self.name}"
            ),  # fmt: skip
            asyncio.create_task(
                self.liveness.run(self._stopping), name=f"dialer-alive-{self.name}"
            ),  # fmt: skip
        ]

    async def run(self) -> None:
        await self.start()
        try:
            while not self._stopping.is_set():
                await self.tick()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.options.tick_seconds)
        finally:
            await self.stop()

    def request_stop(self) -> None:
        self._stopping.set()

    async def stop(self) -> None:
        """The loops end on their own once told; cancellation is only the fallback."""
        self._stopping.set()
        with contextlib.suppress(RedisError, OSError):
            # The next dialer to start (this one again, after a restart) refills at once.
            await self.hopper.drop_refill_lock(self.options.owner)
        await self._withdraw_ringing()
        self._events.close()
        with contextlib.suppress(RedisError, OSError):
            await self.floor.release()
        if self.recorder is not None:
            await self.recorder.drain()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=3.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        with contextlib.suppress(RedisError, OSError):
            # The others close at once what this dialer leaves in Asterisk.
            await self.liveness.leave()

    async def _withdraw_ringing(self) -> None:
        """A clean stop (a restart, a deploy) hangs up the calls still ringing: answered
        while no dialer listens, each would get the safe-harbor message and count as an
        abandon (on a 5-agent floor two break the hour's 3 %). Their Hangup events,
        still read here for up to STOP_WITHDRAW_SECONDS, end them as `cancelled` (dialed
        again an hour later). Answered and bridged calls go on in Asterisk; the next
        start reconciles them."""
        if not self.ami.connected:
            return
        withdrawn = set(await self.control.withdraw_ringing())
        for _ in range(int(STOP_WITHDRAW_SECONDS / 0.05)):  # the event loop task ends them
            if not (withdrawn & set(self.calls) or self.finisher.owed):
                return
            await asyncio.sleep(0.05)

    # -- the tick --------------------------------------------------------------

    async def tick(self) -> int:
        """One pass of the loop; returns how many calls were originated."""
        now = self.clock()
        try:
            await self.events.sweep(now)
            await self.finisher.retry()
            if self.recorder is not None:
                await self.recorder.retry()
                await self._close_left_recordings(now)
            await self.reconciler.periodically(now)
            await self._renew_leases(now)
            registries = self.settings.registry_names()
            if now - self._last_reload >= self.options.refill_every_seconds:
                self._last_reload = now
                await self.settings.reload()
                await self.settings.registry_metrics()
                await self.directory.refresh(now, self.options.refill_every_seconds)
                if self.compliance.registry_sync is not None:
                    await self.compliance.registry_sync.refresh(registries)
            elif self.compliance.registry_sync is not None:
                # One MGET a tick: a registry Redis lost is reloaded from SQL now.
                await self.compliance.registry_sync.check(registries)
            if not self._can_dial(now):
                # Not dialing (stopped, or no Asterisk yet): the wallboard still shows
                # the agents, the inbound queue and why nothing is dialed.
                await self._publish_wallboard(now, await self.snapshot(now),
                                              await self.hopper.sizes())  # fmt: skip
                return 0
            sizes = await self.hopper.sizes()
            # A registry being reloaded into Redis blocks every call it covers: no
            # refill (each candidate would be held back as registry_unavailable)
            # and no call until it is back, which takes seconds.
            reloading = self.settings.registries_reloading()
            if not reloading and (
                sizes["ready"] + sizes["delayed"] < self.options.hopper_low_water
                or now - self._last_refill >= self.options.refill_every_seconds
            ):
                self._last_refill = now
                # One refill per campaign at a time across dialers: two would
                # evaluate the same candidates (the caps would still block a
                # second call, but the work and the evidence would be doubled).
                lock_ms = max(500, int(self.options.refill_every_seconds * 1000))
                if await self.redis.set(
                    self.hopper.refill_lock_key, self.options.owner, nx=True, px=lock_ms
                ):
                    at = datetime.fromtimestamp(now).astimezone()
                    released = await self._release_stranded(now, at)
                    await self.refiller.refill(at, self.options.refill_batch, released)
                sizes = await self.hopper.sizes()
            m.HOPPER_SIZE.labels(self.name).set(sizes["ready"] + sizes["delayed"])
            # Preview: only the agent's own choice places a call; nor while a registry
            # reloads. Otherwise one dialer of the campaign at a time paces the whole
            # floor (dialer/floor.py): the turn first, then the floor's calls as of now.
            paused = self.campaign.dial_mode == "preview" or bool(reloading)
            if paused:
                m.PACING_TARGET_CALLS.labels(self.name, self.campaign.dial_mode).set(0)
            turn = not paused and await self.floor.take_turn()
            try:
                snapshot = await self.snapshot(now)
                placed = await self.placer.pace(self.settings.policy, snapshot) if turn else 0
            finally:
                if turn:
                    # Published before the next decision may start: it counts them.
                    with contextlib.suppress(RedisError, OSError):
                        await self.pacing_view.publish_floor()
                        # The gate for one interval, then the others first for one
                        # more: every dialer of the floor places its share.
                        await self.floor.end_turn(
                            self.options.tick_seconds, self.options.tick_seconds
                        )
            await self._publish_wallboard(now, snapshot, sizes)
            self._set_healthy()
            return placed
        except (RedisError, SQLAlchemyError, OSError) as exc:
            # Fail closed: nothing is dialed while a store is unreachable; the
            # attempts already written stay, their completion is retried.
            if not isinstance(exc, SQLAlchemyError):
                self.liveness.distrust()  # no dead peer judged until Redis holds a while
            self._set_unhealthy(f"store unavailable: {type(exc).__name__}", now)
            log.warning("dialer %s: %s; dialing paused", self.name, exc)
            return 0

    async def _publish_wallboard(self, now: float, snapshot: Snapshot,
                                 sizes: dict[str, int]) -> None:  # fmt: skip
        view = LoopView(self.health.ok, self.health.reason, self.pacing_view.window_counts,
                        self.settings.false_positive_ratio, self.settings.registries_reloading(),
                        self.pacing_view.own_inbound_waits)  # fmt: skip
        await publish_wallboard(self.ctx, now, snapshot, sizes, view)

    async def _close_left_recordings(self, now: float) -> None:
        """Recordings written down in SQL whose call ended a while ago and that nobody
        is closing (their dialer died between the call's start and its row): closed
        here, with their file or a reason, without waiting for a restart."""
        if self.recorder is None or now - self._last_recordings_check < RECORDINGS_CHECK_SECONDS:
            return
        self._last_recordings_check = now
        try:
            await self.recorder.reconcile(set(self.calls),
                                          lambda ids: store.attempts_ended_at(self.sql, ids),
                                          ended_before=now - RECORDINGS_CHECK_SECONDS)  # fmt: skip
        except SQLAlchemyError as exc:
            log.warning("dialer %s: open recordings not checked (%s)", self.name, exc)

    async def _release_stranded(self, now: float, at: datetime) -> int:
        """Accounts held for a hopper that lost them (Redis flushed, restarted empty or
        from an older snapshot) come back before the refill: at start, when the hopper's
        marker is gone, every CHECK_EVERY_SECONDS, and once a peer is found dead: one
        killed between its refill's SQL write and its Redis add left up to a batch of
        accounts held for entries the hopper never got, undialed for those minutes.
        Under the refill lock."""
        last = self._last_holds_check
        if (last is not None and now - last < CHECK_EVERY_SECONDS
                and not self.reconciler.peer_died
                and not await hopper_lost(self.redis, self.name)):  # fmt: skip
            return 0
        self._last_holds_check = now
        self.reconciler.peer_died = False
        mine = {c.account_id for c in self.calls.values()} | set(self.previews)
        released = await release_stranded(self.sql, self.hopper, self.campaign.id, at, mine)
        if released:
            log.warning("dialer %s: %d account(s) held for a hopper that no longer has them "
                        "given back to the refill", self.name, released)  # fmt: skip
        return released

    def _can_dial(self, now: float) -> bool:
        if not self.ami.connected:
            self.reconciled = False
            self._set_unhealthy("AMI disconnected", now)
            return False
        if not self.reconciled:
            self._set_unhealthy("waiting for reconciliation with Asterisk", now)
            return False
        if self.campaign.status != "running":
            return False
        if self.ctx.caller_ids.problem:
            # CONDUSEF: never a hidden caller ID, only registered ones (REDECO).
            self._set_unhealthy(self.ctx.caller_ids.problem, now)
            return False
        return True

    def _set_unhealthy(self, reason: str, now: float) -> None:
        if self.health.ok or self.health.reason != reason:
            log.warning("dialer %s paused: %s", self.name, reason)
            self.health = DialerHealth(ok=False, reason=reason, paused_since=now)
        m.AMI_UP.set(1 if self.ami.connected else 0)

    def _set_healthy(self) -> None:
        if not self.health.ok:
            log.info("dialer %s resumed after: %s", self.name, self.health.reason)
        self.health = DialerHealth()
        m.AMI_UP.set(1)

    async def snapshot(self, now: float) -> Snapshot:
        return await self.pacing_view.snapshot(now, self.settings.false_positive_ratio)

    async def _renew_leases(self, now: float) -> None:
        await self.previewing.expire(now)
        accounts = [c.account_id for c in self.calls.values()] + list(self.previews)
        if accounts:
            await self.hopper.renew(self.options.owner, accounts, now, self.options.lease_seconds)

    # -- the pieces, as the service and the tests call them -----------------------

    async def _event_loop(self) -> None:
        async for event in self._events:
            try:
                await self.handle_event(event)
            except (RedisError, SQLAlchemyError, OSError):
                log.exception("dialer %s: event %s not handled", self.name, event.get("Event"))

    async def handle_event(self, event: Message) -> None:
        await self.events.handle(event)

    async def agi_answer(self, agi: AGISession) -> None:
        await self.answer.agi_answer(agi)

    async def reconcile(self, channels: list[Message]) -> None:
        """After (re)connecting: calls Asterisk no longer has ended while we were away."""
        await self.reconciler.reconcile(channels)

    async def handle_command(self, command: msg.Command) -> None:
        await self.commands.handle(command)

    async def hangup(self, attempt_id: int, agent_id: int | None) -> Reply | None:
        return await self.control.hangup(attempt_id, agent_id)

    async def transfer(
        self, attempt_id: int, from_agent: int, to_agent: int | None
    ) -> Reply | None:
        return await self.transfers.transfer(attempt_id, from_agent, to_agent)

    async def stop_account(self, account_id: int) -> None:
        await self.control.stop_account(account_id)

    async def preview_request(self, agent_id: int) -> None:
        await self.previewing.request(agent_id)

    async def preview_dial(self, agent_id: int, account_id: int) -> None:
        await self.previewing.dial(agent_id, account_id)

    async def preview_skip(self, agent_id: int, account_id: int) -> None:
        await self.previewing.skip(agent_id, account_id)


__all__ = [
    "amd_false_positive_ratio",
    "AGIError",
    "DIALER_EVENTS",
    "ORPHAN_GRACE_SECONDS",
    "PREVIEW_HOLD_SECONDS",
    "PREVIEW_SKIP_SECONDS",
    "CampaignDialer",
    "DialerHealth",
    "DialerOptions",
    "FinishedCall",
    "LiveCall",
    "SeenCall",
]
