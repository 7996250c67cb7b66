"""The dial level the dialer reports at each pacing decision, and the local-hour labels
of a placed call: bounded whatever the decision's local time says."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from dialer.loop.placing import dial_level, local_hour_labels
from dialer.pacing.snapshot import AgentView, RingingCall, Snapshot


def floor(ready: int, other: int = 0, ringing: int = 0) -> Snapshot:
    agents = (AgentView("ready", 0.0),) * ready + (AgentView("talking", 0.0),) * other
    return Snapshot(now=100.0, agents=agents, ringing=(RingingCall(90.0),) * ringing)


@pytest.mark.parametrize(
    ("snapshot", "wanted", "level"),
    [
        (floor(ready=4), 4, 1.0),  # progressive: one call per ready agent
        (floor(ready=4, ringing=2), 4, 1.5),  # predictive dials ahead
        (floor(ready=2, other=5, ringing=1), 0, 0.5),  # talking agents are not ready
        (floor(ready=0, other=3, ringing=2), 0, 0.0),  # no agent ready: 0, never a division
        (floor(ready=0), 0, 0.0),
    ],
)
def test_dial_level_is_calls_ringing_after_the_decision_per_ready_agent(
    snapshot: Snapshot, wanted: int, level: float
) -> None:
    assert dial_level(snapshot, wanted) == level


def account(country: str | None = "MX", region: str | None = "JAL") -> SimpleNamespace:
    return SimpleNamespace(country=country, region=region)


def test_local_hour_labels_from_the_decisions_local_time() -> None:
    labels = local_hour_labels(account(), "2026-11-25T09:05:00-06:00")  # type: ignore[arg-type]
    assert labels == {"country": "MX", "region": "MX-JAL", "hour": "09"}


@pytest.mark.parametrize(
    ("country", "region", "expected"),
    [
        ("MX", "MX-JAL", ("MX", "MX-JAL")),
        ("MX", None, ("MX", "unknown")),
        ("MX", "Calle 5 #123", ("MX", "unknown")),  # free text never a label
        ("CO", "JAL", ("CO", "unknown")),  # another country's subdivision
        (None, "JAL", ("unknown", "unknown")),
        ("mexico", "JAL", ("unknown", "unknown")),
    ],
)
def test_local_hour_labels_bound_country_and_region(
    country: str | None, region: str | None, expected: tuple[str, str]
) -> None:
    labels = local_hour_labels(account(country, region), "2026-11-25T21:59:59-05:00")  # type: ignore[arg-type]
    assert labels is not None
    assert (labels["country"], labels["region"], labels["hour"]) == (*expected, "21")


@pytest.mark.parametrize(
    "local_time", [None, "", "mañana", "2026-11-25T11:00:00", "2026-13-45T99:00:00+00:00"]
)
def test_no_known_zone_or_a_bad_local_time_counts_no_hour(local_time: str | None) -> None:
    assert local_hour_labels(account(), local_time) is None  # type: ignore[arg-type]
