"""Dashboards and alert rules only use metrics the registry defines, the
committed JSON matches its generator, and provisioning points at one datasource."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from metrics.definitions import REGISTRY
from metrics.grafana import build_dashboards
from metrics.naming import exposed_names

ROOT = Path(__file__).resolve().parents[3]
GRAFANA = ROOT / "metrics" / "grafana"
RULES = ROOT / "metrics" / "prometheus" / "rules"
METRIC_NAME = re.compile(r"\bcobrador_[a-z0-9_]+")


def _dashboards() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((GRAFANA / "dashboards").glob("*.json"))
    }


def _dashboard_exprs() -> list[tuple[str, str]]:
    return [
        (f"{name}: {panel['title']}", target["expr"])
        for name, dashboard in _dashboards().items()
        for panel in dashboard["panels"]
        for target in panel["targets"]
    ]


def _rule_exprs() -> list[tuple[str, str]]:
    out = []
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                out.append((rule.get("alert") or rule["record"], rule["expr"]))
    return out


def test_given_the_generator_when_rendered_then_the_committed_json_matches() -> None:
    committed = {name: (GRAFANA / "dashboards" / name).read_text() for name in _dashboards()}

    assert committed == build_dashboards.rendered(), (
        "run: .venv/bin/python -m metrics.grafana.build_dashboards"
    )


@pytest.mark.parametrize(("where", "expr"), _dashboard_exprs() + _rule_exprs())
def test_given_an_expression_when_checked_then_it_uses_only_defined_metrics(
    where: str, expr: str
) -> None:
    used = set(METRIC_NAME.findall(expr))

    # Only the scrape-health alert may rely on Prometheus' own `up` alone.
    assert used or expr.startswith("up{"), f"{where}: no cobrador metric in {expr!r}"
    assert used <= exposed_names(REGISTRY), f"{where}: unknown {used - exposed_names(REGISTRY)}"


def test_given_the_dashboards_when_loaded_then_ids_and_layout_are_sound() -> None:
    uids = [dashboard["uid"] for dashboard in _dashboards().values()]
    assert len(uids) == len(set(uids)) == 5
    for name, dashboard in _dashboards().items():
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), name
        for panel in dashboard["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, (name, panel["title"])
            assert panel["datasource"]["uid"] == "cobrador-prometheus"


def test_given_the_provisioning_when_read_then_it_serves_the_dashboards_datasource() -> None:
    datasources = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/provider.yml").read_text())

    assert [d["uid"] for d in datasources["datasources"]] == ["cobrador-prometheus"]
    assert providers["providers"][0]["type"] == "file"


def test_given_the_alert_rules_when_read_then_every_alert_has_severity_and_summary() -> None:
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
                assert rule["annotations"]["summary"], rule["alert"]


def test_given_the_registry_when_catalogued_then_docs_metrics_md_is_current() -> None:
    from metrics import catalog

    assert catalog.CATALOG.read_text(encoding="utf-8") == catalog.render(), (
        "run: .venv/bin/python -m metrics.catalog"
    )
