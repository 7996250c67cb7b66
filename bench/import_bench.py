"""Import N synthetic accounts (default 1,000,000) into PostgreSQL through the
real `cobrador import accounts` path and report rows/s and peak RSS.

    .venv/bin/python bench/import_bench.py --rows 1000000 --runs 3 \
        --database-url postgresql://postgres@127.0.0.1:5432/test

The CSV is generated to a temporary file first (not timed); each import runs in
a child process (with its validation workers) so its peak RSS is measured
alone. Each run gets a fresh database, created and dropped around it
(`--preload N` first imports N other accounts, untimed, so the timed import
goes into a table that is not empty). The last
line prints best and median rows/s and the peak RSS.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine, create_engine, make_url, text

from cobrador.ground.settings import normalise_database_url

REGIONS = {
    "MX": (["MX-CMX", "MX-JAL", "MX-NLE", "MX-SON", "MX-ROO", "MX-BCN", "MX-CHH", "MX-YUC"],
           ["55", "33", "81", "662", "998", "664", "614", "999"]),
    "CO": (["CO-DC", "CO-ANT", "CO-VAC", "CO-ATL"], ["310", "311", "300", "320"]),
    "PE": (["PE-LIM", "PE-ARE", "PE-CUS", "PE-LAL"], ["9"]),
}  # fmt: skip
CURRENCY = {"MX": "MXN", "CO": "COP", "PE": "PEN"}


def national_number(country: str, prefix: str, rng: random.Random) -> str:
    if country == "MX":
        return prefix + "".join(str(rng.randrange(10)) for _ in range(10 - len(prefix)))
    if country == "CO":
        return prefix + "".join(str(rng.randrange(10)) for _ in range(7))
    return "9" + "".join(str(rng.randrange(10)) for _ in range(8))


def generate(path: Path, rows: int, seed: int = 7, ref_prefix: str = "") -> None:
    rng = random.Random(seed)
    header = ["external_ref", "debtor_name", "country", "region", "balance", "currency",
              "due_date", "status", "phone_1", "phone_1_type", "phone_1_consent",
              "phone_1_consent_ref", "phone_2", "phone_2_type", "product"]  # fmt: skip
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for i in range(rows):
            country = rng.choice(("MX", "MX", "CO", "PE"))
            regions, prefixes = REGIONS[country]
            k = rng.randrange(len(regions))
            p1 = national_number(country, prefixes[k % len(prefixes)], rng)
            p2 = national_number(country, prefixes[k % len(prefixes)], rng) if i % 3 == 0 else ""
            while p2 == p1:  # a rare draw; the importer rightly refuses a repeated number
                p2 = national_number(country, prefixes[k % len(prefixes)], rng)
            w.writerow([
                f"{ref_prefix}{country}-{i:08d}", f"Deudor {i}", country, regions[k],
                f"{rng.randrange(100, 5_000_000) / 100:.2f}", CURRENCY[country],
                f"2026-{rng.randrange(1, 11):02d}-{rng.randrange(1, 28):02d}", "active",
                p1, "mobile", "yes", f"EV-{i}", p2, "home" if p2 else "", "tarjeta",
            ])  # fmt: skip


def process_tree_pss_kb(pid: int) -> int:
    """Proportional memory (PSS: shared pages split between the processes sharing
    them) of a process and all its descendants, the forked validation workers."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/smaps_rollup") as fh:
                total += next((int(line.split()[1]) for line in fh if line.startswith("Pss:")), 0)
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as fh:
                    stack.extend(int(child) for child in fh.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (here: the PostgreSQL backend), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_import(path: Path, env: dict[str, str], admin: Engine, database: str) -> dict[str, object]:
    """One timed `cobrador import accounts` run: peak RSS of its biggest process
    (rusage), peak memory of all its processes together (PSS, sampled every
    250 ms: RSS would count the pages the forked workers share several times),
    and CPU time per row of the import's processes and of its PostgreSQL backends
    (when PostgreSQL runs on this machine): a figure the other load moves less."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cobrador.cli", "import", "accounts", str(path)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    peak_tree_kb = 0
    backend_cpu: dict[int, float] = {}  # the import's PostgreSQL backends (it opens two)
    while proc.poll() is None:
        peak_tree_kb = max(peak_tree_kb, process_tree_pss_kb(proc.pid))
        with admin.connect() as conn:
            for pid in conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = :d"), {"d": database}
            ).scalars():
                backend_cpu.setdefault(pid, 0.0)
        for pid in backend_cpu:
            # OSError: the backend has exited (its last figure stays), or PostgreSQL runs elsewhere.
            with contextlib.suppress(OSError):
                backend_cpu[pid] = cpu_seconds(pid)
        time.sleep(0.25)  # reading smaps costs CPU: sample sparingly
    out, err = proc.communicate()
    seconds = time.monotonic() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"import failed ({proc.returncode}):\n{out}\n{err}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    import_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(after.ru_maxrss / 1024),
        "peak_pss_all_processes_mb": round(peak_tree_kb / 1024),
        "cpu_seconds_import_processes": round(import_cpu, 1),
        "cpu_seconds_postgres_backend": round(sum(backend_cpu.values()), 1)
        if backend_cpu
        else None,
        "summary": out.strip(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1, help="imports of the same file, each "
                        "into a fresh database; best and median are reported")  # fmt: skip
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    parser.add_argument("--preload", type=int, default=0, metavar="N",
                        help="import N other accounts first (not timed): the timed import "
                        "then goes into a table that is not empty, the general case "
                        "(a first load into an empty table takes a faster path)")  # fmt: skip
    args = parser.parse_args()

    # Databases are created from the server's maintenance database, so the one named
    # in --database-url need not exist (a fresh PostgreSQL has only "postgres").
    server = make_url(normalise_database_url(args.database_url)).set(database="postgres")
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    runs: list[dict[str, object]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "accounts.csv"
            t0 = time.monotonic()
            generate(path, args.rows)
            print(f"generated {args.rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) "
                  f"in {time.monotonic() - t0:.0f} s", file=sys.stderr)  # fmt: skip
            preload = Path(tmp) / "preload.csv"
            if args.preload:
                generate(preload, args.preload, seed=11, ref_prefix="OLD-")
            for n in range(1, args.runs + 1):
                name = f"bench_import_{uuid.uuid4().hex[:8]}"
                with admin.connect() as conn:
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
                try:
                    db_url = f"{args.database_url.rpartition('/')[0]}/{name}"
                    env = {
                        "DATABASE_URL": db_url,
                        "PATH": "/usr/bin:/bin",
                        "COBRADOR_DATA_DIR": tmp,
                    }
                    subprocess.run([sys.executable, "-m", "cobrador.cli", "db", "upgrade"],
                                   env=env, check=True, capture_output=True)  # fmt: skip
                    if args.preload:
                        pre = subprocess.run([sys.executable, "-m", "cobrador.cli", "import",
                                              "accounts", str(preload)],
                                             env=env, capture_output=True, text=True)  # fmt: skip
                        if pre.returncode != 0:
                            raise RuntimeError(f"preload failed ({pre.returncode}):\n"
                                               f"{pre.stdout[-2000:]}\n{pre.stderr[-2000:]}")  # fmt: skip
                    load_before = os.getloadavg()[0]
                    run = run_import(path, env, admin, name)
                    run["rows_per_second"] = round(args.rows / run["seconds"])  # type: ignore[operator]
                    run["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
                    runs.append(run)
                    print(f"run {n}: {run['rows_per_second']:,} rows/s, {run['seconds']} s, "
                          f"CPU {run['cpu_seconds_import_processes']} s import + "
                          f"{run['cpu_seconds_postgres_backend']} s PostgreSQL, "
                          f"peak RSS {run['peak_rss_mb']} MB (PSS of all processes "
                          f"{run['peak_pss_all_processes_mb']} MB), load {load_before:.2f}",
                          file=sys.stderr)  # fmt: skip
                finally:
                    if not args.keep:
                        with admin.connect() as conn:
                            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        admin.dispose()
    rates = sorted(int(r["rows_per_second"]) for r in runs)  # type: ignore[call-overload]
    cpu = [float(r["cpu_seconds_import_processes"]) + float(r["cpu_seconds_postgres_backend"] or 0)  # type: ignore[arg-type]
           for r in runs]  # fmt: skip
    figures = {
        "rows": args.rows,
        "preloaded_accounts": args.preload,
        "runs": runs,
        "best_rows_per_second": rates[-1],
        "median_rows_per_second": round(statistics.median(rates)),
        "peak_rss_mb": max(int(r["peak_rss_mb"]) for r in runs),  # type: ignore[call-overload]
        "peak_pss_all_processes_mb": max(int(r["peak_pss_all_processes_mb"]) for r in runs),  # type: ignore[call-overload]
        "cpus": os.cpu_count(),
        # All the CPU one row costs (import processes + PostgreSQL backend), best run,
        # and the rate it allows when every core of this machine is free for the import.
        "cpu_microseconds_per_row": round(min(cpu) / args.rows * 1e6, 1),
        "cpu_bound_ceiling_rows_per_second": round(args.rows * (os.cpu_count() or 1) / min(cpu)),
    }
    print(json.dumps(figures, indent=2))
    into = f" into a table of {args.preload:,} accounts" if args.preload else " into an empty table"
    print(f"RESULT: {args.rows:,} rows{into}, best {figures['best_rows_per_second']:,} rows/s, "
          f"median {figures['median_rows_per_second']:,} rows/s over {len(runs)} run(s); "
          f"peak RSS {figures['peak_rss_mb']} MB (biggest process), "
          f"{figures['peak_pss_all_processes_mb']} MB PSS (all import processes together); "
          f"{figures['cpu_microseconds_per_row']} µs CPU per row")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
