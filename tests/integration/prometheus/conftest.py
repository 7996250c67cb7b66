"""Fixtures for the Prometheus tier: Debian's prometheus/promtool (a missing
binary FAILS when COBRADOR_REQUIRE_INTEGRATION=1), a metrics source, and a
real Prometheus scraping it every second."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from metrics_sources import synthetic_floor_run
from prometheus_process import (
    PrometheusAPI,
    running_prometheus,
    wait_until,
)

# Scrapes to collect before querying: enough for rate() and increase() over
# every window the dashboards use once the test substitutes short ranges.
MIN_SCRAPES = 8


def _binary(name: str) -> str:
    path = shutil.which(name) or (
        f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None
    )
    if path is None:
        message = f"{name} is not installed: run scripts/ci-deps (Debian's prometheus package)"
        if os.environ.get("COBRADOR_REQUIRE_INTEGRATION") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    return _binary("promtool")


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    return _binary("prometheus")


def metrics_source() -> str:
    return os.environ.get("COBRADOR_METRICS_SOURCE", "pbxsim")


@pytest.fixture(scope="module")
def campaign_under_test() -> str:
    """The campaign whose floor panels must show data: the one the real dial
    loop runs on pbxsim, or one of the synthetic floor's."""
    return "pbxsim_mx" if metrics_source() == "pbxsim" else "synthetic_mora"


@pytest.fixture(scope="module")
def metrics_targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """`{job: host:port}` for the dialer and console jobs.

    COBRADOR_METRICS_SOURCE picks the source: `pbxsim` (default) runs the
    real dial loop on pbxsim (pbxsim_source.py), `synthetic` only the
    synthetic floor (no dialer core needed). A source is a context manager yielding this mapping while
    /metrics is served.
    """
    if metrics_source() == "pbxsim":
        # Imported here: it needs the dialer core, which the synthetic run does not.
        from pbxsim_source import pbxsim_dialer_run

        with pbxsim_dialer_run(tmp_path_factory.mktemp("pbxsim-run")) as targets:
            yield targets
        return
    with synthetic_floor_run() as targets:
        yield targets


@pytest.fixture(scope="module")
def prometheus(
    prometheus_binary: str,
    metrics_targets: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PrometheusAPI]:
    workdir = tmp_path_factory.mktemp("prometheus")
    with running_prometheus(prometheus_binary, workdir, metrics_targets) as api:

        def scraped_enough() -> bool:
            result = api.query('min(count_over_time(up{job=~"dialer|console"}[5m]))')
            values = result["data"]["result"]
            return bool(values) and float(values[0]["value"][1]) >= MIN_SCRAPES

        wait_until(scraped_enough, 60, f"{MIN_SCRAPES} scrapes of each target")
        yield api
