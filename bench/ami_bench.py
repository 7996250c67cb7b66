"""AMI benchmark on the real Asterisk 22 (the chroot of scripts/asterisk-chroot).

Two measurements, through our own AMIClient and FastAGIServer:

1. Originates/s sustained: `--concurrency` Originates kept in flight for
   `--duration` seconds to sim-customers numbers that fail at once (suffix 601):
   each one creates and tears down a Local channel pair and its ~20 events.
2. Answer-to-agent-bridge latency: `--agents` nailed-up agent legs sit in their
   ConfBridges; debtors who answer at once (suffix 100, AMD off unless --amd)
   are bridged by the FastAGI handler. Latency from the debtor's answer
   (Newstate Up of its channel) and from the handler's start (FastAGI request
   in) to its ConfbridgeJoin into agent-<id>, as the AMI client sees them.

    scripts/asterisk-chroot start   # COBRADOR_OUTBOUND_ROUTE=sim (the default there)
    .venv/bin/python bench/ami_bench.py --duration 20 --concurrency 20 --calls 200 --agents 10
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from dialer.ami import AMIClient, Message
from dialer.fastagi import AGISession, FastAGIServer

REPO = Path(__file__).resolve().parents[1]
FAIL_NUMBER = "5215512340601"
ANSWER_NUMBER = "5215512340100"
FILTERED_EVENTS = ("Newstate", "Hangup", "OriginateResponse", "ConfbridgeJoin")
_ids = itertools.count(int(time.time()) % 100_000 * 1000)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def debtor_originate(attempt: int, number: str, amd: bool) -> dict[str, str]:
    variables = f"COBRADOR_ATTEMPT_ID={attempt},COBRADOR_CAMPAIGN=bench"
    if not amd:
        variables += ",COBRADOR_AMD=off"
    return {
        "Action": "Originate",
        "Channel": f"Local/{number}@cobrador-outbound",
        "Context": "cobrador-answer",
        "Exten": "s",
        "Priority": "1",
        "Async": "true",
        "Timeout": "10000",
        "ChannelId": f"cobrador-{attempt}",
        "CallerID": '"Bench" <5215500000000>',
        "Variable": variables,
    }


@dataclass
class EventTimes:
    """When the client received the events the benchmark waits for."""

    originate_done: dict[str, asyncio.Event] = field(default_factory=dict)
    up_at: dict[str, float] = field(default_factory=dict)
    joined_at: dict[str, float] = field(default_factory=dict)
    joined: dict[str, asyncio.Event] = field(default_factory=dict)
    gone: dict[str, asyncio.Event] = field(default_factory=dict)

    def feed(self, event: Message) -> None:
        now = time.perf_counter()
        uid = event.get("Uniqueid") or ""
        name = event.name
        if name == "OriginateResponse" and uid in self.originate_done:
            self.originate_done[uid].set()
        elif name == "Newstate" and event.get("ChannelStateDesc") == "Up":
            self.up_at.setdefault(uid, now)
        elif name == "ConfbridgeJoin":
            self.joined_at.setdefault(uid, now)
            if uid in self.joined:
                self.joined[uid].set()
        elif name == "Hangup" and uid in self.gone:
            self.gone[uid].set()


async def pump(client: AMIClient, times: EventTimes) -> None:
    async for event in client.events():
        times.feed(event)


async def throughput(
    client: AMIClient, times: EventTimes, duration: float, concurrency: int
) -> dict[str, float]:
    done = 0
    errors = 0
    deadline = time.perf_counter() + duration

    async def worker() -> None:
        nonlocal done, errors
        while time.perf_counter() < deadline:
            attempt = next(_ids)
            uid = f"cobrador-{attempt}"
            times.originate_done[uid] = asyncio.Event()
            try:
                await client.send_action(debtor_originate(attempt, FAIL_NUMBER, amd=False))
                await asyncio.wait_for(times.originate_done[uid].wait(), 10)
                done += 1
            except Exception:  # noqa: BLE001 - counted, the run goes on
                errors += 1
            finally:
                times.originate_done.pop(uid, None)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"originates": done, "errors": errors, "seconds": elapsed, "per_second": done / elapsed}


async def bridge_latency(
    client: AMIClient, times: EventTimes, calls: int, agents: int, amd: bool
) -> dict[str, float]:
    free: asyncio.Queue[int] = asyncio.Queue()
    agent_of: dict[str, int] = {}
    agi_start: dict[str, float] = {}
    base = next(_ids)
    agent_ids = [base + i for i in range(agents)]

    async def answer(agi: AGISession) -> None:
        agi_start[agi.uniqueid] = time.perf_counter()
        agent = agent_of[agi.uniqueid]
        await agi.set_variable("COBRADOR_ACTION", "bridge")
        await agi.set_variable("COBRADOR_BRIDGE", f"agent-{agent}")

    server = FastAGIServer(routes={"answer": answer})
    await server.start("127.0.0.1", 0)
    await client.send_action(
        {"Action": "Setvar", "Variable": "COBRADOR_AGI_PORT", "Value": str(server.port)}
    )
    legs = []
    for agent in agent_ids:
        leg = f"cobrador-agent-{agent}"
        legs.append(leg)
        times.joined[leg] = asyncio.Event()
        await client.send_action(
            {
                "Action": "Originate",
                "Channel": f"Local/{agent}@sim-agents",
                "Context": "cobrador-agent",
                "Exten": "s",
                "Priority": "1",
                "Async": "true",
                "ChannelId": leg,
                "Variable": f"COBRADOR_AGENT_ID={agent}",
            }
        )
    for leg in legs:
        await asyncio.wait_for(times.joined[leg].wait(), 20)
    for agent in agent_ids:
        free.put_nowait(agent)

    from_up: list[float] = []
    from_agi: list[float] = []
    failures = 0
    reordered = 0

    async def one_call() -> None:
        nonlocal failures, reordered
        agent = await free.get()
        attempt = next(_ids)
        uid = f"cobrador-{attempt}"
        agent_of[uid] = agent
        times.joined[uid] = asyncio.Event()
        times.gone[uid] = asyncio.Event()
        try:
            await client.send_action(debtor_originate(attempt, ANSWER_NUMBER, amd))
            await asyncio.wait_for(times.joined[uid].wait(), 20)
            # ConfbridgeJoin travels on the bridge's topic, Newstate on the
            # channel's: Asterisk may deliver the join first (counted, not timed).
            if uid not in times.up_at:
                await asyncio.sleep(0.5)
            if uid not in times.up_at or times.up_at[uid] > times.joined_at[uid]:
                reordered += 1
            else:
                from_up.append(times.joined_at[uid] - times.up_at[uid])
            from_agi.append(times.joined_at[uid] - agi_start[uid])
            await client.send_action({"Action": "Hangup", "Channel": uid})
            await asyncio.wait_for(times.gone[uid].wait(), 10)
        except Exception as exc:  # noqa: BLE001 - counted, the run goes on
            failures += 1
            print(f"call {uid} failed: {exc!r}")
        finally:
            free.put_nowait(agent)

    await asyncio.gather(*(one_call() for _ in range(calls)))
    for leg in legs:
        await client.send_action({"Action": "Hangup", "Channel": leg})
    await server.stop()
    return {
        "calls": len(from_agi),
        "failures": failures,
        "reordered": reordered,
        "up_p50_ms": percentile(from_up, 50) * 1000,
        "up_p99_ms": percentile(from_up, 99) * 1000,
        "up_max_ms": max(from_up) * 1000,
        "agi_p50_ms": percentile(from_agi, 50) * 1000,
        "agi_p99_ms": percentile(from_agi, 99) * 1000,
        "mean_ms": statistics.fmean(from_up) * 1000,
    }


async def main_async(args: argparse.Namespace) -> None:
    client = AMIClient(args.host, args.port, "cobrador", args.secret, event_buffer=1_000_000)
    await client.connect()
    times = EventTimes()
    if args.filter:
        # Only what the benchmark (and a dialer) reads; the session's filters
        # are Asterisk 22's advanced ones (name hashing, no regex per event).
        for name in FILTERED_EVENTS:
            await client.send_action(
                {"Action": "Filter", "Operation": "Add", "MatchCriteria": f"name({name})"}
            )
    reader = asyncio.create_task(pump(client, times))
    try:
        banner = client.banner or "?"
        version = await client.send_action({"Action": "Command", "Command": "core show version"})
        print(f"# {banner}; {' '.join(version.output)[:60]}")
        if args.duration > 0:
            result = await throughput(client, times, args.duration, args.concurrency)
            print(
                f"originates: {result['originates']} in {result['seconds']:.1f} s = "
                f"{result['per_second']:.1f}/s sustained (concurrency {args.concurrency}, "
                f"{'filtered' if args.filter else 'all'} events, "
                f"errors {result['errors']})"
            )
        if args.calls > 0:
            lat = await bridge_latency(client, times, args.calls, args.agents, args.amd)
            print(
                f"answer->bridge ({lat['calls']} calls, {args.agents} agents, "
                f"AMD {'on' if args.amd else 'off'}, failures {lat['failures']}, "
                f"join before Up {lat['reordered']}): "
                f"Newstate Up->ConfbridgeJoin p50 {lat['up_p50_ms']:.1f} ms, "
                f"p99 {lat['up_p99_ms']:.1f} ms, max {lat['up_max_ms']:.1f} ms; "
                f"FastAGI start->ConfbridgeJoin p50 {lat['agi_p50_ms']:.1f} ms, "
                f"p99 {lat['agi_p99_ms']:.1f} ms"
            )
    finally:
        reader.cancel()
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="AMI benchmark on the chroot Asterisk 22")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5038)
    parser.add_argument("--secret", default="cobrador-dev-secret")
    parser.add_argument("--duration", type=float, default=20.0, help="throughput phase, s")
    parser.add_argument("--concurrency", type=int, default=20, help="Originates in flight")
    parser.add_argument("--calls", type=int, default=200, help="bridged calls to time")
    parser.add_argument("--agents", type=int, default=10, help="nailed-up agent legs")
    parser.add_argument("--amd", action="store_true", help="run AMD before the FastAGI")
    parser.add_argument(
        "--filter", action="store_true", help="AMI Filter: only the events the bench reads"
    )
    parser.add_argument("--start", action="store_true", help="start the chroot Asterisk first")
    args = parser.parse_args()
    if args.start:
        subprocess.run([str(REPO / "scripts" / "asterisk-chroot"), "start"], check=True)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
