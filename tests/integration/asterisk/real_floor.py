"""The real floor (docs/real-floor.md): the chroot Asterisk 22 dialing out through
its PJSIP trunk to sipp, which plays every debtor (talk, quick hang-ups, busy,
no answer, 503, answering machines with real audio); three dialers on one
predictive campaign of MX, CO and PE accounts; agents on nailed-up legs made
ready again as soon as they wrap up; CDR and CEL on (tests/integration/asterisk/conf).

Used by tests/integration/asterisk/test_real_floor.py (CI size) and
bench/real_floor.py (bigger). Afterwards `reconcile` reads Asterisk's CEL and
CDR files and compares them, call for call, with the attempts, the decisions and
the audit log.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis
from asterisk_harness import (
    AMI_PORT,
    AMI_SECRET,
    REPO,
    SIPP_SCENARIOS,
    ChrootAsterisk,
    next_attempt_id,
    seat_agent_legs,
)
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from compliance.profile import load_profiles
from compliance.registry_import import import_registry
from compliance.timezones import resolve_zones
from compliance.transparency.verify import verify as audit_verify
from dialer import pbx_records
from dialer.agent_state import AgentState, AgentStates
from dialer.ami import AMIClient
from dialer.campaign_dialer import ORPHAN_GRACE_SECONDS
from store.models import (
    Account,
    AuditEntry,
    CallAttempt,
    Campaign,
    Decision,
    Phone,
    RegisteredCallerId,
    User,
)

CARRIER_PORT = 5070  # pjsip.conf: the test carrier's contact
CALLER_ID = "5215550001000"
# Wednesday 25 Nov 2026, 19:30 in Bogotá and Lima, 18:30 in Mexico City: Mexico
# (07-22) and Peru (07-20) are open, Colombia (07-19) closed since 19:00. The
# campaign is MX: applying its profile to every debtor would dial the Colombians.
SHIFT_START = datetime(2026, 11, 26, 0, 30, tzinfo=UTC)
COUNTRIES = ("MX", "CO", "PE")

# The carrier's behaviours (sipp/carrier_floor.xml), by the number's last digit,
# and the mix of every 20 debtors.
TALK, MACHINE, BUSY, NO_ANSWER, UNAVAILABLE, QUICK = "1", "2", "3", "4", "5", "7"
MIX = [TALK] * 9 + [QUICK] * 2 + [BUSY] * 2 + [NO_ANSWER] * 2 + [UNAVAILABLE] * 2 + [MACHINE] * 3
PERSONS = {TALK, QUICK}


class ShiftClock:
    """Wall time moved into the shift; Asterisk's records are in plain wall time."""

    def __init__(self, start: datetime) -> None:
        self.offset = start.timestamp() - time.time()

    def __call__(self) -> float:
        return time.time() + self.offset


def debtor_number(country: str, index: int, behaviour: str) -> str:
    """A valid mobile number of `country` whose last digit tells sipp what to do."""
    if country == "MX":
        return f"+52552{index:04d}00{behaviour}"
    if country == "CO":
        return f"+57310{index:04d}00{behaviour}"
    return f"+5198{index:04d}00{behaviour}"


@dataclass(frozen=True)
class Debtor:
    country: str
    number: str
    behaviour: str


