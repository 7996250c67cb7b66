"""Fault recovery benchmark: how long the dial loop takes to dial again after a
fault with calls live, and what the fault cost (results lost, agents stuck).

    .venv/bin/python bench/fault_recovery.py [--rounds 3] [--outage 5] [--agents 6]
        [--database-url postgresql://postgres@127.0.0.1:5432/test] [--faults redis,ami,...]

One dial loop (progressive, tick 0.2 s) on pbxsim (x20 time, debtors who answer
and talk 1.5-2.5 s of wall time), SQLite in a temporary directory (or a fresh
database of its own on the PostgreSQL server `--database-url` names) and a
redis-server of its own (append-only file, fsync always, so a restart keeps its
data). Faults, each `--rounds` times, each once at least two calls are bridged:
- redis: redis-server SIGKILLed, started again after `--outage` seconds;
- ami: every AMI socket cut (pbxsim drop_connections: a network fault);
- asterisk: pbxsim stopped (every channel gone) and a new one started on the
  same port after `--outage` seconds;
- postgres (PostgreSQL only): every connection to the database terminated
  (pg_terminate_backend), again every 50 ms for `--pg-cut` seconds, so queries
  in flight are cut too, as a failover does;
- dialer: a second dialer process on the same campaign and pbxsim
  (tests/component/dialer/dialer_process.py, the shipped lease, grace and
  reconciliation periods) SIGKILLed once two of its calls are bridged; the
  first loop's periodic reconciliation must close its calls and free their
  agents.
Recovery = from the moment the service is back (redis or pbxsim started again,
the socket or the connections cut, the dialer killed) to the first new Originate
with every result of the calls the fault ended written and their agents
released. At the end the campaign is stopped, the calls end, and every attempt
must have its result and no agent may be left reserved or talking.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import redis
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from cobrador.ground.redis_runtime import redis_server_binary
from compliance.registry_import import import_registry
from compliance.service import ComplianceService
from dialer import channel_vars as cv
from dialer.agent_state import AgentState, AgentStates
from dialer.ami import AMIClient
from dialer.call_state import CallState
from dialer.campaign_dialer import CampaignDialer, DialerOptions
from dialer.fastagi import FastAGIServer
from pbxsim.ami_server import AMIServer
from pbxsim.clock import ScaledClock
from pbxsim.pbx import PBX
from pbxsim.scenario import Dist, Scenario
from store.db import make_engine, normalise_database_url
from store.migrate import upgrade
from store.models import Account, CallAttempt, Campaign, Phone, RegisteredCallerId, User

VICTIM = Path(__file__).parents[1] / "tests" / "component" / "dialer" / "dialer_process.py"
SHIFT_START = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)  # Wednesday 11:00 in Mexico City
TALKERS = Scenario(
    p_human=0.9, p_machine=0.0, p_busy=0.05, p_congestion=0.05, p_unallocated=0.0,
    ring_seconds=Dist("uniform", 1.0, 4.0), talk_seconds=Dist("uniform", 30.0, 50.0),
    machine_seconds=Dist("constant", 3.0), amd_human_seconds=0.5, amd_machine_seconds=1.0,
    safe_harbor_seconds=1.0, agent_answer_seconds=0.1, seed=11,
)  # fmt: skip


class RedisProcess:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.data_dir), "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=self.port)
        for _ in range(400):
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    break
            time.sleep(0.025)
        client.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def seed(engine: object, accounts: int, agents: int) -> tuple[int, list[int]]:
    with Session(engine) as s, s.begin():  # type: ignore[call-overload]
        # A caller ID from the registered set (REDECO): a campaign dials with no other.
        s.add(RegisteredCallerId(number="5215550001000", country="MX", reference="BENCH",
                                 created_by="bench"))  # fmt: skip
        campaign = Campaign(name="bench-faults", country="MX", profile="MX", dial_mode="progressive",
                            status="running", caller_ids=["5215550001000"], config={})  # fmt: skip
        s.add(campaign)
        s.flush()
        users = [User(username=f"agente{i}", role="agent", password_hash="-", campaign_id=campaign.id)
                 for i in range(agents)]  # fmt: skip
        s.add_all(users)
        for i in range(accounts):
            account = Account(external_ref=f"F{i:06d}", debtor_name=f"Deudor {i}", country="MX",
                              region="MX-CMX", balance=Decimal("1000.00"), currency="MXN",
                              status="active", stage="firm", campaign_id=campaign.id)  # fmt: skip
            account.phones.append(Phone(position=1, number_e164=f"+5255{30000000 + i:08d}",
                                        phone_type="mobile", consent=True, consent_ref=f"EV-{i}"))  # fmt: skip
            s.add(account)
        s.flush()
        return campaign.id, [u.id for u in users]


class Floor:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.offset = SHIFT_START.timestamp() - time.time()
        self.redis_server = RedisProcess(tmp / "redis")
        (tmp / "redis").mkdir()
        self.database_url = f"sqlite:///{tmp / 'bench.sqlite3'}"
        self.server_url: str | None = None
        if args.database_url:  # a database of the run's own on that server, dropped at the end
            self.server_url = normalise_database_url(args.database_url)
            name = f"bench_faults_{uuid.uuid4().hex[:10]}"
            with self._admin() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            self.database_url = f"{self.server_url.rpartition('/')[0]}/{name}"
        self.engine = make_engine(self.database_url)
        upgrade(self.engine)
        self.stop = asyncio.Event()

    def clock(self) -> float:
        return time.time() + self.offset

    def _admin(self, url: str | None = None) -> contextlib.AbstractContextManager:  # type: ignore[type-arg]
        engine = create_engine(url or self.server_url or "", poolclass=NullPool,
                               isolation_level="AUTOCOMMIT")  # fmt: skip
        return engine.connect()

    def drop_connections(self) -> int:
        """pg_terminate_backend on every other connection to the run's database."""
        with self._admin(self.database_url) as conn:
            return int(conn.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )).scalar_one())  # fmt: skip

    def cut_postgres(self, seconds: float) -> int:
        """Connections terminated at once and every 50 ms for `seconds` (in a thread, so
        the dial loop runs meanwhile); returns how many were cut."""
        cut = self.drop_connections()
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            time.sleep(0.05)
            cut += self.drop_connections()
        return cut

    async def start_victim(self, n: int) -> tuple[asyncio.subprocess.Process, str]:
        """A second dialer process on the campaign, with the shipped periods."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(VICTIM), "--database-url", self.database_url,
            "--redis-url", f"redis://127.0.0.1:{self.redis_server.port}/0",
            "--ami-port", str(self.ami_server.port), "--campaign", "bench-faults",
            "--owner", f"victim-{n}", "--clock-offset", repr(self.offset),
            "--lease-seconds", str(DialerOptions.lease_seconds),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            cwd=Path(__file__).parents[1],
        )  # fmt: skip
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if not line.startswith(b"ready"):
            proc.kill()
            raise RuntimeError("the second dialer did not start")
        return proc, line.split(b"agi_port=")[1].strip().decode()

    async def start(self) -> None:
        self.redis_server.start()
        url = f"redis://127.0.0.1:{self.redis_server.port}/0"
        campaign_id, self.agent_ids = seed(self.engine, self.args.accounts, self.args.agents)
        reus = self.tmp / "reus.txt"
        reus.write_text("+525599999999\n")
        sync = redis.Redis.from_url(url)
        import_registry(self.engine, sync, name="reus", path=reus, country="MX",
                        now=datetime.fromtimestamp(self.clock(), UTC))  # fmt: skip
        sync.close()
        self.redis = aioredis.Redis.from_url(url)
        with Session(self.engine, expire_on_commit=False) as s:
            campaign = s.get(Campaign, campaign_id)
        self.agi = FastAGIServer(routes={}, request_timeout=10.0)
        await self.agi.start("127.0.0.1", 0)
        await self._start_pbx(0)
        self.ami = AMIClient("127.0.0.1", self.ami_server.port, "cobrador", "secret",
                             action_timeout=3.0, keepalive_interval=None,
                             reconnect_backoff=(0.05, 0.5))  # fmt: skip
        await self.ami.connect()
        options = DialerOptions(owner="bench", tick_seconds=0.2, refill_every_seconds=0.5,
                                agi_port=self.agi.port)  # fmt: skip
        self.dialer = CampaignDialer(sql=self.engine, redis=self.redis, ami=self.ami,
                                     compliance=ComplianceService(self.engine, self.redis),
                                     campaign=campaign, options=options, clock=self.clock)  # fmt: skip
        self.agi.routes[cv.SCRIPT_ANSWER] = self.dialer.agi_answer
        self.agents = AgentStates(self.redis, clock=self.clock)
        for agent_id in self.agent_ids:
            await self.agents.login(agent_id, "bench-faults")
            await self.agents.set_ready(agent_id)
        self.tasks = [asyncio.create_task(self.dialer.run()), asyncio.create_task(self._bots())]

    async def _start_pbx(self, port: int) -> None:
        self.pbx = PBX(TALKERS, clock=ScaledClock(20.0), agi_port=self.agi.port)
        self.ami_server = AMIServer(self.pbx, "cobrador", "secret")
        await self.ami_server.start("127.0.0.1", port)

    async def restart_pbx(self, outage: float) -> None:
        port = self.ami_server.port
        await self.ami_server.stop()
        await self.pbx.stop()
        await asyncio.sleep(outage)
        await self._start_pbx(port)

    async def _bots(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(RedisError, OSError):
                for agent_id in self.agent_ids:
                    if (await self.agents.get(agent_id)).state is AgentState.wrap_up:
                        await self.agents.set_ready(agent_id)
            await asyncio.sleep(0.05)

    def attempts(self) -> dict[int, str | None]:
        with Session(self.engine) as s:
            return {i: r for i, r in s.execute(select(CallAttempt.id, CallAttempt.result))}

    def open_decided(self) -> int:
        """Open attempts that passed the final check (dialed): after the end, a lost result."""
        with Session(self.engine) as s:
            return len(s.execute(select(CallAttempt.id).where(
                CallAttempt.result.is_(None), CallAttempt.decision_id.is_not(None))).all())  # fmt: skip

    def open_undecided(self) -> int:
        """Open attempts that never passed the final check (a store failed between the
        row and the check): never dialed; the next claim or reconciliation closes
        them as not_placed."""
        with Session(self.engine) as s:
            return len(s.execute(select(CallAttempt.id).where(
                CallAttempt.result.is_(None), CallAttempt.decision_id.is_(None))).all())  # fmt: skip

    async def until(self, done: object, seconds: float = 120.0) -> None:
        deadline = time.monotonic() + seconds
        while not await done():  # type: ignore[operator]
            if time.monotonic() > deadline:
                raise TimeoutError("condition not reached")
            await asyncio.sleep(0.02)

    async def agents_free_of(self, ended: set[int]) -> bool:
        try:
            snaps = [await self.agents.get(a) for a in self.agent_ids]
        except (RedisError, OSError):
            return False
        return not any(s.attempt_id in ended and s.state in (AgentState.reserved, AgentState.talking)
                       for s in snaps)  # fmt: skip

    async def victims_talking(self) -> set[int]:
        """Attempts of calls bridged to an agent that the first loop does not hold."""
        snaps = [await self.agents.get(a) for a in self.agent_ids]
        return {s.attempt_id for s in snaps if s.state is AgentState.talking
                and s.attempt_id is not None and s.attempt_id not in self.dialer.calls}  # fmt: skip

    async def fault(self, kind: str) -> dict[str, float | int]:
        dialer = self.dialer
        if kind == "dialer":
            return await self.dialer_fault()

        async def two_bridged() -> bool:
            return sum(c.state is CallState.bridged for c in dialer.calls.values()) >= 2

        await self.until(two_bridged)
        live = set(dialer.calls)
        if kind == "postgres":
            await asyncio.to_thread(self.cut_postgres, self.args.pg_cut)
        elif kind == "redis":
            self.redis_server.kill()
            await asyncio.sleep(self.args.outage)
            self.redis_server.start()
        elif kind == "ami":
            self.ami_server.drop_connections()
        else:
            await self.restart_pbx(self.args.outage)
        back = time.monotonic()
        known = max(self.attempts(), default=0)

        async def recovered() -> bool:
            rows = self.attempts()
            written = all(rows.get(a) is not None for a in live if a not in dialer.calls)
            redialed = any(a > known for a in dialer.calls) or max(rows, default=0) > known
            return (written and redialed and not dialer.finisher.owed
                    and await self.agents_free_of(live - set(dialer.calls)))  # fmt: skip

        await self.until(recovered)
        return {"seconds": time.monotonic() - back, "live_at_fault": len(live)}

    async def dialer_fault(self) -> dict[str, float | int]:
        self.victims = getattr(self, "victims", 0) + 1
        proc, agi_port = await self.start_victim(self.victims)

        def its_calls() -> set[int]:  # the debtor channels pbxsim runs for its FastAGI port
            return {int(attempt) for c in list(self.pbx.channels.values())
                    if not c.hungup and self.pbx.get_var(c, cv.AGI_PORT) == agi_port
                    and (attempt := self.pbx.get_var(c, cv.ATTEMPT_ID) or "").isdigit()}  # fmt: skip

        async def two_of_its_calls_bridged() -> bool:
            return len(await self.victims_talking() & its_calls()) >= 2

        try:
            await self.until(two_of_its_calls_bridged, 180.0)
            live = its_calls()
        finally:
            proc.kill()
            await proc.wait()
        back = time.monotonic()
        known = max(self.attempts(), default=0)

        async def recovered() -> bool:
            rows = self.attempts()
            written = all(rows.get(a) is not None for a in live)
            redialed = max(rows, default=0) > known
            return written and redialed and await self.agents_free_of(live)

        await self.until(recovered, 600.0)
        lost = sum(1 for a in live if self.attempts().get(a) == "lost")
        return {"seconds": time.monotonic() - back, "live_at_fault": len(live), "lost": lost}

    async def finish(self) -> dict[str, int]:
        with Session(self.engine) as s, s.begin():
            s.execute(update(Campaign).values(status="stopped"))
        self.dialer.campaign.status = "stopped"

        async def quiet() -> bool:
            return not self.dialer.calls and not self.dialer.finisher.owed

        await self.until(quiet)
        undecided = self.open_undecided()
        decided = self.open_decided()  # before the run's database is dropped below
        rows = self.attempts()
        snaps = [await self.agents.get(a) for a in self.agent_ids]
        self.stop.set()
        self.dialer.request_stop()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.ami.close()
        await self.ami_server.stop()
        await self.pbx.stop()
        await self.agi.stop()
        await self.redis.aclose()
        self.redis_server.kill()
        self.engine.dispose()
        if self.server_url is not None:
            name = self.database_url.rpartition("/")[2]
            with self._admin() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        return {
            "attempts": len(rows),
            "results_lost": decided,
            "open_never_dialed": undecided,
            "agents_stuck": sum(1 for s in snaps if s.state in (AgentState.reserved, AgentState.talking)),
        }  # fmt: skip


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="cobrador-faults-") as tmp:
        floor = Floor(args, Path(tmp))
        await floor.start()
        out: dict[str, object] = {}
        for kind in args.faults.split(","):
            if kind == "postgres" and floor.server_url is None:
                out[kind] = "skipped: PostgreSQL only (--database-url)"
                continue
            runs = [await floor.fault(kind) for _ in range(args.rounds)]
            seconds = [float(r["seconds"]) for r in runs]
            out[kind] = {"recovery_s": [round(x, 2) for x in seconds],
                         "median_s": round(statistics.median(seconds), 2),
                         "calls_live_at_fault": [r["live_at_fault"] for r in runs]}  # fmt: skip
            if kind == "dialer":
                out[kind]["closed_as_lost"] = [r["lost"] for r in runs]  # type: ignore[index]
        out["end"] = await floor.finish()
        return out


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--outage", type=float, default=5.0, help="seconds Redis or pbxsim stays down")
    p.add_argument("--agents", type=int, default=6)
    p.add_argument("--accounts", type=int, default=2000)
    p.add_argument("--database-url", default="", help="a PostgreSQL server (else SQLite)")
    p.add_argument("--pg-cut", type=float, default=1.0,
                   help="seconds PostgreSQL connections are cut again and again")  # fmt: skip
    p.add_argument("--faults", default="redis,ami,asterisk,postgres,dialer",
                   help="which faults, in this order")  # fmt: skip
    args = p.parse_args()
    result = asyncio.run(main_async(args))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
