"""promtool accepts the shipped config and rules, and the rule unit tests pass."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PROMETHEUS_DIR = ROOT / "metrics" / "prometheus"


def _promtool(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=120
    )


def test_given_the_shipped_config_when_checked_then_promtool_accepts_it(promtool: str) -> None:
    result = _promtool(promtool, "check", "config", "prometheus.yml")

    assert result.returncode == 0, result.stdout + result.stderr


def test_given_the_alert_rules_when_checked_then_promtool_accepts_them(promtool: str) -> None:
    rules = sorted(str(p.relative_to(PROMETHEUS_DIR)) for p in PROMETHEUS_DIR.glob("rules/*.yml"))

    result = _promtool(promtool, "check", "rules", *rules)

    assert rules and result.returncode == 0, result.stdout + result.stderr


def test_given_the_rule_unit_tests_when_run_then_they_pass(promtool: str) -> None:
    tests = sorted(str(p.relative_to(PROMETHEUS_DIR)) for p in PROMETHEUS_DIR.glob("tests/*.yml"))

    result = _promtool(promtool, "test", "rules", *tests)

    assert tests and result.returncode == 0, result.stdout + result.stderr


def test_given_a_broken_rule_when_checked_then_promtool_rejects_it(
    promtool: str, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum by (campaign (x)\n"
    )

    result = _promtool(promtool, "check", "rules", str(broken))

    assert result.returncode != 0
