"""The console served by a real process, Chromium from Debian, and a dialer double.

``DialerDouble`` does what the dialer does when a debtor answers: an attempt
row in SQL, the atomic reserve of a ready agent, ``talking``, and the pop on
``cobrador:pops``. A test that drives pbxsim through the real dialer replaces
it with the dialer and asks pbxsim for a call instead; the browser side does
not change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy import Engine
from support import console_forks
from support.ports import free_port

from dialer.agent_state import AgentStates
from store.db import transaction
from store.models import Account, CallAttempt

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[3]


def require_chromium() -> None:
    if Path(CHROMIUM).exists() and shutil.which(CHROMIUM):
        return
    reason = f"{CHROMIUM} missing (scripts/ci-deps.d/30-chromium installs it)"
    if os.environ.get("COBRADOR_REQUIRE_INTEGRATION") == "1":
        pytest.fail(f"real Chromium required (COBRADOR_REQUIRE_INTEGRATION=1): {reason}")
    pytest.skip(reason)


# How long an `expect(...)` polls before it fails (Playwright's default is 5 s). The
# assertions wait for what the console shows after a WebSocket push or a request;
# on a loaded two-core machine that can take longer than 5 s without anything
# being wrong. A wait, not a timed assertion: it passes as soon as the text is there.
EXPECT_TIMEOUT_MS = 20_000

# Chromium takes a date input's day/month order from its own UI language (the
# LANGUAGE of its process), not from a context's locale; Debian's chromium-l10n
# carries the Spanish. A debtor's phone in Mexico shows dd/mm/aaaa.
SPANISH_LOCALES = Path("/usr/lib/chromium/locales/es-419.pak")
SPANISH_ENV = {"LANGUAGE": "es_MX:es", "LANG": "es_MX.UTF-8"}


def launch_spanish_chromium(playwright: Any) -> Any:
    """Chromium speaking Mexican Spanish (date inputs dd/mm/aaaa); skipped (failed under
    COBRADOR_REQUIRE_INTEGRATION=1) without chromium-l10n."""
    require_chromium()
    if not SPANISH_LOCALES.exists():
        reason = f"{SPANISH_LOCALES} missing (scripts/ci-deps.d/30-chromium installs chromium-l10n)"
        if os.environ.get("COBRADOR_REQUIRE_INTEGRATION") == "1":
            pytest.fail(f"Chromium's Spanish required (COBRADOR_REQUIRE_INTEGRATION=1): {reason}")
        pytest.skip(reason)
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                      headless=True, env={**os.environ, **SPANISH_ENV})  # fmt: skip


ENGLISH_ENV = {"LANGUAGE": "en_US:en", "LANG": "en_US.UTF-8"}


def launch_english_chromium(playwright: Any) -> Any:
    """Chromium speaking US English: its date inputs show mm/dd/yyyy whatever the page's
    language (an agent's browser left in English)."""
    require_chromium()
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                      headless=True, env={**os.environ, **ENGLISH_ENV})  # fmt: skip


@contextmanager
def console_process(env: dict[str, str], at: datetime | None = None) -> Iterator[str]:
    """`cobrador console run` in a child process; yields its base URL. ``at``: the
    console's clock starts at that instant (screenshots that do not depend on the hour).

    The child is forked from a server that imported the console once per session
    (support.console_forks); its output goes to ``console-<port>.log`` beside the data
    dir (the test's tmp_path), printed here when it ends under the test."""
    data_dir = env.get("COBRADOR_DATA_DIR")
    logs = Path(data_dir).parent if data_dir else Path(tempfile.mkdtemp(prefix="console-"))
    logs.mkdir(parents=True, exist_ok=True)
    for _ in range(PORT_TRIES):
        port = free_port()
        # Its own metrics port: a fixed one collides with any other console on the machine.
        child_env = {"COBRADOR_CONSOLE_METRICS_PORT": str(free_port()), **env}
        log = logs / f"console-{port}.log"
        proc = console_forks.start(port, child_env, at, log, REPO)
        if _listening(proc, log):
            break
        if ADDRESS_IN_USE not in _tail(log, 4000):
            pytest.fail(f"console did not start ({log}): {_tail(log, 2000)}")
        # A port free when picked was taken before the child bound it (another test's
        # server on this machine): the child said so and exited; try other ports.
    else:
        pytest.fail(f"console found no free port in {PORT_TRIES} tries ({log})")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        died = proc.exitcode
        proc.terminate()
        proc.join(10)
        if proc.exitcode is None:
            proc.kill()
            proc.join(10)
        if died is not None:  # it ended under the test: say why (shown with a failure)
            print(f"console process exited with {died} during the test ({log}):\n"
                  f"{_tail(log, 4000)}")  # fmt: skip


