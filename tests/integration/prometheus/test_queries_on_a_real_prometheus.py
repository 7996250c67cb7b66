"""A real Prometheus scrapes our /metrics; every PromQL expression of the
dashboards and alert rules is evaluated through its HTTP API and parses, and
every dashboard panel returns data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_process import PrometheusAPI

ROOT = Path(__file__).resolve().parents[3]
DASHBOARDS = sorted((ROOT / "metrics" / "grafana" / "dashboards").glob("*.json"))
RULES = sorted((ROOT / "metrics" / "prometheus" / "rules").glob("*.yml"))

# Grafana fills these in; the test run is a few seconds long, so ranges shrink.
GRAFANA_VARIABLES = {
    "$__rate_interval": "30s",
    "$__range": "5m",
    "$campaign": ".*",
    "$country": ".*",
}


def to_promql(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace("${" + variable[1:] + "}", value).replace(variable, value)
    assert "$" not in expr, f"unsubstituted Grafana variable in {expr!r}"
    # Windows longer than the run still parse but hold the same few samples.
    return expr


def _panel_targets() -> list[tuple[str, str]]:
    out = []
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                out.append((f"{path.stem} / {panel['title']} / {target['refId']}", target["expr"]))
    return out


def _rule_exprs() -> list[tuple[str, str]]:
    out = []
    for path in RULES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                out.append((rule.get("alert") or rule["record"], rule["expr"]))
    return out


# Floor panels the dial loop itself feeds, per campaign: (dashboard, panel, refId).
DIAL_LOOP_PANELS = [
    ("floor-operations", "Abandonment vs target", "B"),
    ("floor-operations", "Pacing: dial level and target calls", "B"),
    ("floor-operations", "Calls in flight by state", "A"),
    ("floor-operations", "Agents by state", "A"),
    ("floor-operations", "Calls placed and answered per minute", "A"),
    ("floor-operations", "Calls placed and answered per minute", "B"),
    ("floor-operations", "Hopper entries", "A"),
    ("floor-operations", "Answer to bridge", "A"),
    ("collections-results", "Contact rate (human answers / calls placed, 1 h)", "A"),
    ("collections-results", "Call results", "A"),
    ("compliance", "Decisions: allowed and blocked", "A"),
]


def _target(dashboard: str, title: str, ref_id: str) -> str:
    data = json.loads((DASHBOARDS[0].parent / f"{dashboard}.json").read_text(encoding="utf-8"))
    for panel in data["panels"]:
        if panel["title"] == title:
            for target in panel["targets"]:
                if target["refId"] == ref_id:
                    return str(target["expr"])
    raise AssertionError(f"no panel {title!r} / {ref_id} in {dashboard}")


def test_given_the_run_when_prometheus_scraped_then_every_job_is_up(
    prometheus: PrometheusAPI,
) -> None:
    result = prometheus.query('up{job=~"dialer|console|outreach"}')

    jobs = {r["metric"]["job"]: r["value"][1] for r in result["data"]["result"]}
    assert jobs == {"dialer": "1", "console": "1", "outreach": "1"}


@pytest.mark.parametrize(
    ("where", "expr"), _panel_targets(), ids=lambda v: re.sub(r"\s+", "_", v)[:80]
)
def test_given_a_dashboard_panel_when_queried_then_it_parses_and_returns_data(
    prometheus: PrometheusAPI, where: str, expr: str
) -> None:
    result = prometheus.query(to_promql(expr))

    assert result["status"] == "success", f"{where}: {result.get('error')}"
    assert result["data"]["result"], f"{where}: no data for {to_promql(expr)}"


@pytest.mark.parametrize(("alert", "expr"), _rule_exprs())
def test_given_an_alert_expression_when_queried_then_it_parses(
    prometheus: PrometheusAPI, alert: str, expr: str
) -> None:
    result = prometheus.query(expr)

    assert result["status"] == "success", f"{alert}: {result.get('error')}"


def test_given_the_loaded_rules_when_evaluated_then_every_rule_is_healthy(
    prometheus: PrometheusAPI,
) -> None:
    groups = prometheus.get("/api/v1/rules")["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]

    assert len(rules) == len(_rule_exprs())
    assert [r["name"] for r in rules if r.get("health") != "ok"] == []


def test_given_an_invalid_expression_when_queried_then_prometheus_reports_it(
    prometheus: PrometheusAPI,
) -> None:
    assert prometheus.query("sum by (campaign (cobrador_calls_placed_total)")["status"] == "error"


@pytest.mark.parametrize(("dashboard", "title", "ref_id"), DIAL_LOOP_PANELS)
def test_given_the_campaign_under_test_when_its_floor_panels_are_queried_then_they_show_it(
    prometheus: PrometheusAPI, campaign_under_test: str, dashboard: str, title: str, ref_id: str
) -> None:
    expr = to_promql(_target(dashboard, title, ref_id)).replace(
        'campaign=~".*"', f'campaign=~"{campaign_under_test}"'
    )

    result = prometheus.query(expr)

    assert result["status"] == "success", result.get("error")
    assert result["data"]["result"], f"{title}: no data for {campaign_under_test}: {expr}"
