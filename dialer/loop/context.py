"""What every piece of one campaign's dial loop shares: its stores and adapters,
the campaign, its options and the calls it has in flight."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from sqlalchemy import Engine

from compliance.caller_ids import CallerIdCheck
from compliance.service import ComplianceService
from dialer import channel_vars as cv
from dialer import messages as msg
from dialer.agent_state import AgentStates
from dialer.ami import AMIClient
from dialer.hopper import Claim, Hopper
from dialer.inbound.directory import InboundDirectory
from dialer.inbound.queue import InboundQueue
from dialer.liveness import ALIVE_SECONDS
from dialer.loop.live_call import LiveCall
from dialer.recording import Recorder
from dialer.stats import CampaignStats
from store.models import Campaign

# An open attempt older than this with no live channel was left by a dialer that
# died: its Originate reply and events would have come long before.
ORPHAN_GRACE_SECONDS = 120.0


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
    # The heartbeat's TTL (dialer/liveness.py): a dialer on the same Asterisk silent
    # this long is dead, and the others close what it left without waiting for its
    # leases. `pbx_name` names that Asterisk (None: the AMI address this dialer uses).
    alive_seconds: float = ALIVE_SECONDS
    pbx_name: str | None = None


@dataclass
class Preview:
    """An account shown to an agent in preview mode, leased until they choose."""

    agent_id: int
    claim: Claim
    since: float


@dataclass
class LoopContext:
    sql: Engine
    redis: aioredis.Redis
    ami: AMIClient
    compliance: ComplianceService
    campaign: Campaign
    options: DialerOptions
    clock: Callable[[], float] = time.time
    recorder: Recorder | None = None  # None: this dialer records nothing
    inbound_directory: InboundDirectory | None = None
    calls: dict[int, LiveCall] = field(default_factory=dict)
    previews: dict[int, Preview] = field(default_factory=dict)  # by account
    # The campaign's registered caller IDs, loaded from SQL with the campaign.
    caller_ids: CallerIdCheck = field(
        default_factory=lambda: CallerIdCheck((), "caller IDs not loaded yet")
    )

    def __post_init__(self) -> None:
        self.name = self.campaign.name
        self.hopper = Hopper(self.redis, self.campaign.name)
        self.agents = AgentStates(self.redis, clock=self.clock)
        self.stats = CampaignStats(self.redis, self.campaign.name)
        self.inbound = InboundQueue(self.redis)
        self.notifier = msg.Notifier(self.redis)  # the loop's pops (dialer/messages.py)
        # Other campaigns' inbound routing and the agents' skill groups (SQL, cached):
        # whose callers this campaign's agents owe priority to. Shared by a process's loops.
        self.directory = self.inbound_directory or InboundDirectory(self.sql)

    @property
    def actor(self) -> str:
        return f"dialer:{self.options.owner}"

    @property
    def pbx(self) -> str:
        """The Asterisk this loop dials through: the name given, else the AMI address.
        Its heartbeat says it (dialer/liveness.py) and its attempt rows record it."""
        return self.options.pbx_name or f"{self.ami.host}:{self.ami.port}"
