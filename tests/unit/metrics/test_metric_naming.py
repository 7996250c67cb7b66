"""The naming and label rules hold over the whole registry, and the checker
really catches each kind of violation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from metrics import definitions
from metrics.definitions import REGISTRY
from metrics.labels import (
    AGENT_STATES,
    ANSWER_RESULTS,
    CALL_RESULTS,
    CALL_STATES,
    MODES,
    WINDOWS,
    error_reason,
    hour_label,
    region_label,
)
from metrics.naming import check_registry


def _exercise_every_metric() -> None:
    """Touch every labelled metric with realistic values, so sample checks run."""
    d = definitions
    d.CALLS_PLACED.labels(campaign="naming_check", mode="predictive").inc()
    for result in CALL_RESULTS:
        d.CALL_RESULTS.labels(campaign="naming_check", result=result).inc()
    for result in ANSWER_RESULTS:
        d.CALLS_ANSWERED.labels(campaign="naming_check", result=result).inc()
    d.ORIGINATE_ERRORS.labels(campaign="naming_check", reason=error_reason(TimeoutError())).inc()
    d.ABANDONED.labels(campaign="naming_check").inc()
    for window in WINDOWS:
        d.ABANDONMENT_RATIO.labels(campaign="naming_check", window=window).set(0.02)
        d.INBOUND_SERVICE_LEVEL.labels(campaign="naming_check", window=window).set(0.9)
    d.ABANDONMENT_TARGET.labels(campaign="naming_check").set(0.03)
    for state in CALL_STATES:
        d.CALLS_IN_FLIGHT.labels(campaign="naming_check", state=state).set(1)
    for state in AGENT_STATES:
        d.AGENTS_BY_STATE.labels(campaign="naming_check", state=state).set(2)
    for mode in MODES:
        d.DIAL_LEVEL.labels(campaign="naming_check", mode=mode).set(1.4)
    local = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    d.LOCAL_HOUR_ATTEMPTS.labels(
        country="MX", region=region_label("MX", "JAL"), hour=hour_label(local)
    ).inc()
    d.DECISIONS.labels(campaign="naming_check", country="MX", stage="hopper", allowed="false").inc()
    d.DECISION_BLOCKS.labels(
        campaign="naming_check", country="MX", stage="originate", reason="registry_stale"
    ).inc()
    d.REGISTRY_AGE.mark(1.0e9, country="MX", registry="REUS")
    d.PROMISED_AMOUNT.labels(campaign="naming_check", country="MX").inc(1500.0)
    d.DISPOSITIONS.labels(campaign="naming_check", outcome="promise_to_pay").inc()
    d.INBOUND_WAIT.labels(campaign="naming_check", result="answered").observe(12.0)
    d.RECORDINGS_PURGE.labels(result="held").inc()
    d.POP_LATENCY.labels(campaign="naming_check").observe(0.08)
    for witness in ("database", "directory", "http_1"):
        d.AUDIT_CHECKPOINT_AGE.mark(1.0e9, witness=witness)
    d.AUDIT_WITNESS_FAILURES.labels(witness="http_1").inc()


def test_given_the_cobrador_registry_when_checked_then_it_follows_every_rule() -> None:
    _exercise_every_metric()

    assert check_registry(REGISTRY) == []


def test_given_the_registry_when_exposed_then_every_series_is_a_cobrador_metric() -> None:
    text = generate_latest(REGISTRY).decode()

    names = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1] != "#"}
    assert names and all(name.startswith("cobrador_") for name in names)


def test_given_the_contract_names_when_imported_then_they_exist() -> None:
    for name in ("CALLS_PLACED", "CALLS_ANSWERED", "ABANDONED", "DECISIONS", "AGENTS_BY_STATE"):
        assert hasattr(definitions, name)
    for name in ("HOPPER_SIZE", "POP_LATENCY", "REGISTRY_AGE", "AMI_UP", "INBOUND_WAITING"):
        assert hasattr(definitions, name)


def _bad(build) -> list[str]:  # type: ignore[no-untyped-def]
    registry = CollectorRegistry()
    build(registry)
    return check_registry(registry)


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda r: Gauge("calls_in_flight", "x", registry=r), "cobrador_<thing>_<unit>"),
        (lambda r: Gauge("cobrador_CallsPlaced", "x", registry=r), "cobrador_<thing>_<unit>"),
        (lambda r: Gauge("cobrador_hopper", "x", registry=r), "cobrador_<thing>_<unit>"),
        (lambda r: Gauge("cobrador_hopper_size", "x", registry=r), "must end in a unit"),
        (lambda r: Gauge("cobrador_calls_total", "x", registry=r), "only counters end in _total"),
        (
            lambda r: Histogram("cobrador_pop_latency_milliseconds", "x", registry=r),
            "unit 'milliseconds'",
        ),
        (lambda r: Gauge("cobrador_abandon_percent", "x", registry=r), "base units"),
        (lambda r: Counter("cobrador_talk_minutes_total", "x", registry=r), "base units"),
        (lambda r: Histogram("cobrador_pop_latency", "x", registry=r), "histogram must end"),
        (lambda r: Counter("cobrador_abandonment_ratio", "x", registry=r), "never a counter"),
        (lambda r: Gauge("cobrador_hopper_entries", " ", registry=r), "no help text"),
        (
            lambda r: Counter("cobrador_calls_placed_total", "x", ["phone"], registry=r),
            "label name 'phone' is not allowed",
        ),
        (
            lambda r: Counter("cobrador_calls_placed_total", "x", ["agent_id"], registry=r),
            "label name 'agent_id' is not allowed",
        ),
    ],
)
def test_given_a_registry_breaking_a_naming_rule_when_checked_then_it_is_reported(
    build, expected: str
) -> None:  # type: ignore[no-untyped-def]
    problems = _bad(build)

    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"campaign": "5215512345678"}, "run of digits"),
        ({"campaign": "mora_1234567"}, "run of digits"),
        ({"campaign": "mora 30 días"}, "allowed shape"),
        ({"state": "dancing"}, "fixed set"),
        ({"window": "7d"}, "fixed set"),
        ({"hour": "24"}, "fixed set"),
        ({"hour": "7"}, "fixed set"),
        ({"country": "Mexico"}, "allowed shape"),
        ({"region": "Jalisco"}, "allowed shape"),
        ({"reason": "Registry Listed"}, "allowed shape"),
    ],
)
def test_given_a_sample_with_a_bad_label_value_when_checked_then_it_is_reported(
    labels: dict[str, str], expected: str
) -> None:
    registry = CollectorRegistry()
    gauge = Gauge("cobrador_test_calls", "x", list(labels), registry=registry)
    gauge.labels(**labels).set(1)

    problems = check_registry(registry)

    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize("value", [1.5, -0.1, float("nan")])
def test_given_a_ratio_outside_0_1_when_checked_then_it_is_reported(value: float) -> None:
    registry = CollectorRegistry()
    Gauge("cobrador_abandonment_ratio", "x", registry=registry).set(value)

    assert any("outside 0..1" in p for p in check_registry(registry))


def test_given_a_clean_registry_when_checked_then_nothing_is_reported() -> None:
    registry = CollectorRegistry()
    Counter("cobrador_calls_placed_total", "x", ["campaign"], registry=registry).labels("a").inc()
    Gauge("cobrador_abandonment_ratio", "x", ["window"], registry=registry).labels("1h").set(0.5)
    Histogram("cobrador_pop_latency_seconds", "x", registry=registry).observe(0.1)

    assert check_registry(registry) == []