def debtors(count: int) -> list[Debtor]:
    """`count` debtors, countries in turn, behaviours in MIX's proportions."""
    out = []
    for i in range(count):
        country = COUNTRIES[i % len(COUNTRIES)]
        behaviour = MIX[(i // len(COUNTRIES) + i) % len(MIX)]
        out.append(Debtor(country, debtor_number(country, i, behaviour), behaviour))
    return out


def seed(engine: Engine, people: list[Debtor], agents: int, name: str) -> tuple[int, list[int]]:
    with Session(engine) as s, s.begin():
        # The campaign has measured its detector against this carrier (the ground
        # truth is known): no machine drop is counted as a person by default;
        # `reconcile` counts the persons AMD dropped as abandons itself.
        campaign = Campaign(name=name, country="MX", profile="MX", dial_mode="predictive",
                            status="running", caller_ids=[CALLER_ID],
                            config={"amd_false_positive_ratio": 0.0})  # fmt: skip
        s.add(campaign)
        if (
            s.scalar(select(RegisteredCallerId).where(RegisteredCallerId.number == CALLER_ID))
            is None
        ):
            s.add(RegisteredCallerId(number=CALLER_ID, country="MX", reference="TEST",
                                     created_by="test"))  # fmt: skip
        s.flush()
        users = [User(username=f"{name}-gestor{i}", role="agent", password_hash="-",
                      campaign_id=campaign.id) for i in range(agents)]  # fmt: skip
        s.add_all(users)
        currency = {"MX": "MXN", "CO": "COP", "PE": "PEN"}
        for i, d in enumerate(people):
            account = Account(external_ref=f"{name}-{d.country}-{i}", debtor_name=f"Deudor {i}",
                              country=d.country, region="MX-CMX" if d.country == "MX" else None,
                              balance=Decimal("500.00"), currency=currency[d.country],
                              status="active", stage="firm", campaign_id=campaign.id)  # fmt: skip
            account.phones.append(Phone(position=1, number_e164=d.number, phone_type="mobile",
                                        consent=True, consent_ref=f"EV-{i}"))  # fmt: skip
            s.add(account)
        s.flush()
        return campaign.id, [u.id for u in users]


def load_registry(engine: Engine, redis_url: str, tmp_path: Path, now: datetime) -> None:
    path = tmp_path / "reus.txt"
    path.write_text("+525599999999\n")  # nobody of ours is listed
    client = redis.Redis.from_url(redis_url)
    import_registry(engine, client, name="reus", path=path, country="MX", now=now)
    client.close()


# -- Asterisk side: audio, records, the carrier ------------------------------------

AUDIO_IN_CHROOT = "/tmp/cobrador-carrier-audio"
MACHINE_GREETING = ("vm-intro", "vm-theperson", "vm-isunavail", "beep")
SILENCE = b"\xff" * 8000 * 30  # 30 s of mu-law silence


def carrier_audio(pbx: ChrootAsterisk, out: Path) -> Path:
    """Asterisk's own GSM prompts as raw mu-law for sipp's rtp_stream: "hello" for a
    person, a 9 s voicemail greeting and its beep for a machine."""
    root = Path(pbx.run("path").strip())
    converted = root / AUDIO_IN_CHROOT.lstrip("/")
    converted.mkdir(parents=True, exist_ok=True)
    pbx.cli("module load res_convert.so")
    for name in ("hello", *MACHINE_GREETING):
        pbx.cli(f"file convert /usr/share/asterisk/sounds/en/{name}.gsm "
                f"{AUDIO_IN_CHROOT}/{name}.ulaw")  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    # A person says "hello" and then is silent (mu-law 0xFF): AMD must hear the
    # silence after the greeting, and no RTP at all is not silence.
    (out / "hello.ulaw").write_bytes((converted / "hello.ulaw").read_bytes() + SILENCE)
    (out / "machine.ulaw").write_bytes(
        b"".join((converted / f"{n}.ulaw").read_bytes() for n in MACHINE_GREETING) + SILENCE
    )
    for name in ("hello.ulaw", "machine.ulaw"):
        if (out / name).stat().st_size < 4000:
            raise RuntimeError(f"carrier audio {name} not converted by Asterisk")
    return out


def record_files(pbx: ChrootAsterisk) -> tuple[Path, Path]:
    """The CDR and CEL files tests/integration/asterisk/conf has Asterisk write."""
    logs = Path(pbx.run("path").strip()) / "var/log/asterisk"
    return logs / "cdr-custom" / "cobrador-cdr.csv", logs / "cobrador-cel.csv"


@contextlib.asynccontextmanager
async def sipp_carrier(audio: Path, workdir: Path) -> Any:
    """sipp on the trunk's contact, answering every debtor call until stopped."""
    sipp = shutil.which("sipp")
    if sipp is None:
        raise RuntimeError("sipp not installed (Debian package sip-tester)")
    scenario = workdir / "carrier_floor.xml"
    text = (SIPP_SCENARIOS / "carrier_floor.xml").read_text()
    scenario.write_text(text.replace("@AUDIO_DIR@", str(audio)))
    log = workdir / "sipp.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sipp, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(CARRIER_PORT),
            "-nostdin", "-mi", "127.0.0.1", "-mp", "40000",
            "-trace_err", "-error_file", str(workdir / "sipp_errors.log"),
            stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out, cwd=str(workdir),
        )  # fmt: skip
    try:
        await asyncio.sleep(0.5)
        if process.returncode is not None:
            raise RuntimeError(f"sipp exited at start: {log.read_text()[-2000:]}")
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()


# -- the floor -------------------------------------------------------------------


DIALER_PROCESS = REPO / "tests" / "component" / "dialer" / "dialer_process.py"
DIALING = re.compile(rb"attempt (\d+): dialing")


@dataclass
class Dialer:
    """One dialer process (tests/component/dialer/dialer_process.py): its own AMI
    link, Redis client, FastAGI server and dial loop; SQL, Redis and Asterisk shared."""

    owner: str
    process: asyncio.subprocess.Process
    log: Path

    @property
    def placed(self) -> int:
        """The calls it placed, from its log ("attempt N: dialing ...")."""
        return len(DIALING.findall(self.log.read_bytes()))


@dataclass
class RealFloor:
    engine: Engine
    redis_url: str
    campaign_id: int
    campaign: Campaign
    agent_ids: list[int]
    people: list[Debtor]
    clock: ShiftClock
    control: AMIClient
    cel_path: Path
    workdir: Path
    dialers: list[Dialer] = field(default_factory=list)
    killed: list[Dialer] = field(default_factory=list)
    legs: list[str] = field(default_factory=list)
    stop_bots: asyncio.Event = field(default_factory=asyncio.Event)
    bots: asyncio.Task[None] | None = None
    started: float = 0.0
    finished: float = 0.0

    @classmethod
    async def open(cls, control: AMIClient, engine: Engine, redis_url: str, tmp_path: Path,
                   cel_path: Path, *, size: int, agents: int, name: str = "floor",
                   ) -> RealFloor:  # fmt: skip
        clock = ShiftClock(SHIFT_START)
        people = debtors(size)
        campaign_id, agent_ids = seed(engine, people, agents, name)
        load_registry(engine, redis_url, tmp_path, datetime.fromtimestamp(clock(), UTC))
        with Session(engine, expire_on_commit=False) as s:
            campaign = s.get(Campaign, campaign_id)
            assert campaign is not None
        floor = cls(engine, redis_url, campaign_id, campaign, agent_ids, people, clock, control,
                    cel_path, tmp_path)  # fmt: skip
        await floor._agents_ready()
        return floor

    async def start_dialer(self, index: int, *, lease_seconds: float = 120.0,
                           orphan_grace_seconds: float = ORPHAN_GRACE_SECONDS,
                           reconcile_every_seconds: float = 30.0) -> Dialer:  # fmt: skip
        """One more dialer process on the campaign, on the shift's clock."""
        owner = f"floor-{index}-{next_attempt_id()}"
        log = self.workdir / f"{owner}.log"
        url = self.engine.url.render_as_string(hide_password=False)
        with log.open("wb") as stderr:
            process = await asyncio.create_subprocess_exec(
                sys.executable, str(DIALER_PROCESS), "--database-url", url,
                "--redis-url", self.redis_url, "--ami-port", str(AMI_PORT),
                "--ami-secret", AMI_SECRET, "--campaign", self.campaign.name, "--owner", owner,
                "--clock-offset", repr(self.clock.offset), "--lease-seconds", str(lease_seconds),
                "--tick-seconds", "0.25", "--ring-timeout", "8", "--pbx-cel-path", str(self.cel_path),
                "--orphan-grace", str(orphan_grace_seconds),
                "--reconcile-every", str(reconcile_every_seconds),
                stdout=asyncio.subprocess.PIPE, stderr=stderr, cwd=str(REPO),
            )  # fmt: skip
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), 60)
        except TimeoutError:
            line = b""
        if not line.startswith(b"ready"):
            process.kill()
            await process.wait()
            raise AssertionError(f"dialer {owner} did not start: {log.read_text()[-3000:]}")
        dialer = Dialer(owner, process, log)
        self.dialers.append(dialer)
        return dialer

    async def kill(self, dialer: Dialer) -> None:
        """SIGKILL: nothing is cleaned up (leases, agents and the floor's key stay in
        Redis, attempts open in SQL); its AMI socket and FastAGI port close."""
        dialer.process.kill()
        await dialer.process.wait()
        self.dialers.remove(dialer)
        self.killed.append(dialer)

    async def _agents_ready(self) -> None:
        """Each agent's leg (Local/<id>@sim-agents) sits in its ConfBridge, then the
        agent goes ready; a bot makes them ready again as soon as they wrap up."""
        client = aioredis.Redis.from_url(self.redis_url)
        states = AgentStates(client, clock=self.clock)
        await seat_agent_legs(self.control, self.agent_ids, self.legs, 30)
        for agent_id in self.agent_ids:
            await states.login(agent_id, self.campaign.name)
            await states.set_ready(agent_id)

        async def ready_again() -> None:
            try:
                while not self.stop_bots.is_set():
                    for agent_id in self.agent_ids:
                        if (await states.get(agent_id)).state is AgentState.wrap_up:
                            await states.set_ready(agent_id)
                    await asyncio.sleep(0.1)
            finally:
                await client.aclose()

        self.bots = asyncio.create_task(ready_again(), name="floor-agent-bots")

    def dialable(self) -> list[Debtor]:
        """The debtors whose law allows a call now (Colombia is closed)."""
        return [d for d in self.people if d.country != "CO"]

    def done(self) -> bool:
        with Session(self.engine) as s:
            rows = list(s.scalars(select(CallAttempt).where(
                CallAttempt.campaign_id == self.campaign_id)))  # fmt: skip
        numbers = {a.phone_e164 for a in rows if a.result is not None}
        open_ = [a for a in rows if a.result is None]
        return not open_ and {d.number for d in self.dialable()} <= numbers

    async def run(self, dialers: int = 3, within: float = 150.0) -> None:
        self.started = time.monotonic()
        for i in range(dialers):
            await self.start_dialer(i)
        await self.wait_done(within)
        self.finished = time.monotonic()

    async def wait_done(self, within: float) -> None:
        deadline = time.monotonic() + within
        while not self.done():
            for d in self.dialers:
                if d.process.returncode is not None:
                    raise AssertionError(f"dialer {d.owner} exited: {d.log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the floor did not finish within {within:g} s")
            await asyncio.sleep(0.5)

    async def close(self) -> None:
        """SIGTERM: each dialer stops cleanly (a SIGKILL after 30 s)."""
        for d in self.dialers:
            if d.process.returncode is None:
                d.process.terminate()
        for d in self.dialers:
            try:
                await asyncio.wait_for(d.process.wait(), 30)
            except TimeoutError:
                d.process.kill()
                await d.process.wait()
        self.stop_bots.set()
        if self.bots is not None:
            await self.bots
        for leg in self.legs:
            if self.control.connected:
                with contextlib.suppress(Exception):
                    await self.control.send_action({"Action": "Hangup", "Channel": leg})


