"""One dialer process for the multi-dialer test: a CampaignDialer with its own
FastAGI server, against the shared SQL database, Redis and pbxsim AMI port.

Run as a script (test_multi_dialer.py starts three of them). The shift clock
is wall time plus `--clock-offset`, the same offset in every process, so all
dialers and the test agree on the debtor's local time. SIGTERM stops it
cleanly; SIGKILL is what the test uses to simulate a crash.

`--hold-after-create-attempt` stops the dialer right after it writes its first
attempt row, before the final check: it prints `held attempt=<id>` and waits
there until SIGUSR1 (or its SIGKILL), so a test can crash or stall it at exactly
that point.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import threading
import time
from typing import Any

import redis.asyncio as aioredis

from compliance.service import ComplianceService
from dialer import attempt_store
from dialer import channel_vars as cv
from dialer.ami import AMIClient
from dialer.campaign_dialer import CampaignDialer, DialerOptions
from dialer.fastagi import FastAGIServer
from store.db import make_engine


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--database-url", required=True)
    p.add_argument("--redis-url", required=True)
    p.add_argument("--ami-port", type=int, required=True)
    p.add_argument("--campaign", required=True)
    p.add_argument("--owner", required=True, help="names this dialer's hopper leases")
    p.add_argument("--clock-offset", type=float, required=True, help="seconds added to wall time")
    p.add_argument("--lease-seconds", type=float, default=3.0)
    p.add_argument("--tick-seconds", type=float, default=0.2)
    p.add_argument("--hold-after-create-attempt", action="store_true")
    p.add_argument("--reconcile-every", type=float, default=30.0)
    p.add_argument("--orphan-grace", type=float, default=120.0)
    p.add_argument("--alive-seconds", type=float, default=DialerOptions.alive_seconds,
                   help="heartbeat TTL (dialer/liveness.py)")  # fmt: skip
    # The real Asterisk (tests/integration/asterisk/real_floor.py) rather than pbxsim.
    p.add_argument("--ami-secret", default="secret")
    p.add_argument("--ring-timeout", type=float, default=30.0)
    p.add_argument("--pbx-cel-path", default=None, help="Asterisk's CEL file (reconciliation)")
    return p.parse_args(argv)


def hold_after_create_attempt(loop: asyncio.AbstractEventLoop) -> None:
    """The first attempt row written, the (worker thread of the) dial loop waits for SIGUSR1."""
    resume = threading.Event()
    loop.add_signal_handler(signal.SIGUSR1, resume.set)
    create = attempt_store.create_attempt
    held = threading.Event()

    def create_then_hold(sql: Any, **values: Any) -> tuple[int, list[int]]:
        attempt_id, closed = create(sql, **values)
        if not held.is_set():
            held.set()
            print(f"held attempt={attempt_id}", flush=True)
            resume.wait()
        return attempt_id, closed

    attempt_store.create_attempt = create_then_hold  # type: ignore[assignment]


async def run(args: argparse.Namespace) -> int:
    def clock() -> float:
        return time.time() + args.clock_offset

    engine = make_engine(args.database_url)
    redis = aioredis.Redis.from_url(args.redis_url)
    campaign = attempt_store.load_campaign(engine, args.campaign)
    if campaign is None:
        print(f"unknown campaign {args.campaign}", file=sys.stderr)
        return 2
    agi = FastAGIServer(routes={}, request_timeout=10.0)
    await agi.start("127.0.0.1", 0)
    ami = AMIClient("127.0.0.1", args.ami_port, "cobrador", args.ami_secret, action_timeout=5.0,
                    keepalive_interval=None, reconnect_backoff=(0.05, 0.5))  # fmt: skip
    await ami.connect()
    options = DialerOptions(
        owner=args.owner,
        tick_seconds=args.tick_seconds,
        lease_seconds=args.lease_seconds,
        refill_every_seconds=0.5,
        refill_batch=50,
        agi_port=agi.port,
        reconcile_every_seconds=args.reconcile_every,
        orphan_grace_seconds=args.orphan_grace,
        alive_seconds=args.alive_seconds,
        ring_timeout_seconds=args.ring_timeout,
        pbx_cel_path=args.pbx_cel_path,
    )
    dialer = CampaignDialer(sql=engine, redis=redis, ami=ami,
                            compliance=ComplianceService(engine, redis),
                            campaign=campaign, options=options, clock=clock)  # fmt: skip
    agi.routes[cv.SCRIPT_ANSWER] = dialer.agi_answer
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, dialer.request_stop)
    if args.hold_after_create_attempt:
        hold_after_create_attempt(loop)
    # The test reads this line to learn that the dialer is up and where its FastAGI listens.
    print(f"ready owner={args.owner} agi_port={agi.port}", flush=True)
    try:
        await dialer.run()
    finally:
        await ami.close()
        await agi.stop()
        await redis.aclose()
        engine.dispose()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s {args.owner} %(name)s %(levelname)s %(message)s"
    )
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
