"""Ages computed at scrape time from an injected clock."""

from __future__ import annotations

import pytest

from metrics.age import AgeGauge


def _ages(gauge: AgeGauge) -> dict[tuple[str, ...], float]:
    (family,) = gauge.collect()
    return {tuple(s.labels.values()): s.value for s in family.samples}


def test_given_a_mark_when_time_passes_then_the_age_grows() -> None:
    now = [1000.0]
    gauge = AgeGauge("cobrador_registry_age_seconds", "x", ["registry"], clock=lambda: now[0])
    gauge.mark(900.0, registry="REUS")

    first = _ages(gauge)[("REUS",)]
    now[0] = 1500.0

    assert (first, _ages(gauge)[("REUS",)]) == (100.0, 600.0)


def test_given_a_mark_in_the_future_when_collected_then_the_age_is_zero() -> None:
    gauge = AgeGauge("cobrador_registry_age_seconds", "x", ["registry"], clock=lambda: 10.0)
    gauge.mark(20.0, registry="REUS")

    assert _ages(gauge) == {("REUS",): 0.0}


def test_given_wrong_labels_when_marked_then_it_is_refused() -> None:
    gauge = AgeGauge("cobrador_registry_age_seconds", "x", ["registry"])

    with pytest.raises(ValueError, match="expected labels"):
        gauge.mark(1.0, country="MX")


def test_given_a_forgotten_mark_when_collected_then_it_is_gone() -> None:
    gauge = AgeGauge("cobrador_registry_age_seconds", "x", ["registry"], clock=lambda: 10.0)
    gauge.mark(5.0, registry="REUS")
    gauge.forget(registry="REUS")

    assert _ages(gauge) == {}
