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


# Where a figure is counted when the process that sees it is not the obvious one.
NOTES = """
## Who counts what, and why there

- **Wrap-up and handle time** (`cobrador_call_wrap_seconds`,
  `cobrador_call_handle_seconds`): the console. The dialer puts an agent in wrap-up
  when the call ends, but the wrap-up ends in the console: the agent's Disponible, the
  page's timer after the disposition, or the agent's pause (console/wrap_metrics.py).
  The console observes both when the move that leaves the wrap-up is made (read in
  that move's own Redis step, so two clicks at once count once): wrap-up = that
  instant minus the call's end in SQL, handle = the call's talk (bridged to end, as
  the dialer's `cobrador_call_talk_seconds`) plus wrap-up. Only outbound calls an
  agent talked on; a wrap-up cut by a lost phone leg or a logout, or left before the
  call ended (a pause from a wrap-up an older console left at a disposition saved in
  the call; Disponible is refused while the call is up, console/live_contact.py),
  observes nothing. Labelled by campaign, as talk time, so the three medians of one
  panel are of the same calls.
- **Calls answered** (`cobrador_calls_answered_total`): the dialer, once per call when
  it ends (dialer/loop/finishing.py answered_as), by what answered: `human`, `machine`,
  or `unscreened` (the far end hung up before any verdict). It counted every answer
  as `answered` at the AMI event before, so the floor panel's 'answered human' and
  'answered machine' lines (what the synthetic floor drew) never showed on a real one.
- **Promises kept and broken** (`cobrador_resolved_promises`,
  `cobrador_kept_promises_amount`): gauges every console reads from SQL each minute
  (console/promise_metrics.py; aggregate with max over the consoles). A promise is
  kept or broken by a payment, and `cobrador import payments`, which keeps and breaks
  most of them, is a short-lived process Prometheus never scrapes: a counter there
  would count nothing, and a counter in the console only the providers' payments. A
  refund opening a kept promise again lowers the gauge; a counter could only have
  gone up (or read as a reset). The windows (1h, 24h, 30d) go by `resolved_at`: the
  payment's own time for a kept promise (an import of yesterday's payments counts
  them yesterday, in the 24h and 30d windows), the sweep's time for a broken one.
"""


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
    return "\n".join(lines) + "\n" + NOTES


def main() -> int:
    CATALOG.parent.mkdir(parents=True, exist_ok=True)
    CATALOG.write_text(render(), encoding="utf-8")
    print(f"wrote {CATALOG}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
