"""AMI and FastAGI codecs: parse throughput and how parse time grows with the input.

1. AMI throughput: the Asterisk 22 recordings in tests/fixtures/ami (banner
   lines left out), repeated to `--megabytes`, fed in 64 KiB reads as the
   client reads its socket; MB/s of process CPU time, best of `--runs`.
   With `--wazo-amid PATH` (a checkout of github.com/wazo-platform/wazo-amid)
   its `wazo_amid.ami.parser.parse_buffer` parses the same bytes, cut the same
   way, in the same run. Nothing of wazo-amid is part of cobrador: it is
   loaded from PATH only when asked.
2. Linearity: parse time for an input of size n and of size 4n, for the
   inputs a hostile peer or a bad chunking would send (one message fed one
   byte at a time, a whole stream in one read, a FastAGI reply full of `)`,
   a long FastAGI line one byte at a time). Linear work gives a ratio near 4,
   quadratic work near 16; the bench exits 1 if a ratio passes `--max-ratio`.

    .venv/bin/python bench/codec_bench.py
    .venv/bin/python bench/codec_bench.py --wazo-amid /path/to/wazo-amid
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from dialer.ami.codec import AMIParser
from dialer.fastagi.codec import AGIParser, parse_reply
from dialer.fastagi.errors import AGIProtocolError

REPO = Path(__file__).resolve().parents[1]
TRACES = REPO / "tests" / "fixtures" / "ami"
READ_SIZE = 65536


def capture(megabytes: float) -> bytes:
    """The recorded Asterisk 22 AMI traces, without their banner lines, to about `megabytes`."""
    traces = sorted(p for p in TRACES.glob("*.txt") if not p.name.endswith(".sent.txt"))
    once = b"".join(p.read_bytes().split(b"\r\n", 1)[1] for p in traces)
    return once * max(1, round(megabytes * 1e6 / len(once)))


def cpu_seconds(work: Callable[[], object], runs: int) -> float:
    """Best process CPU time of `runs` runs (CPU time: other work on the machine counts less)."""
    best = float("inf")
    for _ in range(runs):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best


def chunks(data: bytes, size: int = READ_SIZE) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def ours(pieces: list[bytes]) -> int:
    parser = AMIParser()
    return sum(len(parser.feed(piece)) for piece in pieces)


def load_wazo(path: Path) -> ModuleType:
    source = path / "wazo_amid" / "ami" / "parser.py"
    if not source.is_file():
        raise SystemExit(f"{source} not found: --wazo-amid takes a wazo-amid checkout")
    spec = importlib.util.spec_from_file_location("wazo_amid_parser", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def theirs(wazo: ModuleType, pieces: list[bytes]) -> int:
    count = 0

    def callback(*_: object) -> None:
        nonlocal count
        count += 1

    rest = b""
    for piece in pieces:
        rest = wazo.parse_buffer(rest + piece, callback, callback)
    return count


def big_event(size: int) -> bytes:
    lines = [b"Event: VarSet", b"Privilege: dialplan,all", b"Uniqueid: cobrador-101"]
    index = 0
    while sum(len(line) + 2 for line in lines) < size:
        lines.append(b"ChanVariable: COBRADOR_X%d=%s" % (index, b"v" * 40))
        index += 1
    return b"\r\n".join(lines) + b"\r\n\r\n"


def ami_byte_by_byte(size: int) -> Callable[[], object]:
    data = big_event(size)
    pieces = [data[i : i + 1] for i in range(len(data))]
    return lambda: ours(pieces)


def ami_one_read(size: int) -> Callable[[], object]:
    data = capture(size / 1e6)
    return lambda: AMIParser().feed(data)


def agi_parentheses(count: int) -> Callable[[], object]:
    line = "200 result=0 (" + '" x)"' * count

    def work() -> None:
        with contextlib.suppress(AGIProtocolError):
            parse_reply(line)

    return work


def agi_line_byte_by_byte(size: int) -> Callable[[], object]:
    line = b"200 result=1 (" + b"x" * size + b")\n"
    pieces = [line[i : i + 1] for i in range(len(line))]

    def work() -> None:
        parser = AGIParser(max_line=4 * size + 100)
        parser.feed(b"agi_network_script: answer\n\n")
        for piece in pieces:
            parser.feed(piece)

    return work


LINEARITY: list[tuple[str, Callable[[int], Callable[[], object]], int]] = [
    ("AMI: one event fed 1 byte at a time (n bytes)", ami_byte_by_byte, 75_000),
    ("AMI: recorded stream in one read (n bytes)", ami_one_read, 1_000_000),
    ('FastAGI: reply `(` + `" x)"` x n', agi_parentheses, 10_000),
    ("FastAGI: one reply line fed 1 byte at a time (n bytes)", agi_line_byte_by_byte, 15_000),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--wazo-amid", type=Path, help="a wazo-amid checkout, to compare with")
    parser.add_argument("--megabytes", type=float, default=20.0, help="AMI capture size")
    parser.add_argument("--runs", type=int, default=5, help="best of this many runs")
    parser.add_argument("--max-ratio", type=float, default=6.0, help="t(4n)/t(n) allowed")
    args = parser.parse_args()

    data = capture(args.megabytes)
    pieces = chunks(data)
    print(f"# AMI capture: {len(data) / 1e6:.1f} MB, {ours(pieces)} messages, 64 KiB reads")
    seconds = cpu_seconds(lambda: ours(pieces), args.runs)
    print(f"cobrador AMIParser.feed: {len(data) / 1e6 / seconds:.1f} MB/s")
    if args.wazo_amid is not None:
        wazo = load_wazo(args.wazo_amid)
        if theirs(wazo, pieces) != ours(pieces):
            print("(warning: wazo-amid counted a different number of messages)")
        their_seconds = cpu_seconds(lambda: theirs(wazo, pieces), args.runs)
        ours_again = cpu_seconds(lambda: ours(pieces), args.runs)
        seconds = min(seconds, ours_again)
        print(f"wazo-amid parse_buffer: {len(data) / 1e6 / their_seconds:.1f} MB/s")
        print(f"ratio cobrador / wazo-amid: {their_seconds / seconds:.2f}")

    print("\n| input | n | t(n) | t(4n) | t(4n)/t(n) |")
    print("|---|---|---|---|---|")
    worst = 0.0
    for name, make, n in LINEARITY:
        small = cpu_seconds(make(n), args.runs)
        large = cpu_seconds(make(4 * n), max(1, args.runs // 2))
        ratio = large / small
        worst = max(worst, ratio)
        print(f"| {name} | {n:,} | {small * 1e3:.2f} ms | {large * 1e3:.2f} ms | {ratio:.2f} |")
    if worst > args.max_ratio:
        print(f"NOT LINEAR: a ratio of {worst:.2f} > {args.max_ratio}")
        sys.exit(1)


if __name__ == "__main__":
    main()
