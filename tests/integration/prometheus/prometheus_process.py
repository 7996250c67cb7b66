"""A real Prometheus (Debian's binary) for one test module: our shipped
config with local targets, 1 s scrapes, a temporary storage dir, a free port."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from support.polling import until_sync
from support.ports import free_port

ROOT = Path(__file__).resolve().parents[3]
PROMETHEUS_DIR = ROOT / "metrics" / "prometheus"


def render_config(targets: dict[str, str]) -> dict[str, Any]:
    """The shipped prometheus.yml with scrape targets replaced by `targets`,
    1 s intervals and absolute rule paths. Every job must get a target."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    config["global"]["scrape_interval"] = "1s"
    config["global"]["evaluation_interval"] = "1s"
    config["rule_files"] = [str(PROMETHEUS_DIR / pattern) for pattern in config["rule_files"]]
    jobs = []
    for job in config["scrape_configs"]:
        name = job["job_name"]
        if name == "prometheus":
            continue  # scraping itself adds nothing to what we test
        if name not in targets:
            raise ValueError(f"no target for scrape job {name!r}")
        job["static_configs"] = [{"targets": [targets[name]]}]
        # Local targets serve plain HTTP (docker-compose's console is HTTPS).
        job.pop("scheme", None)
        job.pop("tls_config", None)
        jobs.append(job)
    config["scrape_configs"] = jobs
    return config


class PrometheusAPI:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def get(self, path: str, **params: str) -> dict[str, Any]:
        url = f"{self.base_url}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:  # 400 carries the parse error as JSON
            return json.loads(exc.read())

    def query(self, expr: str) -> dict[str, Any]:
        return self.get("/api/v1/query", query=expr, time=f"{time.time():.3f}")


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll the Prometheus API; a connection refused or a half-written answer is "not yet"."""
    until_sync(condition, what, within=timeout, tolerate=(OSError, ValueError))


@contextlib.contextmanager
def running_prometheus(
    binary: str, workdir: Path, targets: dict[str, str]
) -> Iterator[PrometheusAPI]:
    config_file = workdir / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(render_config(targets)), encoding="utf-8")
    port = free_port()
    log_path = workdir / "prometheus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1h",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        api = PrometheusAPI(f"http://127.0.0.1:{port}")
        try:

            def ready() -> bool:
                if process.poll() is not None:
                    raise AssertionError(
                        f"prometheus exited {process.returncode}: {log_path.read_text()}"
                    )
                with urllib.request.urlopen(f"{api.base_url}/-/ready", timeout=2) as response:
                    return response.status == 200

            wait_until(ready, 30, "Prometheus to be ready")
            yield api
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
