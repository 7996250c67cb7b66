"""Writes docs/metrics.md: every metric of REGISTRY with its type, labels, help and
the processes that serve it (metrics/roles.py), so the team can find the right one
without reading definitions.py.

    python -m metrics.catalog     # a unit test fails while the file is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

from prometheus_client import CollectorRegistry

from metrics.definitions import REGISTRY
from metrics.naming import declared_label_names
from metrics.roles import ROLES, registry_for

CATALOG = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"


def render(registry: CollectorRegistry = REGISTRY) -> str:
    labels = dict(declared_label_names(registry))
    served_by = {role: {f.name for f in registry_for(role).collect()} for role in ROLES}
    lines = [
        "# cobrador metrics",
        "",
        "Generated from `metrics/definitions.py` by `python -m metrics.catalog`;",
        "naming and label rules are in that module's docstring and `metrics/labels.py`.",
        "Each process serves only its own metrics on /metrics (`metrics/roles.py`): the",
        "served-by column is the Prometheus job that has it (the demo serves them all).",
        "",
        "| metric | type | labels | served by | what |",
        "|---|---|---|---|---|",
    ]
    for family in sorted(registry.collect(), key=lambda f: f.name):
        exposed = f"{family.name}_total" if family.type == "counter" else family.name
        names = ", ".join(labels.get(family.name, ())) or "—"
        text = family.documentation.replace("|", "\\|")
        jobs = ", ".join(role for role in ROLES if family.name in served_by[role]) or "—"
        lines.append(f"| `{exposed}` | {family.type} | {names} | {jobs} | {text} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    CATALOG.parent.mkdir(parents=True, exist_ok=True)
    CATALOG.write_text(render(), encoding="utf-8")
    print(f"wrote {CATALOG}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
