"""Run pbxsim standalone: `python -m pbxsim --scenario FILE --ami-port 5038`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from pathlib import Path

from dialer import channel_vars as cv
from pbxsim.recording import DEFAULT_CAP_SECONDS
from pbxsim.runner import running_pbxsim
from pbxsim.scenario import Scenario, ScenarioError, load_scenario


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pbxsim", description="Simulated PBX speaking AMI and calling FastAGI."
    )
    parser.add_argument("--scenario", help="JSON scenario file (default: built-in mix)")
    parser.add_argument("--ami-host", default="127.0.0.1")
    parser.add_argument("--ami-port", type=int, default=5038)
    parser.add_argument("--username", default="cobrador")
    parser.add_argument(
        "--secret",
        default=os.environ.get("PBXSIM_AMI_SECRET", "cobrador-dev-secret"),
        help="AMI secret (default from PBXSIM_AMI_SECRET)",
    )
    parser.add_argument("--agi-host", default="127.0.0.1", help="the dialer's FastAGI host")
    parser.add_argument("--agi-port", type=int, default=cv.FASTAGI_PORT)
    parser.add_argument("--speed", type=float, default=1.0, help="clock acceleration factor")
    parser.add_argument("--suffix-rules", action="store_true", help="sim-customers number rules")
    parser.add_argument(
        "--recordings",
        type=Path,
        help="where MixMonitor's relative file names go (its synthetic wavs)",
    )
    parser.add_argument(
        "--recording-cap",
        type=float,
        default=DEFAULT_CAP_SECONDS,
        help="longest synthetic recording written, simulated seconds (default %(default)s)",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


async def serve(args: argparse.Namespace, scenario: Scenario) -> None:
    async with running_pbxsim(
        scenario,
        ami_host=args.ami_host,
        ami_port=args.ami_port,
        username=args.username,
        secret=args.secret,
        agi_host=args.agi_host,
        agi_port=args.agi_port,
        speed=args.speed,
        recordings_dir=args.recordings,
        recording_cap_seconds=args.recording_cap,
    ) as server:
        print(
            f"pbxsim: AMI on {args.ami_host}:{server.port}, "
            f"FastAGI to {args.agi_host}:{args.agi_port}",
            flush=True,
        )
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        scenario = load_scenario(args.scenario) if args.scenario else Scenario()
    except ScenarioError as exc:
        print(f"pbxsim: {exc}", file=sys.stderr)
        return 2
    if args.suffix_rules:
        scenario.suffix_rules = True
    if args.speed <= 0:
        print("pbxsim: --speed must be > 0", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args, scenario))
    return 0


if __name__ == "__main__":
    sys.exit(main())
