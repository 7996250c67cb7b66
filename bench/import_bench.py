"""Import N synthetic accounts (default 1,000,000) into PostgreSQL through the
real `cobrador import accounts` path and report rows/s and peak RSS.

    .venv/bin/python bench/import_bench.py --rows 1000000 \
        --database-url postgresql://postgres@127.0.0.1:5432/test

The CSV is generated to a temporary file first (not timed); the import runs in a
child process so its peak RSS is measured alone. A fresh database is created and
dropped around the run.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from cobrador.settings import normalise_database_url

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


def generate(path: Path, rows: int, seed: int = 7) -> None:
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
            w.writerow([
                f"{country}-{i:08d}", f"Deudor {i}", country, regions[k],
                f"{rng.randrange(100, 5_000_000) / 100:.2f}", CURRENCY[country],
                f"2026-{rng.randrange(1, 11):02d}-{rng.randrange(1, 28):02d}", "active",
                p1, "mobile", "yes", f"EV-{i}", p2, "home" if p2 else "", "tarjeta",
            ])  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    admin_url = normalise_database_url(args.database_url)
    name = f"bench_import_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db_url = f"{args.database_url.rpartition('/')[0]}/{name}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "accounts.csv"
            t0 = time.monotonic()
            generate(path, args.rows)
            print(f"generated {args.rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) "
                  f"in {time.monotonic() - t0:.0f} s", file=sys.stderr)  # fmt: skip
            env = {"DATABASE_URL": db_url, "PATH": "/usr/bin:/bin", "COBRADOR_DATA_DIR": tmp}
            subprocess.run([sys.executable, "-m", "cobrador.cli", "db", "upgrade"], env=env,
                           check=True, capture_output=True)  # fmt: skip
            t0 = time.monotonic()
            proc = subprocess.run(
                [sys.executable, "-m", "cobrador.cli", "import", "accounts", str(path)],
                env=env,
                capture_output=True,
                text=True,
            )
            seconds = time.monotonic() - t0
            peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            if proc.returncode != 0:
                print(proc.stdout, proc.stderr, file=sys.stderr)
                return 1
    finally:
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    figures = {
        "rows": args.rows,
        "seconds": round(seconds, 1),
        "rows_per_second": round(args.rows / seconds),
        "peak_rss_mb": round(peak_kb / 1024),
        "summary": proc.stdout.strip(),
    }
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
