"""The dial loop of one campaign in one dialer process.

Each tick: refill the hopper when low, build the pacing snapshot, ask the
policy how many calls to place, claim that many leases, run the final
compliance check (atomic with the attempt counter), write the attempt row,
originate. AMI events and the FastAGI `answer` route move each call through
the state machine in `call_state`; when it ends the attempt is completed and
the account recycled. Rules that never bend live here as plain code paths:
no AMI or no reconciliation -> no originate; Redis or SQL trouble -> no
originate; an Originate whose fate is unknown is never re-sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from cobrador.ground.masking import mask_phone
from compliance.caller_ids import CallerIdCheck, check_campaign
from compliance.engine import Decision
from compliance.service import ComplianceService, Item, account_facts, phone_facts
from dialer import attempt_store as store
from dialer import call_state as cs
from dialer import channel_vars as cv
from dialer import messages as msg
from dialer import pbx_records
from dialer.agent_state import AgentState, AgentStateError, AgentStates
from dialer.ami import AMIClient, Message
from dialer.ami.errors import AMIError
from dialer.call_state import Call, CallState
from dialer.command_replies import ASTERISK, NO_AGENT, REFUSED, Reply, send_reply, valid_request_id
from dialer.fastagi import AGISession
from dialer.fastagi.errors import AGIError
from dialer.floor import SharedFloor
from dialer.hopper import Claim, Hopper
from dialer.hopper_holds import CHECK_EVERY_SECONDS, hopper_lost, release_stranded
from dialer.inbound.board import inbound_board, service_level_seconds, snapshot_fields
from dialer.inbound.directory import InboundDirectory
from dialer.inbound.queue import InboundQueue
from dialer.inbound.routing import callers_for, owes_inbound
from dialer.pacing.policies import Policy, make_policy
from dialer.pacing.snapshot import AgentView, RingingCall, Snapshot
from dialer.recording import Recorder
from dialer.recycle import next_attempt_after, rules_for
from dialer.refill import Refiller, health_key
from dialer.stats import WINDOW_LABELS, AttemptTimes, CampaignStats, WindowCounts
from metrics import definitions as m
from metrics.labels import error_reason
from store.models import Campaign

log = logging.getLogger(__name__)

# The only AMI events the dialer reads (ContactStatus: agent legs, whose phone
# may unregister with its call still up): asking Asterisk for just these
# (a session Filter) tripled sustained originates/s on Asterisk 22 here.
DIALER_EVENTS = (
    "Newstate",
    "Hangup",
    "OriginateResponse",
    "MixMonitorStart",
    "MixMonitorStop",
    "ContactStatus",
)
# An open attempt older than this with no live channel was left by a dialer that
# died: its Originate reply and events would have come long before.
ORPHAN_GRACE_SECONDS = 120.0
# How often a loop looks for recordings nobody is closing (a dialer that died, with
# or without Redis), and how long after its call's end one is left to its own dialer.
RECORDINGS_CHECK_SECONDS = 60.0
PREVIEW_SKIP_SECONDS = 3600.0  # a skipped account comes back an hour later
PREVIEW_HOLD_SECONDS = 300.0  # an unanswered preview returns to the hopper


def amd_false_positive_ratio(config: dict[str, Any] | None) -> float:
    """The campaign's reasoned estimate of the share of AMD 'machine' drops that were
    persons (config `amd_false_positive_ratio`, 0..1). Unset or unreadable: 1, every
    machine drop counts as an abandoned person (the conservative reading)."""
    raw = (config or {}).get("amd_false_positive_ratio")
    try:
        value = float(str(raw))
    except ValueError:
        return 1.0
    return value if 0.0 <= value <= 1.0 else 1.0


@dataclass(frozen=True)
class DialerOptions:
    owner: str  # unique per dialer process: names its hopper leases
    tick_seconds: float = 1.0
    lease_seconds: float = 120.0  # renewed every tick while the call lives
    refill_every_seconds: float = 10.0
    hopper_low_water: int = 20
    # Accounts considered per refill. A tick places tens of calls at most, so 100
    # keeps the hopper ahead while a refill stays well under 50 ms on 5 M accounts
    # (bench/RESULTS.md: 33.5 ms at 100, 52.5 ms at 200).
    refill_batch: int = 100
    connect_grace_seconds: float = 2.0
    ring_timeout_seconds: float = 30.0
    max_ringing: int = 200
    agi_host: str = "127.0.0.1"
    agi_port: int = cv.FASTAGI_PORT
    stuck_call_seconds: float = 3600.0
    # How often the open attempts of dead dialers are closed and agents left on ended
    # calls released (besides at start and after an AMI reconnect).
    reconcile_every_seconds: float = 30.0
    orphan_grace_seconds: float = ORPHAN_GRACE_SECONDS
    # Asterisk's CEL file (cel_custom, dialer/pbx_records.py) when this dialer can
    # read it: attempts of dead dialers are closed with the outcome it records.
    pbx_cel_path: str | None = None


@dataclass
class CallMeta:
    claim: Claim
    phone: str
    profile_name: str
    callback_id: int | None = None
    channel: str | None = None
    originate_failed: int | None = None
    originate_failed_at: float | None = None
    unknown_since: float | None = None  # Originate sent, link lost before the reply
    # Agents reserved for this call: one whose reservation was not followed through
    # (Redis failed right after reserve) is released with the call, not left reserved.
    reserved: set[int] = field(default_factory=set)


@dataclass
class SeenCall:
    """What Asterisk reported of a call this dialer did not place (another dialer's):
    kept for a while, so that if that dialer dies its attempt is closed with it."""

    answered_at: float | None = None
    ended_at: float | None = None
    cause: int | None = None


SEEN_CALLS_KEPT = 10_000  # newest calls of other dialers remembered (a few MB at most)


@dataclass
class FinishedCall:
    """A call that ended, as the dial loop knows it: its attempt row is written
    first (`written`), then the agent, the lease and the statistics follow."""

    attempt_id: int
    call: Call  # ended: result and ended_at set
    meta: CallMeta
    values: dict[str, Any]
    written: bool = False


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
        self.recorder = recorder  # None: this dialer records nothing
        self.sql = sql
        self.redis = redis
        self.notifier = msg.Notifier(redis)
        self.ami = ami
        self.compliance = compliance
        self.campaign = campaign
        self.name = campaign.name
        self.options = options
        self.clock = clock
        self.hopper = Hopper(redis, campaign.name)
        self.agents = AgentStates(redis, clock=clock)
        self.stats = CampaignStats(redis, campaign.name)
        # Every dialer of the campaign: their calls in flight, and whose turn it is to pace.
        self.floor = SharedFloor(redis, campaign.name, options.owner)
        self.inbound = InboundQueue(redis)
        # Other campaigns' inbound routing and the agents' skill groups (SQL, cached):
        # whose callers this campaign's agents owe priority to. Shared by a process's loops.
        self.directory = inbound_directory or InboundDirectory(sql)
        self.own_inbound_waits: tuple[float, ...] = ()  # the wallboard's: this campaign's callers
        self.refiller = Refiller(sql, redis, self.hopper, compliance, campaign)
        self.recycle_rules = rules_for((campaign.config or {}).get("recycle"))
        self.policy = policy or self._policy_for(campaign.dial_mode)
        self.false_positive_ratio = amd_false_positive_ratio(campaign.config)
        self.window_counts: tuple[WindowCounts, ...] = ()  # the wallboard's, from the last snapshot
        self.calls: dict[int, Call] = {}
        self.meta: dict[int, CallMeta] = {}
        self.previews: dict[int, tuple[int, Claim, float]] = {}  # account -> agent, claim, since
        self.health = DialerHealth()
        # The campaign's registered caller IDs, loaded from SQL with the campaign.
        self.caller_ids = CallerIdCheck((), "caller IDs not loaded yet")
        self.reconciled = False
        self._last_reconcile = clock()
        # Calls of other dialers on the same Asterisk, as its events told (oldest first).
        self.seen: OrderedDict[int, SeenCall] = OrderedDict()
        self._last_refill = 0.0
        self._last_holds_check: float | None = None  # None: not since this loop started
        self._stats_built = False  # rebuilt from SQL once per start, then when lost
        self._last_recordings_check = 0.0
        self._last_reload = 0.0
        self._last_empty_log = 0.0
        self._pending_finishes: list[FinishedCall] = []
        self._finish_lock = asyncio.Lock()
        self._reconcile_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._events = ami.events()
        ami.on_reconnect = self.reconcile
        # Set by the service when it places agent legs (dialer.agent_legs): checked
        # right after reserving, so a debtor is never bridged to a dead leg.
        self.agent_check: Callable[[int], Awaitable[bool]] | None = None

    @staticmethod
    def _policy_for(mode: str) -> Policy:
        return make_policy("predictive" if mode == "predictive" else "progressive")

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Reconcile with Asterisk first: nothing is dialed before that."""
        with contextlib.suppress(AMIError):
            if self.ami.connected:
                await self.reconcile(await self._live_channels())
        self._tasks = [
            asyncio.create_task(self._event_loop(), name=f"dialer-events-{self.name}"),
            asyncio.create_task(self._command_loop(), name=f"dialer-commands-{self.name}"),
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

    async def _live_channels(self) -> list[Message]:
        _, items = await self.ami.send_list_action({"Action": "CoreShowChannels"})
        return items

    # -- the tick --------------------------------------------------------------

    async def tick(self) -> int:
        """One pass of the loop; returns how many calls were originated."""
        now = self.clock()
        try:
            await self._sweep(now)
            await self._retry_finishes()
            if self.recorder is not None:
                await self.recorder.retry()
                await self._close_left_recordings(now)
            await self._reconcile_periodically(now)
            await self._renew_leases(now)
            registries = self._registry_names()
            if now - self._last_reload >= self.options.refill_every_seconds:
                self._last_reload = now
                await self._reload_campaign()
                await self._registry_metrics()
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
            reloading = self._registries_reloading()
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
                placed = await self._pace(snapshot) if turn else 0
            finally:
                if turn:
                    # Published before the next decision may start: it counts them.
                    with contextlib.suppress(RedisError, OSError):
                        await self.floor.publish(self.calls.values())
                        await self.floor.end_turn(self.options.tick_seconds)
            await self._publish_wallboard(now, snapshot, sizes)
            self._set_healthy()
            return placed
        except (RedisError, SQLAlchemyError, OSError) as exc:
            # Fail closed: nothing is dialed while a store is unreachable; the
            # attempts already written stay, their completion is retried.
            self._set_unhealthy(f"store unavailable: {type(exc).__name__}", now)
            log.warning("dialer %s: %s; dialing paused", self.name, exc)
            return 0

    async def _pace(self, snapshot: Snapshot) -> int:
        """The policy's decision for the whole floor, placed by this dialer."""
        wanted = max(0, int(self.policy.calls_to_place(snapshot)))
        m.PACING_TARGET_CALLS.labels(self.name, self.campaign.dial_mode).set(wanted)
        if not wanted:
            return 0
        claims, expired = await self.hopper.claim(
            wanted, self.options.owner, snapshot.now, self.options.lease_seconds
        )
        if expired:
            m.HOPPER_LEASES_EXPIRED.labels(self.name).inc(expired)
        if not claims and snapshot.count("ready"):
            await self._hopper_empty()
        placed = 0
        for claim in claims:
            placed += await self._place(claim)
        return placed

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
        marker is gone, and every CHECK_EVERY_SECONDS. Under the refill lock."""
        last = self._last_holds_check
        if (last is not None and now - last < CHECK_EVERY_SECONDS
                and not await hopper_lost(self.redis, self.name)):  # fmt: skip
            return 0
        self._last_holds_check = now
        mine = {c.account_id for c in self.calls.values()} | set(self.previews)
        released = await release_stranded(self.sql, self.hopper, self.campaign.id, at, mine)
        if released:
            log.warning("dialer %s: %d account(s) held for a hopper that no longer has them "
                        "given back to the refill", self.name, released)  # fmt: skip
        return released

    async def _stats_from_sql(self, now: float) -> None:
        """The abandonment windows and pacing samples rebuilt from call_attempts when
        this loop starts and whenever Redis has lost them, before they are read: pacing
        and the wallboard never see a 0 % that is only a flushed key."""

        async def load(answered_since: float, ended_since: float) -> list[AttemptTimes]:
            return await asyncio.to_thread(store.ended_attempts, self.sql, self.campaign.id,
                                           answered_since, ended_since)  # fmt: skip

        added = await self.stats.ensure_built(now, load, force=not self._stats_built)
        if not self._stats_built or added:
            log.info("dialer %s: abandonment windows and pacing samples rebuilt from %d "
                     "attempt(s)", self.name, added)  # fmt: skip
        self._stats_built = True

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
        if self.caller_ids.problem:
            # CONDUSEF: never a hidden caller ID, only registered ones (REDECO).
            self._set_unhealthy(self.caller_ids.problem, now)
            return False
        return True

    def _registries_reloading(self) -> list[str]:
        sync = self.compliance.registry_sync
        if sync is None:
            return []
        return sorted(set(self._registry_names()) & sync.reloading)

    def _registry_names(self) -> list[str]:
        profile = self.compliance.profile_for(self.campaign, self.campaign.country)
        return [rule.name for rule in profile.registries]

    async def _registry_metrics(self) -> None:
        """Age of each registry the campaign's profile checks, for the stale alert."""
        profile = self.compliance.profile_for(self.campaign, self.campaign.country)
        rows = await asyncio.to_thread(store.latest_registry_imports, self.sql,
                                       [r.name for r in profile.registries])  # fmt: skip
        for rule in profile.registries:
            labels = {"country": self.campaign.country, "registry": rule.name}
            m.REGISTRY_MAX_AGE.labels(**labels).set(rule.max_age_days * 86400)
            row = rows.get(rule.name)
            if row is not None:
                m.REGISTRY_AGE.mark(row.imported_at.timestamp(), **labels)
                m.REGISTRY_ENTRIES.labels(**labels).set(row.count)

    async def _reload_campaign(self) -> None:
        """Status and mode as the console or the CLI last set them (SQL is the truth)."""
        fresh = await asyncio.to_thread(store.load_campaign, self.sql, self.name)
        if fresh is None:
            self.campaign.status = "stopped"
            return
        if fresh.dial_mode != self.campaign.dial_mode:
            self.policy = self._policy_for(fresh.dial_mode)
        self.campaign.status, self.campaign.dial_mode = fresh.status, fresh.dial_mode
        self.campaign.abandon_target = fresh.abandon_target
        self.false_positive_ratio = amd_false_positive_ratio(fresh.config)
        self.campaign.caller_ids = list(fresh.caller_ids or [])
        known = await asyncio.to_thread(
            store.registered_caller_ids, self.sql, self.campaign.country
        )
        self.caller_ids = check_campaign(self.campaign.caller_ids, known, self.campaign.country)

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
        agents = await self.agents.list(self.name)
        await self._stats_from_sql(now)
        ring_samples, talk_samples = await self.stats.samples(now)
        self.window_counts = await self.stats.windows(now)
        # Pacing steers on the legal figure; the early hang-ups are shown beside it.
        abandonment = tuple(c.legal(self.false_positive_ratio) for c in self.window_counts)
        for c, w in zip(self.window_counts, abandonment, strict=True):
            if w.seconds in WINDOW_LABELS:
                label = WINDOW_LABELS[w.seconds]
                if w.human_answered:
                    m.ABANDONMENT_RATIO.labels(self.name, label).set(w.abandoned / w.human_answered)
                m.EARLY_HANGUP_RATIO.labels(self.name, label).set(c.early_ratio)
        target = float(self.campaign.abandon_target)
        m.ABANDONMENT_TARGET.labels(self.name).set(target)
        by_state: dict[str, int] = {}
        for a in agents:
            by_state[a.state.value] = by_state.get(a.state.value, 0) + 1
        for state in ("ready", "reserved", "talking", "wrap_up", "paused", "no_audio"):
            m.AGENTS_BY_STATE.labels(self.name, state).set(by_state.get(state, 0))
        # The floor: every dialer's calls in flight (this one's published first), so
        # several dialers on the campaign pace as one (dialer/floor.py).
        await self.floor.publish(self.calls.values())
        view = await self.floor.read()
        ringing = tuple(RingingCall(at) for at in view.ringing)
        waiting = view.waiting
        m.CALLS_IN_FLIGHT.labels(self.name, "ringing").set(
            sum(1 for c in self.calls.values() if c.is_ringing)
        )
        m.CALLS_IN_FLIGHT.labels(self.name, "connected").set(
            sum(1 for c in self.calls.values() if c.state is CallState.bridged)
        )
        inbound, elsewhere = await snapshot_fields(self.inbound, self.name, self.campaign.config,
                                                   self.campaign.country, now,
                                                   list(self.directory.rules))  # fmt: skip
        self.own_inbound_waits = inbound.get("inbound_waiting", ())
        if elsewhere:
            # Other campaigns' callers this campaign's agents may take (their skill group,
            # or past their overflow limit) come before its outbound calls too.
            skills = frozenset().union(*(self.directory.skills_of(a.agent_id) for a in agents))
            inbound["inbound_waiting"] = callers_for(
                self.name, skills, {**elsewhere, self.name: self.own_inbound_waits},
                self.directory.rules)  # fmt: skip
        return Snapshot(
            now=now,
            agents=tuple(AgentView(a.state.value, a.since) for a in agents),
            ringing=ringing,
            waiting=waiting,
            talk_samples=talk_samples,
            ring_samples=ring_samples,
            stats_at=now - now % 30,
            abandonment=abandonment,
            abandon_target=target,
            connect_grace_seconds=self.options.connect_grace_seconds,
            max_ringing=self.options.max_ringing,
            **inbound,
        )

    # -- placing a call ----------------------------------------------------------

    async def _place(self, claim: Claim) -> int:
        now = self.clock()
        account = await asyncio.to_thread(store.load_account, self.sql, claim.account_id)
        phone = str(claim.payload.get("phone", ""))
        caller_id = self._caller_id()
        if account is None or not phone or caller_id is None:
            # No registered caller ID (a preview dial, or one just unregistered): not placed.
            await self.hopper.release(self.options.owner, claim.account_id, None)
            return 0
        at = store.utc(now)
        assert at is not None
        held = await asyncio.to_thread(store.promise_hold, self.sql, account.id, at)
        if held is not None:
            # A promise saved after the account entered the hopper (the console takes
            # it out, but Redis is a cache): the open promise in SQL has the last word.
            await self.hopper.release(self.options.owner, account.id, None)
            log.info("account %s not dialed: promise open until %s", account.id, held.date())
            return 0
        profile = self.compliance.profile_for(self.campaign, account.country)
        item = Item(account_facts(account), phone_facts(account, phone), profile, self.campaign.id)
        phone_row = next((p for p in account.phones if p.number_e164 == phone), None)
        # Our claim is fresh: an attempt another dialer opened for this account and never
        # took past the final check was never dialed; closed as not placed (create_attempt).
        attempt_id, unplaced = await asyncio.to_thread(
            store.create_attempt, self.sql, mine=set(self.calls), actor=f"dialer:{self.options.owner}",
            account_id=account.id, phone_id=phone_row.id if phone_row else None,
            phone_e164=phone, campaign_id=self.campaign.id, caller_id=caller_id,
            started_at=store.utc(now), source="dialer", direction="outbound",
        )  # fmt: skip
        if unplaced:
            log.warning("attempt(s) %s to account %s left before the final check by another "
                        "dialer closed as not placed", unplaced, account.id)  # fmt: skip
        decision = (await self.compliance.evaluate_batch([item], at))[0]
        if decision.allowed and self.compliance.caps is not None:
            # The final check: every cap checked and this attempt counted, atomically.
            caps = await self.compliance.caps.check_and_count(
                account.id, profile, at, f"a:{attempt_id}"
            )
            if not caps.allowed:
                decision = replace(decision, allowed=False, reasons=tuple(caps.reasons))
        elif self.compliance.caps is None:
            decision = replace(decision, allowed=False, reasons=("registry_unavailable",))
        decision_id = await asyncio.to_thread(self._record_decision, item, decision)
        m.DECISIONS.labels(
            self.name, self.campaign.country, "originate", str(decision.allowed).lower()
        ).inc()
        if not decision.allowed:
            for reason in decision.reasons:
                m.DECISION_BLOCKS.labels(
                    self.name, self.campaign.country, "originate", reason
                ).inc()
            if not await asyncio.to_thread(store.start_placing, self.sql, attempt_id,
                                           result="blocked", ended_at=at,
                                           decision_id=decision_id):  # fmt: skip
                return self._closed_by_another(attempt_id)
            await asyncio.to_thread(self._sleep_account, account.id, decision)
            await self.hopper.release(self.options.owner, account.id, None)
            log.info("attempt %s to %s blocked at originate: %s", attempt_id, mask_phone(phone),
                     ",".join(decision.reasons))  # fmt: skip
            return 0
        if not await asyncio.to_thread(store.start_placing, self.sql, attempt_id,
                                       decision_id=decision_id,
                                       debtor_local_time=decision.local_time):  # fmt: skip
            return self._closed_by_another(attempt_id)
        call = Call(attempt_id=attempt_id, account_id=account.id, dialed_at=now)
        self.calls[attempt_id] = call
        self.meta[attempt_id] = CallMeta(claim=claim, phone=phone, profile_name=profile.name,
                                         callback_id=claim.payload.get("callback_id"))  # fmt: skip
        action = {
            "Action": "Originate",
            "Channel": cv.debtor_channel(phone),
            "Context": cv.CONTEXT_ANSWER,
            "Exten": "s",
            "Priority": 1,
            "Async": "true",
            "Timeout": int(self.options.ring_timeout_seconds * 1000),
            "ChannelId": cv.originate_channel_id(attempt_id),
            "CallerID": f'"{self.campaign.name}" <{caller_id}>',
            "Variable": (
                f"{cv.ATTEMPT_ID}={attempt_id},{cv.CAMPAIGN}={self.name},"
                f"{cv.AGI_HOST}={self.options.agi_host},{cv.AGI_PORT}={self.options.agi_port}"
            ),
        }
        try:
            await self.ami.send_action(action)
        except AMIError as exc:
            # Never re-sent: the debtor may already be ringing. Reconciliation
            # with Asterisk's live channels decides what happened.
            self.meta[attempt_id].unknown_since = now
            m.ORIGINATE_ERRORS.labels(self.name, error_reason(exc)).inc()
            log.warning("originate of attempt %s uncertain (%s); not re-sent", attempt_id, exc)
            return 0
        m.CALLS_PLACED.labels(self.name, self.campaign.dial_mode).inc()
        log.info("attempt %s: dialing %s", attempt_id, mask_phone(phone))
        return 1

    @staticmethod
    def _closed_by_another(attempt_id: int) -> int:
        """Our claim expired between writing the attempt and the final check, and the
        dialer that claimed the account next closed the attempt (not placed): the
        account is theirs now. Nothing dialed, nothing released."""
        log.warning("attempt %s closed by another dialer before originate; not dialed",
                    attempt_id)  # fmt: skip
        return 0

    def _caller_id(self) -> str | None:
        """One of the campaign's registered caller IDs, in turn; None: do not dial."""
        ids = self.caller_ids.usable
        if not ids:
            return None
        return str(ids[len(self.calls) % len(ids)])

    def _record_decision(self, item: Item, decision: Decision) -> int:
        from store.db import transaction

        with transaction(self.sql) as s:
            return int(
                self.compliance.record(s, [item], [decision], "originate", actor="dialer")[0].id
            )

    def _sleep_account(self, account_id: int, decision: Decision) -> None:
        from dialer.refill import backoff_for
        from store.db import transaction
        from store.models import Account

        with transaction(self.sql) as s:
            account = s.get(Account, account_id)
            if account is not None:
                when = datetime.fromtimestamp(self.clock()).astimezone() + backoff_for(
                    decision.reasons
                )
                account.next_attempt_at = when
                account.hopper_since = None

    # -- AMI events -----------------------------------------------------------

    async def _event_loop(self) -> None:
        async for event in self._events:
            try:
                await self.handle_event(event)
            except (RedisError, SQLAlchemyError, OSError):
                log.exception("dialer %s: event %s not handled", self.name, event.get("Event"))

    @staticmethod
    def _attempt_of(event: Message) -> int | None:
        uid = event.get("Uniqueid") or ""
        prefix = cv.originate_channel_id("")
        if not uid.startswith(prefix) or ";" in uid:
            return None
        try:
            return int(uid[len(prefix) :])
        except ValueError:
            return None

    async def handle_event(self, event: Message) -> None:
        attempt_id = self._attempt_of(event)
        if attempt_id is None:
            return
        if attempt_id not in self.calls:
            self._saw(attempt_id, event)
            return
        now = self.clock()
        name = event.get("Event")
        call = self.calls[attempt_id]
        meta = self.meta[attempt_id]
        if event.get("Channel") and name != "OriginateResponse":
            meta.channel = event.get("Channel")
        if name == "Newstate":
            state = event.get("ChannelState")
            if state == "5":
                self.calls[attempt_id] = cs.on_ringing(call, now)
            elif state == "6":
                self.calls[attempt_id] = cs.on_answer(call, now)
                m.CALLS_ANSWERED.labels(self.name, "answered").inc()
        elif name == "OriginateResponse" and event.get("Response") == "Failure":
            # The Hangup event carries the real cause; it may come before or after.
            meta.originate_failed = int(event.get("Reason") or 0)
            meta.originate_failed_at = now
        elif name in ("MixMonitorStart", "MixMonitorStop") and self.recorder is not None:
            self.recorder.on_event(attempt_id, str(name))
        elif name == "Hangup":
            cause = event.get("Cause")
            await self._finish(
                attempt_id,
                cs.on_hangup(call, int(cause) if cause and cause.isdigit() else None, now),
            )

    def _saw(self, attempt_id: int, event: Message) -> None:
        """Another dialer's call (or one this dialer forgot): its answer and end, kept."""
        name = event.get("Event")
        answered = name == "Newstate" and event.get("ChannelState") == "6"
        if not answered and name != "Hangup":
            return
        seen = self.seen.get(attempt_id)
        if seen is None:
            seen = self.seen[attempt_id] = SeenCall()
            while len(self.seen) > SEEN_CALLS_KEPT:
                self.seen.popitem(last=False)
        now = self.clock()
        if answered:
            seen.answered_at = seen.answered_at or now
        else:
            cause = event.get("Cause")
            seen.ended_at = now
            seen.cause = int(cause) if cause and cause.isdigit() else None

    async def _sweep(self, now: float) -> None:
        """End calls whose end we will not hear about: an Originate that failed
        without a channel, or a call far past any plausible length."""
        for attempt_id, call in list(self.calls.items()):
            meta = self.meta[attempt_id]
            if meta.originate_failed_at is not None and now - meta.originate_failed_at > 5:
                await self._finish(
                    attempt_id, cs.on_originate_failed(call, meta.originate_failed, now)
                )
            elif now - call.dialed_at > self.options.stuck_call_seconds:
                await self._finish(attempt_id, cs.on_hangup(call, None, now))

    async def reconcile(self, channels: list[Message]) -> None:
        """After (re)connecting: calls Asterisk no longer has ended while we were away."""
        async with self._reconcile_lock:  # the AMI client's callback and the tick
            await self._reconcile(channels)

    async def _reconcile(self, channels: list[Message]) -> None:
        live = {self._attempt_of(c) for c in channels}
        now = self.clock()
        for attempt_id, call in list(self.calls.items()):
            if attempt_id not in live:
                log.info("attempt %s ended while AMI was away", attempt_id)
                await self._finish(attempt_id, cs.on_hangup(call, None, now))
            else:
                self.meta[attempt_id].unknown_since = None
        await self._close_orphans({a for a in live if a is not None}, now)
        self.reconciled = True

    async def _reconcile_periodically(self, now: float) -> None:
        """A dialer that dies leaves attempts open and agents "talking": every
        `reconcile_every_seconds` (at once while a reconciliation is owed, e.g. one
        that met a Redis outage after an AMI reconnect) the live channels are read
        again and what dead dialers left is closed. Not our own calls: an Originate
        just sent may have no channel yet."""
        if not self.ami.connected:
            return
        if self.reconciled and now - self._last_reconcile < self.options.reconcile_every_seconds:
            return
        self._last_reconcile = now
        try:
            channels = await self._live_channels()
        except AMIError as exc:
            log.warning("dialer %s: live channels not read (%s); reconciliation later",
                        self.name, exc)  # fmt: skip
            return
        if not self.reconciled:
            await self.reconcile(channels)
            return
        async with self._reconcile_lock:
            await self._close_orphans(
                {a for c in channels if (a := self._attempt_of(c)) is not None}, now
            )

    async def _close_orphans(self, live: set[int], now: float) -> None:
        """Attempts another (dead) dialer left open: no live channel, nobody to end them.
        Not those of accounts another dialer still holds a lease on: that dialer is
        alive and its calls live on its own Asterisk, which we do not see. Each is closed
        with what Asterisk reported of it (`seen`), its agent released; then any agent
        still shown on a call that has ended in SQL is released too."""
        others = await self.hopper.held_by_others(self.options.owner, now)
        on_call = {a.attempt_id: a for a in await self.agents.list(self.name)
                   if a.attempt_id is not None
                   and a.state in (AgentState.reserved, AgentState.talking)}  # fmt: skip

        recorded = self._pbx_record_reader()

        def outcome(attempt: Any) -> dict[str, Any]:
            seen = self.seen.get(attempt.id, SeenCall())
            agent = on_call.get(attempt.id)
            pbx = recorded(attempt.id)
            if pbx is not None:
                return self._pbx_outcome(attempt.id, pbx, agent)
            bridged = agent is not None and agent.state is AgentState.talking
            result = cs.orphan_result(answered=seen.answered_at is not None,
                                      ended=seen.ended_at is not None, bridged=bridged,
                                      cause=seen.cause)  # fmt: skip
            started = attempt.started_at.replace(tzinfo=UTC) if attempt.started_at.tzinfo is None \
                else attempt.started_at  # fmt: skip
            # The end Asterisk reported; else the last moment known: the agent's.
            last = max(started.timestamp(), agent.since if agent is not None else 0.0)
            return {"result": result, "ended_at": store.utc(seen.ended_at or last),
                    "answered_at": store.utc(seen.answered_at), "hangup_cause": seen.cause,
                    "bridged_at": store.utc(agent.since) if bridged and agent else None,
                    "agent_id": agent.agent_id if bridged and agent else None,
                    "uniqueid": cv.originate_channel_id(attempt.id)}  # fmt: skip

        closed = await asyncio.to_thread(
            store.close_lost_attempts, self.sql, self.campaign.id, live, set(self.calls),
            store.utc(now - self.options.orphan_grace_seconds), self.options.owner, others,
            outcome,
        )  # fmt: skip
        for attempt in closed:
            self.seen.pop(attempt.id, None)
            log.warning("dialer %s: attempt %s left open by a stopped dialer closed as %s",
                        self.name, attempt.id, attempt.result)  # fmt: skip
            if attempt.result != "not_placed":
                m.CALL_RESULTS.labels(self.name, str(attempt.result)).inc()
        await self._release_agents_of_ended(on_call)
        if self.recorder is not None:
            await self.recorder.reconcile(
                live | set(self.calls), lambda ids: store.attempts_ended_at(self.sql, ids)
            )

    def _pbx_record_reader(self) -> Callable[[int], pbx_records.Outcome | None]:
        """Asterisk's own record of a call (its CEL file, when this dialer can read
        it): read once per reconciliation, and only if an orphan needs it (it runs
        in the closing thread)."""
        path = self.options.pbx_cel_path
        calls: dict[int, pbx_records.PbxCall] | None = None

        def recorded(attempt_id: int) -> pbx_records.Outcome | None:
            nonlocal calls
            if path is None:
                return None
            if calls is None:
                try:
                    rows = pbx_records.read_records(path, pbx_records.CEL_FIELDS)
                except OSError as exc:
                    log.warning(
                        "dialer %s: Asterisk's CEL %s unreadable (%s)", self.name, path, exc
                    )
                    rows = []
                calls = pbx_records.calls_from_cel(rows)
            call = calls.get(attempt_id)
            return pbx_records.orphan_outcome(call) if call is not None else None

        return recorded

    def _pbx_outcome(self, attempt_id: int, pbx: pbx_records.Outcome,
                     agent: Any) -> dict[str, Any]:  # fmt: skip
        """An orphan closed as Asterisk recorded it: its result and Asterisk's times
        (its wall clock; this dialer's clock is the same up to a constant, which
        tests use to move into a shift)."""
        shift = self.clock() - time.time()

        def at(stamp: float | None) -> datetime | None:
            return store.utc(stamp + shift) if stamp is not None else None

        contact = pbx.result == "contact"
        return {"result": pbx.result, "ended_at": at(pbx.ended_at),
                "answered_at": at(pbx.answered_at), "hangup_cause": pbx.cause,
                "bridged_at": at(pbx.bridged_at) if contact else None,
                "agent_id": agent.agent_id if contact and agent is not None else None,
                "uniqueid": cv.originate_channel_id(attempt_id)}  # fmt: skip

    async def _release_agents_of_ended(self, on_call: dict[int, Any]) -> None:
        """Agents still reserved or talking on an attempt that SQL has closed (a dead
        dialer's, an inbound call whose end met a Redis outage) go to wrap-up."""
        ids = [a for a in on_call if a not in self.calls]
        if not ids:
            return
        ended = await asyncio.to_thread(store.attempts_ended_at, self.sql, ids)
        for attempt_id in ids:
            if ended.get(attempt_id) is None:
                continue  # open: a live call (inbound, or another dialer's)
            agent = on_call[attempt_id]
            if await self.agents.release(agent.agent_id, attempt_id):
                log.warning("agent %s released: attempt %s had ended", agent.agent_id, attempt_id)

    # -- the FastAGI answer route -----------------------------------------------

    async def agi_answer(self, agi: AGISession) -> None:
        raw_id = await agi.get_variable(cv.ATTEMPT_ID)
        attempt_id = int(raw_id) if raw_id and raw_id.isdigit() else None
        call = self.calls.get(attempt_id) if attempt_id is not None else None
        if attempt_id is None or call is None:
            # Not ours (or forgotten): a person may be on the line, so the
            # safe-harbor message plays rather than silence.
            await agi.set_variable(cv.ACTION, cv.ACTION_SAFE_HARBOR)
            return
        now = self.clock()
        amd = (await agi.get_variable(cv.AMD_STATUS) or "").upper()
        if call.state in (CallState.queued, CallState.ringing):
            call = cs.on_answer(call, now)
        if amd == cv.AMD_MACHINE:
            self.calls[attempt_id] = cs.on_amd(call, False, now)
            await agi.set_variable(cv.ACTION, cv.ACTION_HANGUP)
            return
        # The 2 s run from the end of the greeting, which AMD heard end some silence
        # before its verdict (AMDCAUSE); without AMD, from now (the answer).
        cause = await agi.get_variable(cv.AMD_CAUSE) if amd else None
        call = cs.on_amd(call, True, now, cs.greeting_end(cause, now),
                         self.options.connect_grace_seconds)  # fmt: skip
        self.calls[attempt_id] = call
        meta = self.meta[attempt_id]
        deadline = call.connect_by if call.connect_by is not None else now
        agent_id = await self._reserve_agent(attempt_id, deadline,
                                             meta.claim.payload.get("agent_id"))  # fmt: skip
        if attempt_id not in self.calls:
            # The debtor hung up while we looked for an agent (an early hang-up, or an
            # abandon if the grace had run out): the Hangup already ended the attempt.
            if agent_id is not None:
                with contextlib.suppress(AgentStateError):
                    await self.agents.set_ready(agent_id)
            return
        if agent_id is None:
            self.calls[attempt_id] = cs.on_abandoned(self.calls[attempt_id], self.clock())
            if self.recorder is not None:  # proves the message played
                await self.recorder.at_answer(agi, attempt_id, cv.ACTION_SAFE_HARBOR)
            await agi.set_variable(cv.ACTION, cv.ACTION_SAFE_HARBOR)
            log.info(
                "attempt %s abandoned: no agent within %.1f s",
                attempt_id,
                self.options.connect_grace_seconds,
            )
            return
        try:
            if self.recorder is not None:
                await self.recorder.at_answer(agi, attempt_id, cv.ACTION_BRIDGE)
            await agi.set_variable(cv.BRIDGE, cv.agent_bridge(agent_id))
            await agi.set_variable(cv.ACTION, cv.ACTION_BRIDGE)
        except AGIError:
            # The debtor hung up (or the AGI link failed) between the reservation and
            # the bridge: the agent would stay reserved for a call that is gone, and
            # never get another. Released through wrap-up, as after any call.
            with contextlib.suppress(AgentStateError):
                await self.agents.wrap_up(agent_id)
            raise
        bridged_at = self.clock()
        self.calls[attempt_id] = cs.on_bridged(self.calls[attempt_id], agent_id, bridged_at)
        m.ANSWER_TO_BRIDGE.labels(self.name).observe(max(0.0, bridged_at - (call.human_at or now)))
        with contextlib.suppress(AgentStateError):
            await self.agents.talking(agent_id, attempt_id)
        recording = self.recorder.pop_fields() if self.recorder else {}
        await self.notifier.send(msg.Pop(
            attempt_id=attempt_id, agent_id=agent_id, account_id=call.account_id,
            campaign=self.name, published_at=time.time(), recording=recording.get("recording"),
            recording_notice=recording.get("recording_notice"),
        ))  # fmt: skip

    async def _reserve_agent(self, attempt_id: int, deadline: float, preferred: Any) -> int | None:
        """The longest-idle ready agent (a personal callback's own agent first),
        retried until the connect grace runs out."""
        while True:
            agents = [a for a in await self.agents.list(self.name) if a.state.value == "ready"]
            if agents:
                # Inbound callers an agent may take get the agent first; only an agent's
                # own call (preview, personal callback) still goes to them.
                owed = await self._owed_to_inbound([a.agent_id for a in agents])
                agents = [a for a in agents if a.agent_id not in owed
                          or (preferred is not None and a.agent_id == int(preferred))]  # fmt: skip
            agents.sort(key=lambda a: a.since)
            if preferred is not None:
                agents.sort(key=lambda a: a.agent_id != int(preferred))
            for agent in agents:
                # Remembered before asking: a reply lost with Redis may hide a reservation.
                self.meta[attempt_id].reserved.add(agent.agent_id)
                if not await self.agents.reserve(agent.agent_id, attempt_id):
                    continue
                if await self._still_usable(agent.agent_id, attempt_id):
                    return agent.agent_id
            if self.clock() >= deadline:
                return None
            await asyncio.sleep(0.05)

    async def _owed_to_inbound(self, ready: list[int]) -> set[int]:
        """The ready agents an inbound caller waits for (dialer.inbound.routing.owes_inbound):
        this campaign's callers, a skill group's the agent is in, or an overflowed caller of
        any campaign. One Redis round trip; routing and groups from the cached directory."""
        campaigns = [self.name, *(c for c in self.directory.rules if c != self.name)]
        oldest = await self.inbound.oldest(campaigns)
        if not oldest:
            return set()
        now = self.clock()
        waits = {c: max(0.0, now - since) for c, since in oldest.items()}
        return {a for a in ready if owes_inbound(self.name, self.directory.skills_of(a), waits,
                                                 self.directory.rules)}  # fmt: skip

    async def _still_usable(self, agent_id: int, attempt_id: int) -> bool:
        """Reserved, and still so with a live leg: a leg that dropped meanwhile put
        the agent in no_audio, and the debtor is treated as having no agent."""
        if self.agent_check is not None and not await self.agent_check(agent_id):
            return False
        snap = await self.agents.get(agent_id)
        return snap.state.value == "reserved" and snap.attempt_id == attempt_id

    # -- the end of a call ------------------------------------------------------

    async def _finish(self, attempt_id: int, call: Call) -> None:
        """The call ended: its result is queued, in order, and written to SQL before
        anything else happens (the result is evidence); the agent, the hopper, the
        campaign's statistics and the recording follow from that written record
        (`_write_finishes`). A Redis or SQL outage delays them, never loses them."""
        self.calls.pop(attempt_id, None)
        meta = self.meta.pop(attempt_id, None)
        if meta is None:
            return  # finished already (a reconciliation and its event at once)
        result = call.result or "failed"
        ended = call.ended_at or self.clock()
        values: dict[str, Any] = {
            "result": result,
            "ended_at": store.utc(ended),
            "answered_at": store.utc(call.answered_at),
            "bridged_at": store.utc(call.bridged_at),
            "hangup_cause": call.hangup_cause,
            "agent_id": call.agent_id,
            "channel": meta.channel,
            "uniqueid": cv.originate_channel_id(attempt_id),
        }
        self._pending_finishes.append(
            FinishedCall(attempt_id, replace(call, result=result, ended_at=ended), meta, values)
        )
        await self._retry_finishes()
        log.info("attempt %s ended: %s", attempt_id, result)

    async def _retry_finishes(self) -> None:
        """Write completed attempts, then act on them; retried by every tick while
        SQL or Redis is away."""
        async with self._finish_lock:  # the event loop and the tick both get here
            await self._write_finishes()

    async def _write_finishes(self) -> None:
        # 1. SQL, in the order the calls ended: nothing else may fail before this.
        for finished in self._pending_finishes:
            if finished.written:
                continue
            call = finished.call
            result, ended = str(call.result), float(call.ended_at or 0.0)

            def when(in_a_row: int, result: str = result, ended: float = ended) -> datetime:
                at = next_attempt_after(result, in_a_row, ended, self.recycle_rules)
                return datetime.fromtimestamp(at).astimezone()

            try:
                await asyncio.to_thread(store.finish_attempt, self.sql, finished.attempt_id,
                                        call.account_id, finished.values, when,
                                        finished.meta.callback_id)  # fmt: skip
            except SQLAlchemyError:
                log.warning("attempt %s completion not written yet (SQL unavailable)",
                            finished.attempt_id)  # fmt: skip
                break
            finished.written = True
            self._count_finish(call)  # /metrics counts what SQL has, once
            if self.recorder is not None:  # its row refers to the attempt's written end
                self.recorder.close(finished.attempt_id, ended)
        # 2. From the written record: statistics, caps, the agent, the lease (Redis).
        while self._pending_finishes and self._pending_finishes[0].written:
            finished = self._pending_finishes[0]
            try:
                await self._after_finish(finished)
            except (RedisError, OSError) as exc:
                log.warning("attempt %s written; agent and statistics not updated yet (%s)",
                            finished.attempt_id, type(exc).__name__)  # fmt: skip
                return
            self._pending_finishes.pop(0)

    def _count_finish(self, call: Call) -> None:
        result, ended = str(call.result), float(call.ended_at or 0.0)
        m.CALL_RESULTS.labels(self.name, result).inc()
        if result == "abandoned":
            m.ABANDONED.labels(self.name).inc()
        ring_end = call.answered_at or ended
        m.RING_TIME.labels(self.name).observe(max(0.0, ring_end - call.dialed_at))
        if call.bridged_at is not None:
            m.TALK_TIME.labels(self.name).observe(max(0.0, ended - call.bridged_at))

    async def _after_finish(self, finished: FinishedCall) -> None:
        """Every step is idempotent: a retry after a partial failure repeats none twice."""
        call, attempt_id = finished.call, finished.attempt_id
        result, ended = str(call.result), float(call.ended_at or 0.0)
        values = finished.values
        # The figures from the row as SQL keeps it: a rebuild from SQL finds the same.
        await self.stats.record_end(AttemptTimes(
            attempt_id, result, store.epoch(store.utc(call.dialed_at)) or 0.0,
            store.epoch(values["answered_at"]), store.epoch(values["bridged_at"]),
            store.epoch(values["ended_at"]) or ended))  # fmt: skip
        if result == "abandoned" and self.compliance.caps is not None:
            await self.compliance.caps.record_abandon(
                call.account_id, attempt_id, datetime.fromtimestamp(ended).astimezone()
            )
        agents = set(finished.meta.reserved)
        if call.agent_id is not None:
            agents.add(call.agent_id)
        for agent_id in sorted(agents):
            await self.agents.release(agent_id, attempt_id)  # only if still on this call
        await self.hopper.release(self.options.owner, call.account_id, None)

    async def _renew_leases(self, now: float) -> None:
        for account_id, (_, _, since) in list(self.previews.items()):
            if now - since > PREVIEW_HOLD_SECONDS:  # the agent walked away
                del self.previews[account_id]
                await self.hopper.release(self.options.owner, account_id, now)
        accounts = [c.account_id for c in self.calls.values()] + list(self.previews)
        if accounts:
            await self.hopper.renew(self.options.owner, accounts, now, self.options.lease_seconds)

    # -- commands from the console and the imports ------------------------------------

    async def _command_loop(self) -> None:
        """Commands from the console and the imports. Polls (never blocks forever),
        so stopping needs no cancellation, and resubscribes after a Redis outage."""
        while not self._stopping.is_set():
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(msg.COMMANDS_CHANNEL)
                while not self._stopping.is_set():
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                    if message is None or message.get("type") != "message":
                        continue
                    try:
                        await self.handle_command(msg.parse_command(message["data"]))
                    except (ValueError, KeyError, TypeError, AMIError):  # MessageError too
                        log.warning(
                            "dialer %s: bad or failed command %r", self.name, message.get("data")
                        )
            except (RedisError, OSError):
                log.warning("dialer %s: commands channel unavailable; retrying", self.name)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 1.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[attr-defined]

    async def handle_command(self, command: msg.Command) -> None:
        """One branch per command (dialer/messages.py); the phone service's are not ours."""
        campaign = getattr(command, "campaign", None)
        if campaign is not None and campaign != self.name:
            return  # another campaign's dialer acts on it
        match command:
            case msg.StopAccount():
                await self.stop_account(command.account_id)
            case msg.Hangup():
                await self._carry_out(command, self.hangup(command.attempt_id, command.agent_id))
            case msg.RecordingStart() | msg.RecordingStop():
                await self._recording_command(
                    isinstance(command, msg.RecordingStart), command.attempt_id, command.agent_id
                )
            case msg.Transfer():
                await self._carry_out(command, self.transfer(
                    command.attempt_id, command.agent_id, command.to_agent_id))  # fmt: skip
            case msg.PreviewRequest():
                await self.preview_request(command.agent_id)
            case msg.PreviewDial():
                await self.preview_dial(command.agent_id, command.account_id)
            case msg.PreviewSkip():
                await self.preview_skip(command.agent_id, command.account_id)
            case msg.CampaignChange():
                self.campaign.status = command.status or self.campaign.status
                mode = command.dial_mode or self.campaign.dial_mode
                if mode != self.campaign.dial_mode:  # a new policy forgets what it learned
                    self.campaign.dial_mode = mode
                    self.policy = self._policy_for(mode)

    async def _carry_out(
        self, command: msg.Hangup | msg.Transfer, action: Awaitable[Reply | None]
    ) -> None:
        """Run a hangup or a transfer and, for the call this dialer holds, tell the
        console whether it was done (dialer/command_replies.py). None: not our call."""
        try:
            reply = await action
        except AMIError as exc:
            log.warning("%s of attempt %s failed: %s", command.TYPE, command.attempt_id, exc)
            reply = Reply(False, ASTERISK)
        request_id = valid_request_id(command.request_id)
        if reply is not None and request_id is not None:
            await send_reply(self.redis, request_id, reply)

    async def _recording_command(self, start: bool, attempt_id: int, agent_id: int) -> None:
        """on_demand recording from the console: only on the agent's own live call,
        outbound (this loop's) or inbound (bridged by this process, see Recorder.attach_inbound)."""
        call = self.calls.get(attempt_id)
        if self.recorder is None:
            return
        if call is None:
            owner = self.recorder.inbound_agent(attempt_id)
            if owner is None:
                return  # another dialer's call, or over
            if owner != agent_id:
                log.warning("recording %s of inbound attempt %s refused: not a live call of agent %s",
                            "start" if start else "stop", attempt_id, agent_id)  # fmt: skip
                return
        elif call.state is not CallState.bridged or call.agent_id != agent_id:
            log.warning("recording %s of attempt %s refused: not a live call of agent %s",
                        "start" if start else "stop", attempt_id, agent_id)  # fmt: skip
            return
        if start:
            await self.recorder.start(attempt_id)
        else:
            await self.recorder.stop(attempt_id)

    async def hangup(self, attempt_id: int, agent_id: int | None) -> Reply | None:
        """The agent's "Colgar": AMI Hangup on the debtor's channel. Outbound: this
        loop's originated channel; the Hangup event ends the attempt as usual. Inbound:
        the caller's channel of a call this process bridged (Recorder.attach_inbound),
        only for the agent who took it; the `h` extension's `inbound_end` then closes
        the attempt (`contact`) and puts the agent in wrap-up, as when the caller hangs up."""
        if attempt_id in self.calls:
            channel = self.meta[attempt_id].channel or cv.originate_channel_id(attempt_id)
        else:
            leg = self.recorder.inbound_leg(attempt_id) if self.recorder is not None else None
            if leg is None:
                return None  # another dialer's (or loop's) call, or over
            channel, owner = leg
            if owner != agent_id:
                log.warning("hangup of inbound attempt %s refused: not a live call of agent %s",
                            attempt_id, agent_id)  # fmt: skip
                return Reply(False, REFUSED)
        await self.ami.send_action({"Action": "Hangup", "Channel": channel, "Cause": 16})
        log.info("attempt %s hung up by agent %s", attempt_id, agent_id)
        return Reply(True)

    # -- preview mode: the agent sees the account, then chooses to call ---------

    async def preview_request(self, agent_id: int) -> None:
        if any(agent == agent_id for agent, _, _ in self.previews.values()):
            return  # one account at a time per agent
        now = self.clock()
        claims, _ = await self.hopper.claim(1, self.options.owner, now, self.options.lease_seconds)
        if not claims:
            await self._hopper_empty()
            return
        claim = claims[0]
        self.previews[claim.account_id] = (agent_id, claim, now)
        await self.notifier.send(msg.PreviewOffer(
            agent_id=agent_id, account_id=claim.account_id, campaign=self.name,
            published_at=time.time(),
        ))  # fmt: skip

    async def preview_dial(self, agent_id: int, account_id: int) -> None:
        held = self.previews.get(account_id)
        if held is None or held[0] != agent_id:
            log.warning(
                "preview dial refused: account %s is not previewed by agent %s",
                account_id,
                agent_id,
            )
            return
        del self.previews[account_id]
        _, claim, _ = held
        # The agent who chose to call is the one the debtor is bridged to.
        await self._place(replace(claim, payload={**claim.payload, "agent_id": agent_id}))

    async def preview_skip(self, agent_id: int, account_id: int) -> None:
        held = self.previews.get(account_id)
        if held is None or held[0] != agent_id:
            return
        del self.previews[account_id]
        await self.hopper.release(
            self.options.owner, account_id, self.clock() + PREVIEW_SKIP_SECONDS
        )

    # -- transfer to another agent ----------------------------------------------

    async def transfer(
        self, attempt_id: int, from_agent: int, to_agent: int | None
    ) -> Reply | None:
        """Move a bridged debtor into another agent's bridge (Setvar + Redirect,
        as recorded on Asterisk 22); the first agent keeps their own leg."""
        call = self.calls.get(attempt_id)
        if call is None:
            if self.recorder is not None and self.recorder.inbound_leg(attempt_id) is not None:
                # The caller's channel runs [cobrador-inbound-call], whose `h` extension
                # closes the attempt: a Redirect into another bridge would skip it. The
                # console refuses inbound transfers before they get here.
                log.warning("transfer of inbound attempt %s refused: inbound calls are not "
                            "transferred", attempt_id)  # fmt: skip
                return Reply(False, REFUSED)
            return None  # another dialer's call
        if call.state is not CallState.bridged or call.agent_id != from_agent:
            log.warning(
                "transfer of attempt %s refused: not a live call of agent %s",
                attempt_id,
                from_agent,
            )
            return Reply(False, REFUSED)
        candidates = [to_agent] if to_agent is not None else [
            a.agent_id for a in sorted(await self.agents.list(self.name), key=lambda a: a.since)
            if a.state.value == "ready" and a.agent_id != from_agent
        ]  # fmt: skip
        target = None
        for agent_id in candidates:
            if await self.agents.reserve(agent_id, attempt_id):
                target = agent_id
                break
        if target is None:
            log.info("transfer of attempt %s: no agent ready", attempt_id)
            return Reply(False, NO_AGENT)
        channel = cv.originate_channel_id(attempt_id)
        try:
            await self.ami.send_action({"Action": "Setvar", "Channel": channel, "Variable": cv.BRIDGE,
                                        "Value": cv.agent_bridge(target)})  # fmt: skip
            await self.ami.send_action({"Action": "Redirect", "Channel": channel, "Context": cv.CONTEXT_ANSWER,
                                        "Exten": "action-bridge", "Priority": 1})  # fmt: skip
        except AMIError as exc:
            log.warning("transfer of attempt %s failed: %s", attempt_id, exc)
            with contextlib.suppress(AgentStateError):
                await self.agents.set_ready(target)
            return Reply(False, ASTERISK)
        self.calls[attempt_id] = replace(call, agent_id=target)
        with contextlib.suppress(AgentStateError):
            await self.agents.talking(target, attempt_id)
            await self.agents.wrap_up(from_agent)
        await self.notifier.send(msg.Pop(
            attempt_id=attempt_id, agent_id=target, account_id=call.account_id,
            campaign=self.name, transferred_from=from_agent, published_at=time.time(),
        ))  # fmt: skip
        return Reply(True)

    async def stop_account(self, account_id: int) -> None:
        """Out of the hopper at once; a call to it not yet answered is hung up."""
        await self.hopper.remove(account_id)
        for attempt_id, call in list(self.calls.items()):
            if call.account_id == account_id and call.is_ringing:
                self.calls[attempt_id] = cs.on_cancelled(call)
                meta = self.meta[attempt_id]
                # Asterisk accepts the Uniqueid (our ChannelId) as Hangup's Channel.
                channel = meta.channel or cv.originate_channel_id(attempt_id)
                with contextlib.suppress(AMIError):
                    await self.ami.send_action(
                        {"Action": "Hangup", "Channel": channel, "Cause": 16}
                    )
                log.info("attempt %s hung up before answer: account stopped", attempt_id)

    async def _hopper_empty(self) -> None:
        raw = await self.redis.get(health_key(self.name))
        health = json.loads(raw) if raw else {}
        reasons = health.get("blocked", {})
        if not reasons:
            # No account is due: each waits for its next attempt time (recycling,
            # backoff after a block) or the campaign has none left.
            reasons = {"none_due": 1}
            m.HOPPER_EMPTY.labels(self.name, "none_due").inc()
        for reason in health.get("blocked", {}):
            m.HOPPER_EMPTY.labels(self.name, reason).inc()
        now = self.clock()
        if now - self._last_empty_log < 60:
            return
        self._last_empty_log = now
        log.info(
            "dialer %s: agents ready but the hopper is empty; blocked: %s",
            self.name,
            reasons or "none",
        )

    async def _publish_wallboard(
        self, now: float, snapshot: Snapshot, sizes: dict[str, int]
    ) -> None:
        raw = await self.redis.get(health_key(self.name))
        health = json.loads(raw) if raw else {}
        board = {
            "at": now,
            "campaign": self.name,
            "dial_mode": self.campaign.dial_mode,
            "status": self.campaign.status,
            "dialer": {"ok": self.health.ok, "reason": self.health.reason},
            "calls": {
                "ringing": len(snapshot.ringing),
                "waiting": snapshot.waiting,
                "connected": sum(1 for c in self.calls.values() if c.state is CallState.bridged),
            },
            "abandonment": {
                WINDOW_LABELS.get(w.seconds, f"{int(w.seconds)}s"): {
                    # The legal figure (what pacing steers on) and, beside it, who hung up
                    # before an agent was due: not abandons, shown so nobody mistakes them.
                    "human_answered": w.human_answered,
                    "abandoned": w.abandoned,
                    "ratio": (w.abandoned / w.human_answered) if w.human_answered else 0.0,
                    "machine_drops": c.machine_drops if c else 0,
                    "early_hangups": c.early_hangups if c else 0,
                    "early_ratio": c.early_ratio if c else 0.0,
                }
                for w in snapshot.abandonment
                for c in [next((c for c in self.window_counts if c.seconds == w.seconds), None)]
            },  # fmt: skip
            "amd_false_positive_ratio": self.false_positive_ratio,
            "abandon_target": snapshot.abandon_target,
            "hopper": {**sizes, "health": health},
            # Registries being reloaded into Redis from SQL: their calls are blocked.
            "registries_reloading": self._registries_reloading(),
            "inbound": await inbound_board(self.inbound, self.name, now, service_level_seconds(
                self.campaign.config, self.campaign.country), self.own_inbound_waits),
        }  # fmt: skip
        await self.redis.set(msg.wallboard_key(self.name), json.dumps(board), ex=60)


__all__ = ["AGIError", "CampaignDialer", "DialerOptions"]