# -- afterwards: Asterisk's records against cobrador's -----------------------------


@dataclass
class Figures:
    placed: int = 0
    answered: int = 0
    bridged: int = 0
    abandoned: int = 0
    early_hangups: int = 0  # persons who hung up during detection (not abandons)
    persons: int = 0  # persons answered and still there: the legal denominator

    @property
    def rate(self) -> float:
        return self.abandoned / self.persons if self.persons else 0.0


@dataclass
class Reconciliation:
    asterisk: Figures
    cobrador: Figures
    trunk_without_allowed_decision: list[int]
    attempts_without_trunk_call: list[int]
    outside_window: list[str]
    lost_results: list[int]
    audit_intact: bool
    results: Counter[str]
    countries_dialed: Counter[str]
    blocked_co_decisions: int
    # Attempts the final check refused at originate (never dialed), by reason.
    blocked_at_originate: Counter[str]
    cdr_disagreements: list[str]

    def table(self, seconds: float, placed_by_dialer: list[int]) -> str:
        a, c = self.asterisk, self.cobrador
        lines = [
            f"| {'':<34} | Asterisk (CEL/CDR) | cobrador (SQL) |",
            "|---|---|---|",
            f"| placed (trunk calls / attempts) | {a.placed} | {c.placed} |",
            f"| answered | {a.answered} | {c.answered} |",
            f"| bridged to an agent | {a.bridged} | {c.bridged} |",
            f"| abandoned (legal) | {a.abandoned} | {c.abandoned} |",
            f"| hung up during detection | {a.early_hangups} | {c.early_hangups} |",
            f"| persons answered (legal denominator) | {a.persons} | {c.persons} |",
            f"| abandonment, legal | {a.rate:.1%} | {c.rate:.1%} |",
        ]
        summary = (f"{len(placed_by_dialer)} dialers (placed {placed_by_dialer}), {sum(self.countries_dialed.values())} trunk calls "
                   f"({dict(self.countries_dialed)}), results {dict(self.results)}, "
                   f"blocked at originate {dict(self.blocked_at_originate)}, "
                   f"run {seconds:.0f} s")  # fmt: skip
        return "\n".join(lines) + "\n" + summary