PORT_TRIES = 5
ADDRESS_IN_USE = "address already in use"
LISTENING = "console listening on "


def _listening(proc: Any, log: Path) -> bool:
    """Whether the child says it listens: True once its log has the console's own
    "listening" line (printed after both of its ports are bound), False once it has
    exited. A connection that succeeds is not enough: between free_port() and the
    child's bind another server on the machine may take the port, and the test would
    then talk to that server while the child lies dead (CI, 7 Dec 2026: a browser test
    whose console had died of "address already in use")."""
    deadline = time.monotonic() + 30
    while True:
        if LISTENING in _tail(log, 100_000):
            return True
        if not proc.is_alive():
            proc.join(10)
            return False
        if time.monotonic() > deadline:
            proc.kill()
            proc.join(10)
            pytest.fail(f"console did not start in 30 s ({log}): {_tail(log, 2000)}")
        time.sleep(0.05)


def _tail(path: Path, chars: int) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError as exc:
        return f"(no output: {exc})"


class DialerDouble:
    def __init__(
        self,
        engine: Engine,
        redis_url: str,
        campaign: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.redis_url = redis_url
        self.campaign = campaign
        self.clock = clock  # the attempt rows' and agent states' times (a pinned console's)

    def _states(self, redis: aioredis.Redis) -> AgentStates:
        """The agents' states on this dialer's clock, as the console reads them on its own."""
        return AgentStates(redis, clock=lambda: self.clock().timestamp())

    def answer(self, account_id: int) -> int:
        """A debtor answered: bridge to the longest-ready agent and pop. Returns the attempt id."""
        # Playwright's sync API owns this thread's event loop: run ours on another.
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, self._answer(account_id)).result(timeout=30)

    async def _answer(self, account_id: int) -> int:
        redis = aioredis.Redis.from_url(self.redis_url)
        try:
            states = self._states(redis)
            ready = [a for a in await states.list(self.campaign) if a.state.value == "ready"]
            assert ready, "no ready agent to bridge the call to"
            agent = sorted(ready, key=lambda a: a.since)[0]
            attempt_id = self._attempt(account_id, agent.agent_id)
            assert await states.reserve(agent.agent_id, attempt_id)
            await states.talking(agent.agent_id, attempt_id)
            await redis.publish(
                "cobrador:pops",
                json.dumps(
                    {
                        "type": "pop",
                        "attempt_id": attempt_id,
                        "agent_id": agent.agent_id,
                        "account_id": account_id,
                        "campaign": self.campaign,
                        "direction": "outbound",
                        "published_at": time.time(),
                    }
                ),
            )
            return attempt_id
        finally:
            await redis.aclose()

    def hang_up(self, agent_id: int) -> None:
        """The debtor ended the call: the agent goes to the wrap-up, as the dialer does."""
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(asyncio.run, self._hang_up(agent_id)).result(timeout=30)

    async def _hang_up(self, agent_id: int) -> None:
        redis = aioredis.Redis.from_url(self.redis_url)
        try:
            await self._states(redis).wrap_up(agent_id)
        finally:
            await redis.aclose()

    def _attempt(self, account_id: int, agent_id: int) -> int:
        now = self.clock()
        with transaction(self.engine) as session:
            account = session.get(Account, account_id)
            assert account is not None
            phone = account.phones[0]
            attempt = CallAttempt(
                account_id=account.id,
                phone_id=phone.id,
                phone_e164=phone.number_e164,
                campaign_id=account.campaign_id,
                agent_id=agent_id,
                started_at=now,
                answered_at=now,
                bridged_at=now,
                result="contact",
            )
            session.add(attempt)
            session.flush()
            return attempt.id


