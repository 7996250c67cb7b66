"""Fault recovery benchmark: how long the dial loop takes to dial again after a
fault with calls live, and what the fault cost (results lost, agents stuck).

    .venv/bin/python bench/fault_recovery.py [--rounds 3] [--outage 5] [--agents 6]

One dial loop (progressive, tick 0.2 s) on pbxsim (x20 time, debtors who answer
and talk 1.5-2.5 s of wall time), SQLite in a temporary directory and a
redis-server of its own (append-only file, fsync always, so a restart keeps its
data). Faults, each `--rounds` times, each once at least two calls are bridged:
- redis: redis-server SIGKILLed, started again after `--outage` seconds;
- ami: every AMI socket cut (pbxsim drop_connections: a network fault);
- asterisk: pbxsim stopped (every channel gone) and a new one started on the
  same port after `--outage` seconds.
Recovery = from the moment the service is back (redis or pbxsim started again,
the socket cut) to the first new Originate with every result of the calls the
fault ended written and their agents released. At the end the campaign is
stopped, the calls end, and every attempt must have its result and no agent may
be left reserved or talking.
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
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import redis
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

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
from store.db import make_engine
from store.migrate import upgrade
from store.models import Account, CallAttempt, Campaign, Phone, User

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
        self.engine = make_engine(f"sqlite:///{tmp / 'bench.sqlite3'}")
        upgrade(self.engine)
        self.stop = asyncio.Event()

    def clock(self) -> float:
        return time.time() + self.offset

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

    async def fault(self, kind: str) -> dict[str, float | int]:
        dialer = self.dialer

        async def two_bridged() -> bool:
            return sum(c.state is CallState.bridged for c in dialer.calls.values()) >= 2

        await self.until(two_bridged)
        live = set(dialer.calls)
        if kind == "redis":
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
            return (written and redialed and not dialer._pending_finishes
                    and await self.agents_free_of(live - set(dialer.calls)))  # fmt: skip

        await self.until(recovered)
        return {"seconds": time.monotonic() - back, "live_at_fault": len(live)}

    async def finish(self) -> dict[str, int]:
        with Session(self.engine) as s, s.begin():
            s.execute(update(Campaign).values(status="stopped"))
        self.dialer.campaign.status = "stopped"

        async def quiet() -> bool:
            return not self.dialer.calls and not self.dialer._pending_finishes

        await self.until(quiet)
        rows = self.attempts()
        snaps = [await self.agents.get(a) for a in self.agent_ids]
        undecided = self.open_undecided()
        self.stop.set()
        self.dialer.request_stop()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.ami.close()
        await self.ami_server.stop()
        await self.pbx.stop()
        await self.agi.stop()
        await self.redis.aclose()
        self.redis_server.kill()
        return {
            "attempts": len(rows),
            "results_lost": sum(1 for r in rows.values() if r is None) - undecided,
            "open_never_dialed": undecided,
            "agents_stuck": sum(1 for s in snaps if s.state in (AgentState.reserved, AgentState.talking)),
        }  # fmt: skip


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="cobrador-faults-") as tmp:
        floor = Floor(args, Path(tmp))
        await floor.start()
        out: dict[str, object] = {}
        for kind in ("redis", "ami", "asterisk"):
            runs = [await floor.fault(kind) for _ in range(args.rounds)]
            seconds = [float(r["seconds"]) for r in runs]
            out[kind] = {"recovery_s": [round(x, 2) for x in seconds],
                         "median_s": round(statistics.median(seconds), 2),
                         "calls_live_at_fault": [r["live_at_fault"] for r in runs]}  # fmt: skip
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
    args = p.parse_args()
    result = asyncio.run(main_async(args))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
