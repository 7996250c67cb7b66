"""A gauge of "seconds since X" computed at scrape time, so an age keeps growing
even when nothing in the process touches it (a registry nobody re-imports)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class AgeGauge(Collector):
    """`mark(at, **labels)` records when something happened (epoch seconds);
    every scrape reports `now - at` for each label set."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._clock = clock
        self._marks: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def mark(self, at: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._marks[key] = float(at)

    def forget(self, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._marks.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._marks.clear()

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)
        now = self._clock()
        with self._lock:
            marks = list(self._marks.items())
        for key, at in marks:
            # A mark in the future (clock skew) reads as age 0, never negative.
            family.add_metric(list(key), max(0.0, now - at))
        return [family]

    def _key(self, labels: dict[str, str]) -> tuple[str, ...]:
        if set(labels) != set(self.labelnames):
            raise ValueError(
                f"{self.name}: expected labels {sorted(self.labelnames)}, got {sorted(labels)}"
            )
        return tuple(str(labels[name]) for name in self.labelnames)