class PbxsimFloor:
    """The real dial path in a background thread: pbxsim speaking AMI and FastAGI,
    the compliance service and ``CampaignDialer`` on the campaign. Every call
    pbxsim gets is answered by a person, so the first ready agent gets a pop.

    The dialer's clock is moved to a weekday 11:00 in Mexico City (inside the
    MX window) whatever the wall time of the test run.

    Debtors can also call in (`inbound_call`): the FastAGI `inbound` routes run as
    the dialer service wires them. With ``dial=False`` the dial loop places nothing.
    """

    SHIFT = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
    DID = "5215550001000"  # the campaign's caller ID, set below

    def __init__(self, engine: Engine, redis_url: str, campaign_id: int, tmp: Path,
                 *, dial: bool = True) -> None:  # fmt: skip
        self.engine = engine
        self.redis_url = redis_url
        self.campaign_id = campaign_id
        self.tmp = tmp
        self.dial = dial
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pbx: Any = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="pbxsim-floor", daemon=True)

    def __enter__(self) -> PbxsimFloor:
        self._thread.start()
        if not self._ready.wait(30) or self._error is not None:
            self._stop.set()
            raise AssertionError(f"pbxsim floor did not start: {self._error!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(20)

    def inbound_call(self, caller: str) -> str:
        """A debtor calls the campaign's DID from `caller` ('' = withheld); returns the
        caller's channel name."""
        return self._on_floor(lambda: self._pbx.inbound_call(self.DID, caller).name)

    def hang_up(self, channel: str) -> None:
        """The caller hangs up."""
        self._on_floor(lambda: self._pbx.request_hangup(self._pbx.find_channel(channel), 16))

    def _on_floor(self, fn: Callable[[], Any]) -> Any:
        async def call() -> Any:
            return fn()

        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(10)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the test thread
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        import redis as sync_redis
        from sqlalchemy.orm import Session

        from compliance.registry_import import import_registry
        from compliance.service import ComplianceService
        from dialer import channel_vars as cv
        from dialer.ami import AMIClient
        from dialer.campaign_dialer import CampaignDialer, DialerOptions
        from dialer.fastagi import FastAGIServer
        from dialer.inbound.calls import InboundCalls
        from pbxsim.ami_server import AMIServer
        from pbxsim.clock import ScaledClock
        from pbxsim.pbx import PBX
        from pbxsim.scenario import Dist, Scenario
        from store.models import Campaign, RegisteredCallerId

        offset = self.SHIFT.timestamp() - time.time()

        def clock() -> float:
            return time.time() + offset

        reus = self.tmp / "reus.txt"
        reus.write_text("+525599999999\n")
        client = sync_redis.Redis.from_url(self.redis_url)
        import_registry(self.engine, client, name="reus", path=reus, country="MX",
                        now=datetime.fromtimestamp(clock(), UTC))  # fmt: skip
        client.close()
        with Session(self.engine, expire_on_commit=False) as s, s.begin():
            campaign = s.get(Campaign, self.campaign_id)
            assert campaign is not None
            campaign.status = "running"
            campaign.caller_ids = ["5215550001000"]
            s.add(RegisteredCallerId(number="5215550001000", country="MX", reference="TEST",
                                     created_by="test"))  # fmt: skip
        redis = aioredis.Redis.from_url(self.redis_url)
        agi = FastAGIServer(routes={}, request_timeout=10.0)
        await agi.start("127.0.0.1", 0)
        scenario = Scenario(
            p_human=1.0, p_machine=0.0, p_busy=0.0, p_congestion=0.0, p_unallocated=0.0,
            ring_seconds=Dist("constant", 1.0), talk_seconds=Dist("constant", 120.0),
            amd_human_seconds=0.3, agent_answer_seconds=0.1, seed=7,
        )  # fmt: skip
        pbx = PBX(scenario, clock=ScaledClock(1.0), agi_port=agi.port)
        ami_server = AMIServer(pbx, "cobrador", "secret")
        await ami_server.start("127.0.0.1", 0)
        ami = AMIClient("127.0.0.1", ami_server.port, "cobrador", "secret", action_timeout=3.0,
                        keepalive_interval=None, reconnect_backoff=(0.05, 0.2))  # fmt: skip
        await ami.connect()
        dialer = CampaignDialer(
            sql=self.engine, redis=redis, ami=ami, compliance=ComplianceService(self.engine, redis),
            campaign=campaign, clock=clock,
            options=DialerOptions(owner="browser-test", refill_every_seconds=0.5, agi_port=agi.port),
        )  # fmt: skip
        agi.routes[cv.SCRIPT_ANSWER] = dialer.agi_answer
        inbound = InboundCalls(sql=self.engine, redis=redis, clock=clock, poll_seconds=0.1)
        agi.routes[cv.SCRIPT_INBOUND] = inbound.handle
        agi.routes[cv.SCRIPT_INBOUND_END] = inbound.handle_end
        agi.route_timeouts[cv.SCRIPT_INBOUND] = 600.0
        await dialer.start()
        self._loop, self._pbx = asyncio.get_running_loop(), pbx
        self._ready.set()
        try:
            while not self._stop.is_set():
                if self.dial:
                    await dialer.tick()
                await asyncio.sleep(0.1)
        finally:
            for stop in (dialer.stop, ami.close, pbx.stop, ami_server.stop, agi.stop, redis.aclose):
                with contextlib.suppress(Exception):  # keep stopping the other parts
                    await asyncio.wait_for(stop(), 10)
