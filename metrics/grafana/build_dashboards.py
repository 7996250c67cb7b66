"""Builds the Grafana dashboards (JSON files under dashboards/) from one
description, so every panel shares the datasource, variables and layout.

Run `python -m metrics.grafana.build_dashboards` after editing; a unit test
fails when the committed JSON and this file disagree.

PromQL conventions: gauges read from shared state (agents, hopper,
abandonment, registry age) are aggregated with `max by` (every dialer reports
the same value); per-process gauges and counters are summed.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DASHBOARDS_DIR = Path(__file__).parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "cobrador-prometheus"}
CAMPAIGN = 'campaign=~"$campaign"'
COUNTRY = 'country=~"$country"'


@dataclass
class Target:
    expr: str
    legend: str = ""
    instant: bool = False


@dataclass
class Panel:
    title: str
    targets: list[Target]
    kind: str = "timeseries"  # timeseries, stat, bargauge, table
    unit: str = "short"
    width: int = 12
    height: int = 8
    description: str = ""
    stacked: bool = False
    max_value: float | None = None
    thresholds: list[tuple[float, str]] = field(default_factory=list)
    matrix: tuple[str, str] | None = None  # table: (row label, column label)


@dataclass
class Dashboard:
    uid: str
    title: str
    description: str
    panels: list[Panel]
    variables: tuple[str, ...] = ("campaign",)


def _variable(name: str) -> dict[str, Any]:
    source = {
        "campaign": "label_values(cobrador_calls_placed_total, campaign)",
        "country": "label_values(cobrador_local_hour_attempts_total, country)",
    }[name]
    return {
        "type": "query",
        "name": name,
        "label": name.capitalize(),
        "datasource": DATASOURCE,
        "definition": source,
        "query": {"query": source, "refId": f"{name}-values"},
        "refresh": 2,
        "sort": 1,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
    }


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
    steps += [{"color": color, "value": value} for value, color in panel.thresholds]
    defaults: dict[str, Any] = {
        "unit": panel.unit,
        "thresholds": {"mode": "absolute", "steps": steps},
    }
    if panel.max_value is not None:
        defaults["max"] = panel.max_value
        defaults["min"] = 0
    if panel.kind == "timeseries":
        defaults["custom"] = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 20 if panel.stacked else 0,
            "stacking": {"mode": "normal" if panel.stacked else "none", "group": "A"},
            "thresholdsStyle": {"mode": "line" if panel.thresholds else "off"},
        }
    out: dict[str, Any] = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "datasource": DATASOURCE,
                "expr": target.expr,
                "legendFormat": target.legend,
                "instant": target.instant,
                "range": not target.instant,
                **({"format": "table"} if panel.kind == "table" else {}),
            }
            for i, target in enumerate(panel.targets)
        ],
    }
    if panel.kind == "timeseries":
        out["options"] = {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    elif panel.kind == "stat":
        out["options"] = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "textMode": "auto",
        }
    elif panel.kind == "bargauge":
        out["options"] = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "orientation": "vertical",
            "displayMode": "gradient",
            "showUnfilled": True,
        }
    elif panel.kind == "table" and panel.matrix:
        row, column = panel.matrix
        out["transformations"] = [
            {
                "id": "groupingToMatrix",
                "options": {"rowField": row, "columnField": column, "valueField": "Value"},
            }
        ]
    return out


def render(dashboard: Dashboard) -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    x = y = row_height = 0
    for number, panel in enumerate(dashboard.panels, start=1):
        if x + panel.width > 24:
            x, y, row_height = 0, y + row_height, 0
        panels.append(_panel_json(panel, number, x, y))
        x += panel.width
        row_height = max(row_height, panel.height)
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": ["cobrador"],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "browser",
        "annotations": {"list": []},
        "links": [
            {"type": "dashboards", "tags": ["cobrador"], "asDropdown": True, "title": "cobrador"}
        ],
        "templating": {"list": [_variable(name) for name in dashboard.variables]},
        "panels": panels,
    }


def _rate(metric: str, selector: str, by: str) -> str:
    return f"sum by ({by}) (rate({metric}{{{selector}}}[$__rate_interval]))"


def _increase(metric: str, selector: str, by: str, window: str = "$__range") -> str:
    return f"sum by ({by}) (increase({metric}{{{selector}}}[{window}]))"


def _resolved(selector: str) -> str:
    """Promises resolved, one series per campaign and country (the consoles agree)."""
    return f"max by (campaign, country) (cobrador_resolved_promises{{{selector}}})"


def _quantile(q: float, metric: str, selector: str, by: str = "") -> str:
    group = f"{by}, le" if by else "le"
    return (
        f"histogram_quantile({q}, sum by ({group}) "
        f"(rate({metric}_bucket{{{selector}}}[$__rate_interval])))"
    )


def floor_dashboard() -> Dashboard:
    return Dashboard(
        uid="cobrador-floor",
        title="cobrador / Floor operations",
        description="Pacing, abandonment against target, agents, hopper and latency, live.",
        panels=[
            Panel(
                "Abandonment (30 d window)",
                [
                    Target(
                        f'max by (campaign) (cobrador_abandonment_ratio{{{CAMPAIGN},window="30d"}})',
                        "{{campaign}}",
                    )
                ],
                kind="stat",
                unit="percentunit",
                width=6,
                height=5,
                thresholds=[(0.024, "orange"), (0.03, "red")],
                description="Must stay under the campaign's target (default 3%) in every window.",
            ),
            Panel(
                "Agents ready",
                [
                    Target(
                        f'sum(max by (campaign) (cobrador_floor_agents{{{CAMPAIGN},state="ready"}}))'
                    )
                ],
                kind="stat",
                width=6,
                height=5,
            ),
            Panel(
                "Calls in flight",
                [Target(f"sum(cobrador_in_flight_calls{{{CAMPAIGN}}})")],
                kind="stat",
                width=6,
                height=5,
            ),
            Panel(
                "AMI link",
                [Target('min(cobrador_ami_up{job="dialer"})', "AMI up")],
                kind="stat",
                width=6,
                height=5,
                description="1 when every dialer is logged in to Asterisk.",
            ),
            Panel(
                "Abandonment vs target",
                [
                    Target(
                        f"max by (campaign, window) (cobrador_abandonment_ratio{{{CAMPAIGN}}})",
                        "{{campaign}} {{window}}",
                    ),
                    Target(
                        f"max by (campaign) (cobrador_abandonment_target_ratio{{{CAMPAIGN}}})",
                        "{{campaign}} target",
                    ),
                    Target(
                        f"max by (campaign, window) (cobrador_early_hangup_ratio{{{CAMPAIGN}}})",
                        "{{campaign}} {{window}} hung up during detection",
                    ),
                ],
                unit="percentunit",
                description="Legal abandonment (a person not connected within 2 s of the end of "
                "the greeting; AMD machine drops counted) per rolling window, with the target; "
                "beside it, debtors who hung up during detection or before their 2 s (not abandons).",
            ),
            Panel(
                "Pacing: dial level and target calls",
                [
                    Target(
                        f"max by (campaign, mode) (cobrador_pacing_dial_level{{{CAMPAIGN}}})",
                        "{{campaign}} dial level ({{mode}})",
                    ),
                    Target(
                        f"sum by (campaign) (cobrador_pacing_target_calls{{{CAMPAIGN}}})",
                        "{{campaign}} target calls",
                    ),
                ],
            ),
            Panel(
                "Calls in flight by state",
                [
                    Target(
                        f"sum by (state) (cobrador_in_flight_calls{{{CAMPAIGN}}})",
                        "{{state}}",
                    )
                ],
                stacked=True,
            ),
            Panel(
                "Agents by state",
                [
                    Target(
                        f"sum by (state) (max by (campaign, state) (cobrador_floor_agents{{{CAMPAIGN}}}))",
                        "{{state}}",
                    )
                ],
                stacked=True,
            ),
            Panel(
                "Calls placed and answered per minute",
                [
                    Target(
                        "60 * " + _rate("cobrador_calls_placed_total", CAMPAIGN, "campaign"),
                        "{{campaign}} placed",
                    ),
                    Target(
                        "60 * "
                        + _rate("cobrador_calls_answered_total", CAMPAIGN, "campaign, result"),
                        "{{campaign}} answered {{result}}",
                    ),
                ],
            ),
            Panel(
                "Hopper entries",
                [
                    Target(
                        f"max by (campaign) (cobrador_hopper_entries{{{CAMPAIGN}}})",
                        "{{campaign}}",
                    )
                ],
            ),
            Panel(
                "Empty hopper, by reason",
                [
                    Target(
                        _increase(
                            "cobrador_hopper_empty_total",
                            CAMPAIGN,
                            "campaign, reason",
                            "$__rate_interval",
                        ),
                        "{{campaign}} {{reason}}",
                    )
                ],
                stacked=True,
                description="Times the dialer wanted a call and found the hopper empty, and why.",
            ),
            Panel(
                "Answer to bridge",
                [
                    Target(_quantile(0.5, "cobrador_answer_to_bridge_seconds", CAMPAIGN), "p50"),
                    Target(_quantile(0.95, "cobrador_answer_to_bridge_seconds", CAMPAIGN), "p95"),
                    Target(_quantile(0.99, "cobrador_answer_to_bridge_seconds", CAMPAIGN), "p99"),
                ],
                unit="s",
                thresholds=[(2.0, "red")],
                description="Over 2 s the call is abandoned (safe harbor).",
            ),
            Panel(
                "Screen-pop latency",
                [
                    Target(_quantile(0.5, "cobrador_screen_pop_latency_seconds", CAMPAIGN), "p50"),
                    Target(_quantile(0.99, "cobrador_screen_pop_latency_seconds", CAMPAIGN), "p99"),
                ],
                unit="s",
                thresholds=[(0.5, "red")],
            ),
            Panel(
                "Talk, wrap and handle time (median)",
                [
                    Target(_quantile(0.5, "cobrador_call_talk_seconds", CAMPAIGN), "talk"),
                    Target(_quantile(0.5, "cobrador_call_wrap_seconds", CAMPAIGN), "wrap"),
                    Target(_quantile(0.5, "cobrador_call_handle_seconds", CAMPAIGN), "handle"),
                ],
                unit="s",
            ),
            Panel(
                "Inbound: waiting now and longest wait",
                [
                    Target(
                        f"max by (campaign) (cobrador_inbound_waiting_callers{{{CAMPAIGN}}})",
                        "{{campaign}} waiting",
                    ),
                    Target(
                        f"max by (campaign) (cobrador_inbound_longest_wait_seconds{{{CAMPAIGN}}})",
                        "{{campaign}} longest wait (s)",
                    ),
                ],
            ),
            Panel(
                "Inbound: service level and abandoned in queue",
                [
                    Target(
                        f"max by (campaign, window) (cobrador_inbound_service_level_ratio{{{CAMPAIGN}}})",
                        "{{campaign}} service level {{window}}",
                    ),
                    Target(
                        f"{_increase('cobrador_inbound_abandoned_total', CAMPAIGN, 'campaign', '1h')}"
                        f" / {_increase('cobrador_inbound_received_total', CAMPAIGN, 'campaign', '1h')}",
                        "{{campaign}} abandoned in queue (1 h)",
                    ),
                ],
                unit="percentunit",
                max_value=1,
            ),
        ],
    )


def collections_dashboard() -> Dashboard:
    placed = _increase("cobrador_calls_placed_total", CAMPAIGN, "campaign", "1h")
    # A human answered: bridged (contact) or not in time (abandoned).
    human = _increase(
        "cobrador_call_results_total", CAMPAIGN + ',result=~"contact|abandoned"', "campaign", "1h"
    )
    rpc = _increase("cobrador_right_party_contacts_total", CAMPAIGN, "campaign", "1h")
    promises = _increase("cobrador_promises_made_total", CAMPAIGN, "campaign", "1h")
    # Promises resolved are gauges every console reads from SQL (max over the consoles).
    kept_30d = _resolved(f'{CAMPAIGN},result="kept",window="30d"')
    resolved_30d = _resolved(f'{CAMPAIGN},window="30d"')
    kept_24h = _resolved(f'{CAMPAIGN},result="kept",window="24h"')
    resolved_24h = _resolved(f'{CAMPAIGN},window="24h"')
    return Dashboard(
        uid="cobrador-collections",
        title="cobrador / Collections results",
        description="Contact, right-party contact, promises and kept promises.",
        panels=[
            Panel(
                "Promises in range",
                [Target(f"sum({_increase('cobrador_promises_made_total', CAMPAIGN, 'campaign')})")],
                kind="stat",
                width=6,
                height=5,
            ),
            Panel(
                "Promised amount in range, by country currency",
                [
                    Target(
                        _increase("cobrador_promised_amount_total", CAMPAIGN, "country"),
                        "{{country}}",
                    )
                ],
                kind="stat",
                width=6,
                height=5,
                description="In the major unit of each country's currency (MXN, COP, PEN).",
            ),
            Panel(
                "Kept rate, last 30 days",
                [Target(f"sum({kept_30d}) / sum({resolved_30d})")],
                kind="stat",
                unit="percentunit",
                width=6,
                height=5,
                description="Promises kept / promises resolved (kept + broken) in the last "
                "30 days, as their rows say now (a refunded payment's promise is no longer "
                "kept).",
            ),
            Panel(
                "Right-party contacts in range",
                [
                    Target(
                        f"sum({_increase('cobrador_right_party_contacts_total', CAMPAIGN, 'campaign')})"
                    )
                ],
                kind="stat",
                width=6,
                height=5,
            ),
            Panel(
                "Contact rate (human answers / calls placed, 1 h)",
                [Target(f"{human} / {placed}", "{{campaign}}")],
                unit="percentunit",
                max_value=1,
            ),
            Panel(
                "Right-party contact rate (RPC / calls placed, 1 h)",
                [Target(f"{rpc} / {placed}", "{{campaign}}")],
                unit="percentunit",
                max_value=1,
            ),
            Panel(
                "Promise rate (promises / right-party contacts, 1 h)",
                [Target(f"{promises} / {rpc}", "{{campaign}}")],
                unit="percentunit",
                max_value=1,
            ),
            Panel(
                "Kept rate (kept / resolved, last 24 h)",
                [
                    Target(
                        f"sum by (campaign) ({kept_24h}) / sum by (campaign) ({resolved_24h})",
                        "{{campaign}}",
                    )
                ],
                unit="percentunit",
                max_value=1,
                description="Promises kept / promises resolved in the last 24 hours; promises "
                "resolve days after they are made.",
            ),
            Panel(
                "Promised and kept amounts, last hour",
                [
                    Target(
                        _increase(
                            "cobrador_promised_amount_total", CAMPAIGN, "campaign, country", "1h"
                        ),
                        "{{campaign}} promised ({{country}})",
                    ),
                    Target(
                        "max by (campaign, country) "
                        f'(cobrador_kept_promises_amount{{{CAMPAIGN},window="1h"}})',
                        "{{campaign}} kept ({{country}})",
                    ),
                ],
                description="Promised in the last hour, and the sum of the promises kept by "
                "payments made in the last hour (an imported payment counts at its own time).",
            ),
            Panel(
                "Call results",
                [
                    Target(
                        _increase(
                            "cobrador_call_results_total", CAMPAIGN, "result", "$__rate_interval"
                        ),
                        "{{result}}",
                    )
                ],
                stacked=True,
            ),
            Panel(
                "Dispositions in range",
                [
                    Target(
                        _increase("cobrador_dispositions_total", CAMPAIGN, "outcome"),
                        "{{outcome}}",
                        instant=True,
                    )
                ],
                kind="bargauge",
                width=24,
            ),
            # Strategy messages (outreach scheduler): what was sent, what its channel
            # reported, and the share that failed to be delivered (the alert's input).
            Panel(
                "Strategy messages by channel and result (last hour)",
                [
                    Target(
                        "max by (channel, result) "
                        f"(cobrador_outreach_results_messages{{{CAMPAIGN}}})",
                        "{{channel}} {{result}}",
                        instant=True,
                    )
                ],
                kind="bargauge",
                width=12,
                description="Sent, delivered, read, replied and failed messages of the "
                "last hour, from their attempt rows (the scheduler reads them every 30 s).",
            ),
            Panel(
                "Message delivery failures by channel",
                [
                    Target(
                        "max by (channel) "
                        f"(cobrador_outreach_delivery_failure_ratio{{{CAMPAIGN}}})",
                        "{{channel}}",
                    )
                ],
                unit="percentunit",
                width=12,
                max_value=1,
                thresholds=[(0, "green"), (0.2, "red")],
                description="Failed / all strategy messages of the last hour; above 20% "
                "with 20 messages or more the CobradorMessageDeliveryFailures alert fires.",
            ),
            Panel(
                "Strategy messages sent or not, by channel",
                [
                    Target(
                        _increase(
                            "cobrador_outreach_messages_total", CAMPAIGN, "channel, result", "1h"
                        ),
                        "{{channel}} {{result}}",
                    )
                ],
                stacked=True,
                width=12,
                description="Per hour: sent (the channel took it), failed (refused), "
                "uncertain (no answer; never sent again), blocked and waiting (final check).",
            ),
            Panel(
                "Why strategy messages were not sent",
                [
                    Target(
                        _increase(
                            "cobrador_outreach_blocks_total", CAMPAIGN, "channel, reason", "1h"
                        ),
                        "{{channel}} {{reason}}",
                    )
                ],
                stacked=True,
                width=12,
            ),
            # The gateways themselves (every message a channel sent, strategy or not), and
            # the provider callbacks refused (the forged-webhook alert's input).
            Panel(
                "Messages by channel and provider status (all senders)",
                [
                    Target(
                        "sum by (channel, result) (increase(cobrador_messages_total[1h]))",
                        "{{channel}} {{result}}",
                    )
                ],
                stacked=True,
                width=12,
                description="Per hour, as the gateways reported them: sent (accepted), "
                "delivered, read, replied, failed. Not per campaign.",
            ),
            Panel(
                "Provider reports and callbacks refused",
                [
                    Target(
                        "sum by (channel, reason) "
                        "(increase(cobrador_message_reports_refused_total[1h]))",
                        "{{channel}} {{reason}}",
                    )
                ],
                stacked=True,
                width=12,
                description="bad_signature (webhook signature or callback token wrong: the "
                "CobradorMessageCallbacksForged alert), too_large, malformed, unknown_message "
                "(about no message of ours).",
            ),
        ],
    )


def compliance_dashboard() -> Dashboard:
    decisions = "cobrador_compliance_decisions_total"
    blocked = CAMPAIGN + ',allowed="false"'
    return Dashboard(
        uid="cobrador-compliance",
        title="cobrador / Compliance",
        description="Decisions, blocks by reason, registry freshness, call recordings and the audit log's checkpoints.",
        panels=[
            Panel(
                "Blocked share of decisions (1 h)",
                [
                    Target(
                        f"sum({_increase(decisions, blocked, 'campaign', '1h')})"
                        f" / sum({_increase(decisions, CAMPAIGN, 'campaign', '1h')})"
                    )
                ],
                kind="stat",
                unit="percentunit",
                width=8,
                height=5,
            ),
            Panel(
                "Oldest registry list (fraction of its limit)",
                [
                    Target(
                        "max(max by (country, registry) (cobrador_registry_age_seconds)"
                        " / on (country, registry)"
                        " max by (country, registry) (cobrador_registry_max_age_seconds))"
                    )
                ],
                kind="stat",
                unit="percentunit",
                width=8,
                height=5,
                thresholds=[(0.8, "orange"), (1.0, "red")],
                description="Past 100% the engine blocks every call in that country (registry_stale).",
            ),
            Panel(
                "Blocked at originate in range",
                [
                    Target(
                        "sum("
                        + _increase(
                            "cobrador_compliance_blocks_total",
                            CAMPAIGN + ',stage="originate"',
                            "campaign",
                        )
                        + ")"
                    )
                ],
                kind="stat",
                width=8,
                height=5,
                description="Blocks the final check caught after the hopper check passed.",
            ),
            Panel(
                "Decisions: allowed and blocked",
                [
                    Target(
                        "60 * "
                        + _rate("cobrador_compliance_decisions_total", CAMPAIGN, "stage, allowed"),
                        "{{stage}} allowed={{allowed}}",
                    )
                ],
                unit="short",
                description="Decisions per minute, at the hopper and at originate.",
            ),
            Panel(
                "Blocks by reason",
                [
                    Target(
                        "60 * " + _rate("cobrador_compliance_blocks_total", CAMPAIGN, "reason"),
                        "{{reason}}",
                    )
                ],
                stacked=True,
                description="Per minute. A decision with two reasons counts under both.",
            ),
            Panel(
                "Registry age",
                [
                    Target(
                        "max by (country, registry) (cobrador_registry_age_seconds)",
                        "{{country}} {{registry}}",
                    ),
                    Target(
                        "max by (country, registry) (cobrador_registry_max_age_seconds)",
                        "{{country}} {{registry}} limit",
                    ),
                ],
                unit="s",
            ),
            Panel(
                "Blocks by reason in range",
                [
                    Target(
                        _increase("cobrador_compliance_blocks_total", CAMPAIGN, "reason"),
                        "{{reason}}",
                        instant=True,
                    )
                ],
                kind="bargauge",
            ),
            Panel(
                "Recordings: written and failed per minute",
                [
                    Target(
                        "60 * " + _rate("cobrador_recordings_written_total", CAMPAIGN, "campaign"),
                        "{{campaign}} written",
                    ),
                    Target(
                        "60 * "
                        + _rate("cobrador_recordings_failed_total", CAMPAIGN, "campaign, reason"),
                        "{{campaign}} failed ({{reason}})",
                    ),
                ],
            ),
            Panel(
                "Recording storage written per hour",
                [
                    Target(
                        _increase(
                            "cobrador_recordings_written_bytes_total", CAMPAIGN, "campaign", "1h"
                        ),
                        "{{campaign}}",
                    )
                ],
                unit="bytes",
            ),
            Panel(
                "Recording purges in range",
                [
                    Target(
                        "sum by (result) (increase(cobrador_recordings_purge_total[$__range]))",
                        "{{result}}",
                        instant=True,
                    )
                ],
                kind="bargauge",
                description="held = kept because of a legal hold.",
            ),
            Panel(
                "Audit log: newest checkpoint age per witness",
                [
                    Target(
                        "max by (witness) (cobrador_audit_checkpoint_age_seconds)",
                        "{{witness}}",
                    )
                ],
                unit="s",
                thresholds=[(180.0, "orange"), (600.0, "red")],
                description="A checkpoint is signed every 1000 entries or 60 s; past 180 s "
                "a witness (or the signer) is late: CobradorAuditCheckpointLate fires.",
            ),
            Panel(
                "Audit log: witness failures and entries waiting",
                [
                    Target(
                        "sum by (witness) (increase(cobrador_audit_witness_failures_total[5m]))",
                        "{{witness}} failures (5 min)",
                    ),
                    Target("max(cobrador_audit_pending_entries)", "entries waiting for the tree"),
                ],
            ),
        ],
    )


def contact_hours_dashboard() -> Dashboard:
    attempts = "cobrador_local_hour_attempts_total"
    contacts = "cobrador_local_hour_contacts_total"
    rpc = "cobrador_local_hour_right_party_contacts_total"
    return Dashboard(
        uid="cobrador-contact-hours",
        title="cobrador / Contact by hour and region",
        description=(
            "When debtors answer, in their own local time, by region: to time campaigns. "
            "Hours are the debtor's local hour (00-23); regions are ISO 3166-2 codes."
        ),
        variables=("country",),
        panels=[
            Panel(
                "Contact rate by local hour",
                [
                    Target(
                        f"{_increase(contacts, COUNTRY, 'hour')} / {_increase(attempts, COUNTRY, 'hour')}",
                        "{{hour}}",
                        instant=True,
                    )
                ],
                kind="bargauge",
                unit="percentunit",
                width=24,
                max_value=1,
                description="Human answers / calls placed, per hour of the debtor's day.",
            ),
            Panel(
                "Right-party contact rate by local hour",
                [
                    Target(
                        f"{_increase(rpc, COUNTRY, 'hour')} / {_increase(attempts, COUNTRY, 'hour')}",
                        "{{hour}}",
                        instant=True,
                    )
                ],
                kind="bargauge",
                unit="percentunit",
                width=24,
                max_value=1,
            ),
            Panel(
                "Calls placed by local hour",
                [Target(_increase(attempts, COUNTRY, "hour"), "{{hour}}", instant=True)],
                kind="bargauge",
                width=24,
            ),
            Panel(
                "Contact rate, region x local hour",
                [
                    Target(
                        f"{_increase(contacts, COUNTRY, 'region, hour')}"
                        f" / {_increase(attempts, COUNTRY, 'region, hour')}",
                        instant=True,
                    )
                ],
                kind="table",
                unit="percentunit",
                width=24,
                height=12,
                matrix=("region", "hour"),
            ),
            Panel(
                "Contact rate by region",
                [
                    Target(
                        f"{_increase(contacts, COUNTRY, 'region')} / {_increase(attempts, COUNTRY, 'region')}",
                        "{{region}}",
                        instant=True,
                    )
                ],
                kind="bargauge",
                unit="percentunit",
                width=24,
                max_value=1,
            ),
        ],
    )


def field_dashboard() -> Dashboard:
    visits = "cobrador_field_local_hour_visits_total"
    contacts = "cobrador_field_local_hour_contacts_total"
    rpc = "cobrador_field_local_hour_right_party_contacts_total"
    return Dashboard(
        uid="cobrador-field",
        title="cobrador / Field visits",
        description=(
            "Field collection: visits ended by outcome, check-ins refused, visits per agent "
            "on shift, and when debtors open the door in their own local time, by region. "
            "Each agent's own figures are on the console's field page (/supervisor/field): "
            "metrics never carry a person's name or id."
        ),
        variables=("country",),
        panels=[
            Panel(
                "Field agents on shift",
                [Target("max(cobrador_field_on_shift_agents)")],
                kind="stat",
                width=6,
                height=5,
            ),
            Panel(
                "Visits ended per agent on shift (per hour)",
                [
                    Target(
                        f"3600 * sum(rate(cobrador_field_visits_total{{{COUNTRY}}}[$__rate_interval]))"
                        " / clamp_min(max(cobrador_field_on_shift_agents), 1)",
                        "visits per agent per hour",
                    )
                ],
                width=18,
                height=5,
                description="Visits ended (any outcome, skips included) per hour, divided by "
                "the field agents with a shift open.",
            ),
            Panel(
                "Visits ended by outcome",
                [
                    Target(
                        _increase("cobrador_field_visits_total", COUNTRY, "outcome"),
                        "{{outcome}}",
                        instant=True,
                    )
                ],
                kind="bargauge",
                width=12,
            ),
            Panel(
                "Check-ins refused by reason",
                [
                    Target(
                        _increase("cobrador_field_checkins_refused_total", COUNTRY, "reason"),
                        "{{reason}}",
                        instant=True,
                    )
                ],
                kind="bargauge",
                width=12,
                description="too_far / inaccurate: the GPS fix; any other: the compliance "
                "reason that refused the visit at the door.",
            ),
            Panel(
                "Door contact rate by the debtor's local hour",
                [
                    Target(
                        f"{_increase(contacts, COUNTRY, 'hour')} / {_increase(visits, COUNTRY, 'hour')}",
                        "{{hour}}",
                        instant=True,
                    )
                ],
                kind="bargauge",
                unit="percentunit",
                width=24,
                max_value=1,
                description="Visits where someone came to the door / visits made, per hour "
                "of the debtor's day.",
            ),
            Panel(
                "Right-party contact rate by the debtor's local hour",
                [
                    Target(
                        f"{_increase(rpc, COUNTRY, 'hour')} / {_increase(visits, COUNTRY, 'hour')}",
                        "{{hour}}",
                        instant=True,
                    )
                ],
                kind="bargauge",
                unit="percentunit",
                width=24,
                max_value=1,
            ),
            Panel(
                "Door contact rate, region x local hour",
                [
                    Target(
                        f"{_increase(contacts, COUNTRY, 'region, hour')}"
                        f" / {_increase(visits, COUNTRY, 'region, hour')}",
                        instant=True,
                    )
                ],
                kind="table",
                unit="percentunit",
                width=24,
                height=12,
                matrix=("region", "hour"),
            ),
        ],
    )


DASHBOARDS = {
    "floor-operations.json": floor_dashboard,
    "collections-results.json": collections_dashboard,
    "compliance.json": compliance_dashboard,
    "contact-by-hour-and-region.json": contact_hours_dashboard,
    "field-visits.json": field_dashboard,
}


def rendered() -> dict[str, str]:
    """File name -> JSON text, exactly as committed."""
    return {
        name: json.dumps(render(build()), indent=2, ensure_ascii=False) + "\n"
        for name, build in DASHBOARDS.items()
    }


def main() -> int:
    DASHBOARDS_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in rendered().items():
        (DASHBOARDS_DIR / name).write_text(text, encoding="utf-8")
        print(f"wrote {DASHBOARDS_DIR / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
