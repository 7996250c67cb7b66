"""Which metrics each process serves on its /metrics: its own, not the whole registry.

Every metric is defined once on `definitions.REGISTRY` (the catalog, the naming rules,
the all-in-one demo that runs every part in one process). A process of one role (the
`job` Prometheus scrapes it as, metrics/prometheus/prometheus.yml) serves
`registry_for(role)`: only the metrics its own code updates. Served by a process
that never updates them, another role's metrics read as zero beside the real ones:
the outreach process showed `cobrador_ami_up 0` and every call counter at zero, and
an alert or a `min` over the jobs read that as an Asterisk link down.

A new metric is added to the roles whose code updates it (tests/unit/metrics/ fail
for a metric no role serves, and for a dashboard or rule reading a metric from a job
that does not serve it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry

from metrics import definitions as m

DIALER, CONSOLE, OUTREACH = "dialer", "console", "outreach"
ROLES = (DIALER, CONSOLE, OUTREACH)

# Each process syncs the do-not-call registries into its own compliance engine.
_EVERY_ROLE = (m.REGISTRY_LOADED,)

_OWN: dict[str, tuple[Any, ...]] = {
    DIALER: (
        # Calls, pacing and hopper, the floor's agents (the dial loop's snapshot).
        m.CALLS_PLACED, m.CALLS_ANSWERED, m.CALL_RESULTS, m.ABANDONED, m.ABANDONMENT_RATIO,
        m.EARLY_HANGUP_RATIO, m.ABANDONMENT_TARGET, m.CALLS_IN_FLIGHT, m.ORIGINATE_ERRORS,
        m.RING_TIME, m.ANSWER_TO_BRIDGE, m.TALK_TIME,
        m.LOCAL_HOUR_ATTEMPTS, m.LOCAL_HOUR_CONTACTS,
        m.DIAL_LEVEL, m.PACING_TARGET_CALLS, m.HOPPER_SIZE, m.HOPPER_EMPTY,
        m.HOPPER_CLAIMS_REFUSED, m.HOPPER_LEASES_EXPIRED, m.AGENTS_BY_STATE,
        # The final check at originate and the registries it reads.
        m.DECISIONS, m.DECISION_BLOCKS, m.REGISTRY_AGE, m.REGISTRY_MAX_AGE,
        m.REGISTRY_ENTRIES,
        # Asterisk, recordings (and their purge), the audit log's upkeep, inbound calls.
        m.AMI_UP, m.AMI_RECONNECTS, m.FASTAGI_FAILURES, m.RECORDINGS_WRITTEN,
        m.RECORDINGS_FAILED, m.RECORDING_BYTES, m.RECORDING_CLOSE_TIME, m.RECORDINGS_PURGE,
        m.AUDIT_PENDING, m.AUDIT_LOG_SIZE, m.AUDIT_CHECKPOINT_AGE, m.AUDIT_WITNESS_FAILURES,
        m.INBOUND_RECEIVED, m.INBOUND_WAITING, m.INBOUND_LONGEST_WAIT, m.INBOUND_ANSWERED,
        m.INBOUND_ABANDONED, m.INBOUND_CALLBACK_REQUESTS, m.INBOUND_LOST, m.INBOUND_WAIT,
        m.INBOUND_SERVICE_LEVEL,
    ),
    CONSOLE: (
        # Screen-pops and agents' sockets, the end of an agent's wrap-up (so wrap-up
        # and handle time), what agents record (a right party is known only from the
        # agent's disposition, so its local-hour count too), field visits, payments.
        m.POP_LATENCY, m.WEBSOCKETS_OPEN, m.WRAP_TIME, m.HANDLE_TIME, m.DISPOSITIONS, m.RIGHT_PARTY_CONTACTS,
        m.LOCAL_HOUR_RIGHT_PARTY,
        m.PROMISES_MADE, m.PROMISED_AMOUNT, m.RESOLVED_PROMISES, m.KEPT_PROMISES_AMOUNT,
        m.FIELD_VISITS, m.FIELD_CHECKINS_REFUSED, m.FIELD_LOCAL_HOUR_VISITS,
        m.FIELD_LOCAL_HOUR_CONTACTS, m.FIELD_LOCAL_HOUR_RIGHT_PARTY, m.FIELD_ON_SHIFT_AGENTS,
        m.PAYMENT_NOTIFICATIONS,
    ),
    OUTREACH: (
        # The message channels (and the debtors' chat on them), the strategies' scheduler.
        m.MESSAGES, m.MESSAGE_REPORTS_REFUSED, m.OUTREACH_MESSAGES, m.OUTREACH_BLOCKS,
        m.OUTREACH_HANDOFFS, m.OUTREACH_STAGE_CHANGES, m.OUTREACH_RESULTS,
        m.OUTREACH_DELIVERY_FAILURES,
    ),
}  # fmt: skip


def collectors(role: str) -> tuple[Any, ...]:
    """The metrics a process of `role` serves. ValueError for a role that is none."""
    if role not in _OWN:
        raise ValueError(f"unknown metrics role {role!r}; one of {', '.join(ROLES)}")
    return _OWN[role] + _EVERY_ROLE


def _registry_of(found: Iterable[Any]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    for collector in found:
        # The same objects as on REGISTRY: what the code updates is what is served.
        registry.register(collector)
    return registry


_REGISTRIES = {role: _registry_of(collectors(role)) for role in ROLES}


def registry_for(role: str) -> CollectorRegistry:
    """The registry a process of `role` serves (one per role, built once)."""
    collectors(role)  # the readable error for an unknown role
    return _REGISTRIES[role]
