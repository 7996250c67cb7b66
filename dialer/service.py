"""The dialer process: one AMI link, one FastAGI server, one dial loop per
running campaign, /metrics. Built from settings; stops cleanly on request."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from cobrador.ground.settings import Settings
from compliance.service import ComplianceService
from compliance.transparency import runtime as audit_log
from compliance.transparency.keeper import AuditLogKeeper
from dialer import attempt_store
from dialer import channel_vars as cv
from dialer.agent_legs import AgentLegs
from dialer.agent_state import AgentStates
from dialer.ami import AMIClient, Message
from dialer.ami.errors import AMIError
from dialer.campaign_dialer import CampaignDialer, DialerOptions
from dialer.fastagi import AGISession, FastAGIServer
from dialer.inbound.calls import InboundCalls
from dialer.inbound.control import InboundControl
from dialer.inbound.directory import InboundDirectory
from dialer.inbound.housekeeping import (
    ALIVE_SECONDS,
    RECORDINGS_EVERY_SECONDS,
    InboundHousekeeping,
)
from dialer.inbound.queue import MAX_WAIT_SECONDS
from dialer.monitoring import Monitoring, sql_audit
from dialer.phone_service import PhoneService
from dialer.recording import Recorder, SqlLedger, recording_mode, recording_notice
from dialer.retention import RetentionPurge
from dialer.user_phones import EndpointError, PhoneUser, endpoint, load_user
from store.models import Campaign
from store.recordings.finalize import finalize_recording
from store.recordings.storage import DirectoryStorage

log = logging.getLogger(__name__)
INBOUND_MAX_SECONDS = MAX_WAIT_SECONDS  # an inbound caller never waits longer in queue


def dialer_id() -> str:
    """Names this process' hopper leases: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def loop_options(settings: Settings, owner: str, agi_port: int) -> DialerOptions:
    """A campaign's dial loop options from the settings (tests hand their own)."""
    cel = settings.pbx_cel_file
    return DialerOptions(
        owner=owner, agi_host=settings.fastagi_public_host, agi_port=agi_port,
        pbx_cel_path=str(cel) if cel is not None else None,
        pbx_name=settings.pbx_name.strip() or None,  # None: the AMI address
    )  # fmt: skip


