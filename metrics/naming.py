"""Checks a registry against cobrador's metric naming and label rules and
returns every violation (empty list = clean). Used by the tests over REGISTRY."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric

from metrics.labels import ALLOWED_LABEL_NAMES, label_value_problem

NAME = re.compile(r"^cobrador_[a-z][a-z0-9]*(_[a-z0-9]+)+$")
# What the last word of a non-counter name may be: a base unit, or the plural
# noun a count gauge counts, or a dimensionless marker (up, level, info).
UNIT_SUFFIXES = frozenset(
    {
        "seconds",
        "ratio",
        "bytes",
        "calls",
        "agents",
        "entries",
        "callers",
        "connections",
        "messages",
        "promises",
        # Money, in the major unit of the currency of the country the metric is
        # labelled with (one currency per country).
        "amount",
        "level",
        "up",
        "info",
    }
)
HISTOGRAM_UNITS = frozenset({"seconds", "bytes", "ratio"})
# Non-base units and words reserved for the exposition format.
FORBIDDEN_WORDS = frozenset(
    {
        "milliseconds",
        "ms",
        "microseconds",
        "minutes",
        "hours",
        "days",
        "percent",
        "pct",
        "kilobytes",
        "megabytes",
        "kb",
        "mb",
        "count",
        "sum",
        "bucket",
        "created",
    }
)
# Labels the exposition format adds itself.
SYNTHETIC_LABELS = frozenset({"le", "quantile"})


def check_registry(registry: CollectorRegistry) -> list[str]:
    """Every rule violation in `registry`, as readable sentences."""
    problems: list[str] = []
    for name, labelnames in declared_label_names(registry):
        for label in labelnames:
            if label not in ALLOWED_LABEL_NAMES:
                problems.append(f"{name}: label name {label!r} is not allowed")
    for family in registry.collect():
        problems.extend(check_family(family))
    return problems


def check_family(family: Metric) -> list[str]:
    """Violations of one collected metric family: its name, type and samples."""
    problems = [f"{family.name}: {p}" for p in _name_problems(family.name, family.type)]
    if not family.documentation.strip():
        problems.append(f"{family.name}: has no help text")
    for sample in family.samples:
        if family.type == "counter" and not sample.name.endswith(("_total", "_created")):
            problems.append(f"{sample.name}: a counter sample must end in _total")
        for label, value in sample.labels.items():
            if label in SYNTHETIC_LABELS:
                continue
            problem = label_value_problem(label, value)
            if problem:
                problems.append(f"{family.name}: {problem}")
        is_ratio = family.type == "gauge" and family.name.endswith("_ratio")
        if is_ratio and (math.isnan(sample.value) or not 0.0 <= sample.value <= 1.0):
            problems.append(f"{family.name}: ratio {sample.value} is outside 0..1")
    return problems


def _name_problems(name: str, kind: str) -> Iterable[str]:
    # prometheus-client strips a counter's _total from the family name; it is
    # the counter's unit word, so check the name as it is exposed.
    exposed = f"{name}_total" if kind == "counter" else name
    if not NAME.match(exposed):
        yield "name is not cobrador_<thing>_<unit> in snake_case"
        return
    words = name.split("_")[1:]
    # The unit is the last word (before _total on a counter): "after_hours" is
    # fine inside a name, "_hours" as its unit is not.
    if words[-1] in FORBIDDEN_WORDS:
        yield f"unit {words[-1]!r}: use base units (seconds, bytes, ratio), no reserved suffixes"
    if kind == "counter":
        # prometheus-client strips a trailing _total from the family name.
        if words[-1] == "total":
            yield "counter name ends in _total twice"
        if words[-1] == "ratio":
            yield "a ratio is a gauge, never a counter"
        return
    if words[-1] == "total":
        yield f"only counters end in _total (this is a {kind})"
    elif kind == "histogram" or kind == "summary":
        if words[-1] not in HISTOGRAM_UNITS:
            yield f"a {kind} must end in one of {sorted(HISTOGRAM_UNITS)}"
    elif words[-1] not in UNIT_SUFFIXES:
        yield f"a {kind} must end in a unit, one of {sorted(UNIT_SUFFIXES)}"


def declared_label_names(registry: CollectorRegistry) -> Iterable[tuple[str, tuple[str, ...]]]:
    """Label names as declared, so unused labelled metrics are checked too.

    prometheus-client has no public API listing a registry's collectors; its
    `_collector_to_names` map has been stable for years and this is a test aid.
    """
    collectors = getattr(registry, "_collector_to_names", {})
    for collector in list(collectors):
        name = getattr(collector, "_name", None) or getattr(collector, "name", "?")
        labelnames = getattr(collector, "_labelnames", None)
        if labelnames is None:
            labelnames = getattr(collector, "labelnames", ())
        yield str(name), tuple(labelnames or ())


def exposed_names(registry: CollectorRegistry) -> frozenset[str]:
    """Series names the registry exposes (counters' _total, histograms' _bucket,
    _count and _sum), so PromQL in dashboards and rules can be checked against it."""
    names: set[str] = set()
    for family in registry.collect():
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type in ("histogram", "summary"):
            names.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_count", "_sum"))
        else:
            names.add(family.name)
    return frozenset(names)
