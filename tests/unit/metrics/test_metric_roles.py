"""Each process serves its own metrics on /metrics (metrics/roles.py): every metric is
served by some role, none by a process that never updates it, and what the dashboards
and alert rules read is served by the job they read it from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prometheus_client.exposition import generate_latest
from test_dashboards_and_rules import METRIC_NAME, _dashboard_exprs, _rule_exprs

from metrics import definitions as m
from metrics.naming import exposed_names
from metrics.roles import CONSOLE, DIALER, OUTREACH, ROLES, collectors, registry_for

JOB = re.compile(r'job=~?"([a-z|]+)"')
PROMETHEUS_YML = Path(__file__).resolve().parents[3] / "metrics" / "prometheus" / "prometheus.yml"


def served(role: str) -> set[str]:
    return exposed_names(registry_for(role))


def test_given_the_registry_then_every_metric_is_served_by_some_role() -> None:
    everywhere = set().union(*(served(role) for role in ROLES))
    assert everywhere == exposed_names(m.REGISTRY)


def test_given_the_roles_then_each_serves_its_own_and_none_another_ones() -> None:
    assert "cobrador_ami_up" in served(DIALER) and "cobrador_ami_up" not in served(OUTREACH)
    assert "cobrador_calls_placed_total" not in served(OUTREACH) | served(CONSOLE)
    assert "cobrador_outreach_messages_total" in served(OUTREACH)
    assert "cobrador_outreach_messages_total" not in served(DIALER) | served(CONSOLE)
    assert "cobrador_screen_pop_latency_seconds_count" in served(CONSOLE)
    assert "cobrador_screen_pop_latency_seconds_count" not in served(DIALER) | served(OUTREACH)
    # Every process syncs the registries into its own compliance engine.
    assert all("cobrador_registry_loaded_up" in served(role) for role in ROLES)


def test_given_a_metric_updated_then_its_roles_exposition_shows_it_and_no_other() -> None:
    """The role's registry holds the very objects the code updates."""
    m.AMI_RECONNECTS.inc()
    dialer = generate_latest(registry_for(DIALER)).decode()
    outreach = generate_latest(registry_for(OUTREACH)).decode()
    assert re.search(r"^cobrador_ami_reconnects_total [1-9]", dialer, re.M)
    assert "cobrador_ami_" not in outreach and "cobrador_calls_" not in outreach


def test_given_an_unknown_role_then_a_readable_error() -> None:
    for bad in ("", "Dialer", "prometheus"):
        with pytest.raises(ValueError, match="one of dialer, console, outreach"):
            collectors(bad)
        with pytest.raises(ValueError, match="unknown metrics role"):
            registry_for(bad)


def test_given_the_scrape_jobs_then_they_are_the_roles() -> None:
    jobs = set(re.findall(r"job_name: ([a-z]+)", PROMETHEUS_YML.read_text(encoding="utf-8")))
    assert jobs - {"prometheus"} == set(ROLES)


@pytest.mark.parametrize(("where", "expr"), _dashboard_exprs() + _rule_exprs())
def test_given_an_expression_then_its_metrics_are_served_by_the_jobs_it_reads(
    where: str, expr: str
) -> None:
    """A panel or an alert reading a metric no process serves (or only a job it does
    not read) would show nothing, or never fire."""
    used = set(METRIC_NAME.findall(expr))
    named = {job for found in JOB.findall(expr) for job in found.split("|")} - {"prometheus"}
    readable = set().union(*(served(role) for role in (named or set(ROLES))))
    assert used <= readable, f"{where}: {used - readable} not served by {named or 'any job'}"