@dataclass
class DialerService:
    sql: Engine
    redis: aioredis.Redis
    ami: AMIClient
    settings: Settings
    campaigns: Sequence[str] = ()
    clock: Callable[[], float] = time.time
    options: DialerOptions | None = None
    dialers: dict[str, CampaignDialer] = field(default_factory=dict)
    agi: FastAGIServer | None = None
    phones: PhoneService | None = None
    # How long this process counts as alive in Redis without saying so again; past
    # it, the others close the inbound calls it served (dialer/inbound/housekeeping.py).
    alive_seconds: float = ALIVE_SECONDS
    owner: str = field(default_factory=dialer_id)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _compliance: ComplianceService | None = None

    async def answer(self, agi: AGISession) -> None:
        """The FastAGI `answer` route: hand the call to its campaign's dial loop."""
        campaign = await agi.get_variable(cv.CAMPAIGN)
        dialer = self.dialers.get(campaign or "")
        if dialer is None:
            await agi.set_variable(cv.ACTION, cv.ACTION_SAFE_HARBOR)
            return
        await dialer.agi_answer(agi)

    def _load_campaigns(self) -> list[Campaign]:
        with Session(self.sql, expire_on_commit=False) as s:
            query = select(Campaign)
            if self.campaigns:
                query = query.where(Campaign.name.in_(list(self.campaigns)))
            return list(s.scalars(query))

    async def run(self) -> None:
        campaigns = await asyncio.to_thread(self._load_campaigns)
        missing = set(self.campaigns) - {c.name for c in campaigns}
        if missing:
            raise LookupError(f"unknown campaign(s): {', '.join(sorted(missing))}")
        owner = self.owner
        # Every inbound call this process answers is recorded and controllable, also
        # those of campaigns whose dial loop runs elsewhere (dialer/inbound/control.py).
        control = InboundControl(redis=self.redis, ami=self.ami, loop_recorder=self._recorder_of,
                                 build=self._inbound_recorder)  # fmt: skip
        inbound = InboundCalls(sql=self.sql, redis=self.redis, clock=self.clock,
                               recorders=control.recorder, owner=owner)  # fmt: skip

        async def recordings_left(names: list[str], now: float) -> int:
            # Inbound calls' recordings a crashed process left open, for the campaigns
            # with no dial loop here (a loop reconciles its own campaign's).
            return await control.reconcile_recordings(
                names, lambda ids: attempt_store.attempts_ended_at(self.sql, ids),
                ended_before=now - RECORDINGS_EVERY_SECONDS,
            )  # fmt: skip

        # Before any call is taken, and whatever the dial loops do (a stopped campaign
        # still answers its callers): alive in Redis, inbound gauges, what dead dialers left.
        housekeeping = InboundHousekeeping(sql=self.sql, redis=self.redis, owner=owner,
                                           clock=self.clock, queue=inbound.queue,
                                           alive_seconds=self.alive_seconds,
                                           live_calls=self._live_calls,
                                           recordings=recordings_left)  # fmt: skip
        with contextlib.suppress(RedisError, OSError):  # else the first pass says it
            await housekeeping.announce()
        upkeep = [asyncio.create_task(housekeeping.run(self._stop), name="inbound-housekeeping"),
                  asyncio.create_task(control.run(self._stop), name="inbound-control")]  # fmt: skip
        if self.settings.recordings_dir == self.settings.data_dir / "recordings":
            # The embedded default, ours to make (a fresh install has no recording yet);
            # a directory an operator named and that is missing is a wrong path, and the
            # purge says so rather than marking every expired file gone.
            with contextlib.suppress(OSError):
                self.settings.recordings_dir.mkdir(parents=True, exist_ok=True)
        if self.settings.recordings_purge_every_seconds > 0:
            purge = RetentionPurge(sql=self.sql, redis=self.redis, owner=owner, clock=self.clock,
                                   recordings_dir=self.settings.recordings_dir,
                                   every_seconds=self.settings.recordings_purge_every_seconds)  # fmt: skip
            upkeep.append(asyncio.create_task(purge.run(self._stop), name="recordings-purge"))
        # The audit log: queued entries into the Merkle tree, signed checkpoints to
        # the witnesses (one integrator at a time across the floor, by its own lock).
        keeper = AuditLogKeeper(self.sql, audit_log.checkpointer(self.settings, self.sql))
        upkeep.append(asyncio.create_task(keeper.run(self._stop), name="audit-log"))
        try:
            await self._serve(campaigns, inbound, owner)
        finally:
            self._stop.set()
            await asyncio.gather(*upkeep)

    async def _serve(self, campaigns: list[Campaign], inbound: InboundCalls, owner: str) -> None:
        self.agi = FastAGIServer(
            routes={cv.SCRIPT_ANSWER: self.answer, cv.SCRIPT_INBOUND: inbound.handle,
                    cv.SCRIPT_INBOUND_END: inbound.handle_end},
            route_timeouts={cv.SCRIPT_INBOUND: INBOUND_MAX_SECONDS},
            max_connections=self.settings.fastagi_max_connections,
        )  # fmt: skip
        await self.agi.start(self.settings.fastagi_host, self.settings.fastagi_port)
        await self._connect_ami()
        if self._stop.is_set():  # asked to stop while waiting for Asterisk
            await self.shutdown()
            return
        compliance = self._compliance = ComplianceService(self.sql, self.redis)
        if compliance.registry_sync is not None:
            # Every registry Redis lacks is reloaded from SQL before (and while) the
            # loops start; their lookups answer registry_unavailable until it is in.
            with contextlib.suppress(RedisError, SQLAlchemyError, OSError):
                await compliance.registry_sync.refresh()
        directory = InboundDirectory(self.sql)  # one copy of inbound routing for all loops
        for campaign in campaigns:
            options = self.options or loop_options(self.settings, owner, self.agi.port)
            self.dialers[campaign.name] = CampaignDialer(
                sql=self.sql, redis=self.redis, ami=self.ami, compliance=compliance,
                campaign=campaign, options=options, clock=self.clock,
                recorder=self.recorder_for(campaign, compliance, owner),
                inbound_directory=directory,
            )  # fmt: skip
        log.info("dialer %s: campaigns %s", owner, ", ".join(self.dialers) or "(none)")
        self.phones = self._phone_service(owner)
        dialers = list(self.dialers.values())

        async def reconcile_all(channels: list[Message]) -> None:
            # One callback for every campaign's loop and the phones (each loop
            # setting its own would leave only the last one reconciled).
            for dialer in dialers:
                await dialer.reconcile(channels)
            if self.phones is not None:
                await self.phones.reconcile(channels)

        self.ami.on_reconnect = reconcile_all

        async def stop_when_asked() -> None:
            await self._stop.wait()
            for dialer in self.dialers.values():
                dialer.request_stop()
            if self.phones is not None:
                self.phones.request_stop()

        loops = [d.run() for d in self.dialers.values()]
        if self.phones is not None:
            loops.append(self.phones.run())
        try:
            await asyncio.gather(*loops, stop_when_asked())
        finally:
            if compliance.registry_sync is not None:
                await compliance.registry_sync.close()
            await self.shutdown()

    async def _live_calls(self) -> set[str] | None:
        """The Uniqueids of the channels live on our Asterisk (None: it cannot say now),
        so a silent dialer's inbound calls are not closed while they go on."""
        if not self.ami.connected:
            return None
        try:
            _, channels = await self.ami.send_list_action({"Action": "CoreShowChannels"})
        except AMIError as exc:
            log.warning("live channels not read (%s)", exc)
            return None
        return {str(c.get("Uniqueid")) for c in channels if c.get("Uniqueid")}

    def _recorder_of(self, campaign: str) -> Recorder | None:
        """The recorder of `campaign`'s dial loop in this process (None: no loop here)."""
        dialer = self.dialers.get(campaign)
        return dialer.recorder if dialer is not None else None

    async def _inbound_recorder(self, name: str) -> Recorder | None:
        """A recorder for the inbound calls of a campaign with no dial loop here."""
        # Only its country profiles are read (the recording notice): before the loops
        # start, a copy without Redis is enough.
        compliance = self._compliance or ComplianceService(self.sql, None)

        def load() -> Campaign | None:
            with Session(self.sql, expire_on_commit=False) as s:
                return s.scalar(select(Campaign).where(Campaign.name == name))

        campaign = await asyncio.to_thread(load)
        if campaign is None:
            return None
        return self.recorder_for(campaign, compliance, self.owner)

    def recorder_for(
        self, campaign: Campaign, compliance: ComplianceService, owner: str
    ) -> Recorder:
        """Recordings of one campaign: files under recordings_dir (Asterisk writes them
        at pbx_recordings_dir), rows through store.recordings.finalize."""
        storage = DirectoryStorage(self.settings.recordings_dir)
        config = dict(campaign.config or {})
        profile = compliance.profile_for(campaign, campaign.country)

        def finalize(**fields: Any) -> object:
            now = datetime.fromtimestamp(self.clock(), UTC)
            return finalize_recording(self.sql, storage, now=now, actor="dialer", **fields)

        return Recorder(
            campaign=campaign.name, owner=owner, ledger=SqlLedger(self.sql, campaign.name), ami=self.ami,
            storage=storage,
            pbx_root=PurePosixPath(str(self.settings.pbx_recordings_root)), finalize=finalize,
            mode=lambda: recording_mode(config),
            notice=lambda: recording_notice(profile.recording_notice, config),
            notice_sound=str(config.get("recording_notice_sound", "custom/recording-notice")),
            clock=self.clock,
        )  # fmt: skip

    def _phone_service(self, owner: str) -> PhoneService | None:
        """Agent legs and supervisor monitoring, unless no phone endpoint is configured."""
        template = self.settings.agent_endpoint
        if not template:
            return None
        states = AgentStates(self.redis, clock=self.clock)

        async def user_of(user_id: int) -> PhoneUser | None:
            return await asyncio.to_thread(load_user, self.sql, user_id)

        async def phone_of(agent_id: int) -> str | None:
            user = await user_of(agent_id)
            if user is None:
                return None
            try:
                return endpoint(template, user)
            except EndpointError as exc:
                log.warning("agent %s: %s", agent_id, exc)
                return None

        async def silent_owners(campaign: str, owners: set[str]) -> set[str]:
            dialer = self.dialers.get(campaign)
            return await dialer.liveness.silent(owners) if dialer is not None else set()

        pbx = next(iter(self.dialers.values())).liveness.pbx if self.dialers else ""
        legs = AgentLegs(redis=self.redis, ami=self.ami, states=states, phone_of=phone_of,
                         campaigns=self.dialers, owner=owner, clock=self.clock, pbx=pbx,
                         silent_owners=silent_owners)  # fmt: skip
        monitoring = Monitoring(redis=self.redis, ami=self.ami, states=states, user_of=user_of,
                                phone_for=lambda user: endpoint(template, user),
                                audit=sql_audit(self.sql), campaigns=self.dialers, owner=owner,
                                clock=self.clock)  # fmt: skip
        for dialer in self.dialers.values():
            dialer.agent_check = legs.usable
        return PhoneService(redis=self.redis, ami=self.ami, legs=legs, monitoring=monitoring)

    async def _connect_ami(self) -> None:
        """Until Asterisk answers: no calls are placed meanwhile, so waiting is safe."""
        delay = 0.5
        while not self._stop.is_set():
            try:
                await self.ami.connect()
                return
            except AMIError as exc:
                log.warning("AMI at %s:%s unavailable (%s); retrying in %.1f s",
                            self.ami.host, self.ami.port, exc, delay)  # fmt: skip
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
                delay = min(delay * 2, 10.0)

    def request_stop(self) -> None:
        self._stop.set()
        for dialer in self.dialers.values():
            dialer.request_stop()
        if self.phones is not None:
            self.phones.request_stop()

    async def shutdown(self) -> None:
        for dialer in self.dialers.values():
            await dialer.stop()
        if self.agi is not None:
            await self.agi.stop()
        await self.ami.close()