def file_size(path: Path) -> int:
    """Where this run's records begin in an Asterisk record file (others came first)."""
    return path.stat().st_size if path.exists() else 0


def reconcile(floor: RealFloor, cel_path: Path, cdr_path: Path,
              since: tuple[int, int] = (0, 0)) -> Reconciliation:  # fmt: skip
    """Asterisk's CEL/CDR (from the sizes `since` they had at the start) against the
    attempts, decisions and audit log."""
    with Session(floor.engine) as s:
        attempts = {a.id: a for a in s.scalars(select(CallAttempt).where(
            CallAttempt.campaign_id == floor.campaign_id))}  # fmt: skip
        decisions = {d.id: d for d in s.scalars(select(Decision).where(
            Decision.campaign_id == floor.campaign_id))}  # fmt: skip
        audited = {}
        for entry in s.scalars(select(AuditEntry).where(AuditEntry.kind == "decision")):
            payload = pbx_records.json_object(entry.payload)
            audited[payload.get("decision_id")] = payload
    cel_since, cdr_since = since
    calls = pbx_records.calls_from_cel(
        pbx_records.read_records(cel_path, pbx_records.CEL_FIELDS, start=cel_since)
    )
    cdrs = pbx_records.read_records(cdr_path, pbx_records.CDR_FIELDS, start=cdr_since)
    by_number = {d.number: d for d in floor.people}
    profiles = load_profiles()

    trunk = {i: c for i, c in calls.items() if c.trunk_started_at is not None and i in attempts}
    strangers = [
        i for i, c in calls.items() if c.trunk_started_at is not None and i not in attempts
    ]
    no_decision = list(strangers)
    outside: list[str] = []
    countries: Counter[str] = Counter()
    for attempt_id, call in trunk.items():
        attempt = attempts[attempt_id]
        decision = decisions.get(attempt.decision_id or -1)
        audit = audited.get(attempt.decision_id)
        if (
            decision is None
            or not decision.allowed
            or not audit
            or audit.get("allowed") is not True
        ):
            no_decision.append(attempt_id)
        debtor = by_number[attempt.phone_e164]
        countries[debtor.country] += 1
        # When the debtor's phone was called, by Asterisk's clock, in the debtor's time.
        assert call.trunk_started_at is not None
        placed = datetime.fromtimestamp(call.trunk_started_at + floor.clock.offset, UTC)
        profile = profiles[debtor.country]
        zones = resolve_zones(None, debtor.country, None, debtor.number).zones
        for zone in zones or ():
            local = placed.astimezone(zone)
            minute = local.hour * 60 + local.minute
            if not any(w.contains(minute) for w in profile.hours[local.weekday()]):
                outside.append(f"attempt {attempt_id} {debtor.number} at {local.isoformat()}")
        if not zones:
            outside.append(f"attempt {attempt_id}: no time zone for {debtor.number}")

    placed_results = {a.id for a in attempts.values() if a.decision_id is not None
                      and a.result not in ("not_placed", "blocked")}  # fmt: skip
    without_trunk = sorted(placed_results - set(trunk))
    lost = sorted(a.id for a in attempts.values() if a.result in (None, "lost"))

    asterisk, cobrador = Figures(), Figures()
    for attempt_id, call in trunk.items():
        person = by_number[attempts[attempt_id].phone_e164].behaviour in PERSONS
        asterisk.placed += 1
        if call.answered_at is None:
            continue
        asterisk.answered += 1
        asterisk.bridged += call.bridged_at is not None
        if not person:
            continue
        if call.far_end_hung_up_first and call.bridged_at is None and not call.safe_harbor:
            asterisk.early_hangups += 1  # left during detection or the 2 s grace
            continue
        asterisk.persons += 1
        # A person not bridged: told the safe-harbor message, or dropped as a machine.
        asterisk.abandoned += call.bridged_at is None
    for a in attempts.values():
        if a.id not in placed_results:
            continue
        cobrador.placed += 1
        cobrador.answered += a.answered_at is not None
        cobrador.bridged += a.bridged_at is not None
        cobrador.abandoned += a.result == "abandoned"
        cobrador.early_hangups += a.result == "early_hangup"
        cobrador.persons += a.result in ("contact", "abandoned")

    disagreements = []
    for attempt_id, call in trunk.items():
        outcome = pbx_records.cdr_outcome(cdrs, attempt_id)
        answered = attempts[attempt_id].answered_at is not None
        if outcome is not None and outcome.answered != answered:
            disagreements.append(f"attempt {attempt_id}: CDR {outcome} vs answered={answered}")
        if (call.answered_at is not None) != answered:
            disagreements.append(f"attempt {attempt_id}: CEL answered vs answered={answered}")

    blocked_co = sum(1 for d in decisions.values() if not d.allowed
                     and "outside_hours" in (d.reasons or [])
                     and (d.phone_e164 or "").startswith("+57"))  # fmt: skip
    return Reconciliation(
        asterisk=asterisk, cobrador=cobrador, trunk_without_allowed_decision=sorted(no_decision),
        attempts_without_trunk_call=without_trunk, outside_window=outside, lost_results=lost,
        audit_intact=audit_verify(floor.engine).ok, results=Counter(str(a.result) for a in attempts.values()),
        countries_dialed=countries, blocked_co_decisions=blocked_co, cdr_disagreements=disagreements,
        blocked_at_originate=Counter(
            f"{by_number[a.phone_e164].country}:{','.join(d.reasons or [])}"
            for a in attempts.values()
            if a.result == "blocked" and (d := decisions.get(a.decision_id or -1)) is not None),
    )  # fmt: skip


async def stuck_agents(floor: RealFloor) -> list[int]:
    """Agents still reserved or talking (after the floor has stopped: none may be)."""
    client = aioredis.Redis.from_url(floor.redis_url)
    try:
        states = AgentStates(client, clock=floor.clock)
        return [a for a in floor.agent_ids
                if (await states.get(a)).state in (AgentState.reserved, AgentState.talking)]  # fmt: skip
    finally:
        await client.aclose()
