"""The synthetic floor feeds every metric the dashboards and alerts read."""

from __future__ import annotations

import random
import re
from pathlib import Path

from metrics.definitions import REGISTRY
from metrics.naming import check_registry
from metrics.synthetic import SyntheticFloor

ROOT = Path(__file__).resolve().parents[3]


def _names_used_by_dashboards_and_rules() -> set[str]:
    files = [*ROOT.glob("metrics/grafana/dashboards/*.json")]
    files += [*ROOT.glob("metrics/prometheus/rules/*.yml")]
    text = "\n".join(path.read_text(encoding="utf-8") for path in files)
    return set(re.findall(r"\bcobrador_[a-z0-9_]+", text))


def test_given_some_ticks_when_collected_then_every_dashboard_metric_has_samples() -> None:
    floor = SyntheticFloor(random.Random(8), now=1_800_000_000.0)
    for _ in range(30):
        floor.tick()

    with_samples = {
        sample.name
        for family in REGISTRY.collect()
        for sample in family.samples
        if not sample.name.endswith("_created")
    }

    assert _names_used_by_dashboards_and_rules() - with_samples == set()
    assert check_registry(REGISTRY) == []
