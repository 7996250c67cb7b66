"""Auditor pages (read-only): attempts, decisions, exports and the audit chain."""

from __future__ import annotations

import io
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from console import audit_log_views
from console import auditor_service as svc
from console.code_labels import (
    REASON_LABELS,
    outcome_label,
    party_label,
    reason_label,
    result_label,
)
from console.contact_labels import channel_label, message_result_label
from console.debtor_locale import console_locale
from console.i18n import N_, gettext_
from console.params import id_or_404
from console.webutil import in_db, json_error, requires, user_of
from store.models import AttemptResult, Role
from store.spreadsheet import FLAVOURS, STANDARD, Flavour, SafeWriter

ATTEMPT_COLUMNS = [
    "id", "started_at", "ended_at", "duration_seconds", "hangup_cause", "direction", "account_ref", "debtor_name", "phone", "agent", "result",
    "party", "outcome", "right_party_contact", "decision_id", "caller_id", "recording",
]  # fmt: skip
DECISION_COLUMNS = [
    "id", "evaluated_at", "account_ref", "channel", "phone", "address", "stage", "allowed", "reasons",
    "profile_version", "registry_versions", "local_time", "timezone",
]  # fmt: skip


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/auditor", attempts_page)
    r.add_get("/auditor/attempts.{fmt:csv|jsonl}", attempts_export)
    r.add_get("/auditor/decisions", decisions_page)
    r.add_get("/auditor/decisions.{fmt:csv|jsonl}", decisions_export)
    r.add_get("/auditor/decisions/{decision_id:\\d+}", decision_page)
    audit_log_views.setup_routes(app)


def _filters(request: web.Request) -> tuple[svc.Filters | None, dict[str, str]]:
    try:
        return svc.parse_filters(dict(request.query)), {}
    except svc.FilterError as exc:
        return None, {k: gettext_(v) for k, v in exc.errors.items()}


def _context(request: web.Request, **extra: Any) -> dict[str, Any]:
    return {
        "q": dict(request.query),
        "results_list": [(r.value, result_label(r.value)) for r in AttemptResult],
        "reasons_list": [(code, reason_label(code)) for code in REASON_LABELS],
        "query_string": request.query_string,
        **extra,
    }


LATEST = 50  # an empty search lists the latest attempts (or decisions)
RECORDING_LABELS = {
    "missing": N_("Falta el archivo"),
    "empty": N_("Archivo vacío"),
    "failed": N_("No se pudo leer"),
    "recording": N_("Grabando"),
}


def _labelled_attempt(row: dict[str, Any]) -> dict[str, Any]:
    """What the page shows for each code and time (the exports keep codes and ISO)."""
    return {**row, "started_shown": console_locale().utc(row["started_at"]),
            "result_label": message_result_label(row["channel"], row["result"], result_label),
            "channel_label": channel_label(row["channel"]),
            "party_label": party_label(row["party"]), "outcome_label": outcome_label(row["outcome"], row["channel"]),
            "recording_label": gettext_(RECORDING_LABELS.get(row["recording"], N_("Otro estado")))
            if row["recording"] else ""}  # fmt: skip


def _labelled_decision(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "reason_labels": [reason_label(r) for r in row["reasons"]],
            "evaluated_shown": console_locale().utc(row["evaluated_at"]),
            "channel_label": channel_label(row["channel"]),
            **_local_shown(row["local_time"], row["timezone"])}  # fmt: skip


def _local_shown(local_time: str, timezone: str) -> dict[str, str]:
    """The debtor's time the rules read, as a person reads it: ``local_shown`` "6 dic
    2026, 14:05 (Ciudad de México)" (in the first candidate zone, where the engine
    stamped it), ``zones_label`` every candidate ("Ciudad de México, Cancún"). The
    stored text as it is when it cannot be read (an old row); the exports keep it."""
    words = console_locale()
    try:
        zones = tuple(ZoneInfo(key) for key in timezone.split(",") if key.strip())
        at = datetime.fromisoformat(local_time) if local_time else None
    except (ValueError, LookupError):  # ZoneInfoNotFoundError is a KeyError
        return {"local_shown": local_time, "zones_label": timezone}
    if at is None or at.tzinfo is None:
        return {"local_shown": local_time, "zones_label": words.zones_name(zones)}
    return {
        "local_shown": words.when(at, zones[0] if zones else None),
        "zones_label": words.zones_name(zones),
    }


@requires(Role.auditor)
async def attempts_page(request: web.Request) -> web.StreamResponse:
    filters, errors = _filters(request)
    rows: list[dict[str, Any]] = []
    # Opening the page shows no one's data; "Buscar" with no filter lists the latest.
    searched = filters is not None and (bool(request.query_string) or not filters.empty)
    if filters is not None and searched:
        limit = LATEST if filters.empty else svc.PAGE_LIMIT
        rows = await in_db(request, svc.search_attempts, filters, limit)
        if rows:
            await in_db(
                request,
                svc.record_view,
                user_of(request).actor,
                "auditor_attempts",
                filters.as_dict(),
                [r["account_id"] for r in rows if r["account_id"]],
            )
    return aiohttp_jinja2.render_template(
        "auditor_attempts.html",
        request,
        _context(request, rows=[_labelled_attempt(r) for r in rows], errors=errors,
                 searched=searched, latest=searched and filters is not None and filters.empty),
        status=400 if errors else 200,
    )  # fmt: skip


@requires(Role.auditor)
async def decisions_page(request: web.Request) -> web.StreamResponse:
    filters, errors = _filters(request)
    rows: list[dict[str, Any]] = []
    searched = filters is not None and (bool(request.query_string) or not filters.empty)
    if filters is not None and searched:
        limit = LATEST if filters.empty else svc.PAGE_LIMIT
        rows = await in_db(request, svc.search_decisions, filters, limit)
        ids = [r["account_id"] for r in rows if r["account_id"]]
        if rows:
            await in_db(
                request,
                svc.record_view,
                user_of(request).actor,
                "auditor_decisions",
                filters.as_dict(),
                ids,
            )
    return aiohttp_jinja2.render_template(
        "auditor_decisions.html",
        request,
        _context(request, rows=[_labelled_decision(r) for r in rows], errors=errors,
                 searched=searched, latest=searched and filters is not None and filters.empty),
        status=400 if errors else 200,
    )  # fmt: skip


@requires(Role.auditor)
async def decision_page(request: web.Request) -> web.StreamResponse:
    decision = await in_db(request, svc.get_decision, id_or_404(request.match_info["decision_id"]))
    if decision is None:
        raise web.HTTPNotFound()
    if decision["account_id"]:
        await in_db(
            request,
            svc.record_view,
            user_of(request).actor,
            "auditor_decision",
            {"decision_id": str(decision["id"])},
            [decision["account_id"]],
        )
    return aiohttp_jinja2.render_template(
        "auditor_decision.html", request, {"d": _labelled_decision(decision)}
    )


def _export(
    rows: list[dict[str, Any]], columns: list[str], fmt: str, name: str, flavour: Flavour
) -> web.Response:
    if fmt == "jsonl":
        body = "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows)
        content_type = "application/x-ndjson"
    else:
        buf = io.StringIO()
        writer = SafeWriter(buf, flavour)
        writer.writerow(columns)
        for r in rows:
            writer.writerow(
                [
                    json.dumps(r[c], ensure_ascii=False) if isinstance(r[c], list | dict) else r[c]
                    for c in columns
                ]
            )
        body = buf.getvalue()
        content_type = "text/csv"
    return web.Response(
        text=body,
        content_type=content_type,
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


async def _do_export(request: web.Request, kind: str) -> web.StreamResponse:
    filters, errors = _filters(request)
    if filters is None:
        return web.json_response(
            {"ok": False, "reason": "bad filters", "errors": errors}, status=400
        )
    # ?flavour=excel-es: UTF-8 with BOM and ';', what a Spanish Excel opens as is.
    flavour = FLAVOURS.get(request.query.get("flavour", STANDARD.name))
    if flavour is None:
        return json_error(400, f"flavour must be one of: {', '.join(FLAVOURS)}")
    search = svc.search_attempts if kind == "attempts" else svc.search_decisions
    rows = await in_db(request, search, filters, svc.EXPORT_LIMIT)
    await in_db(
        request,
        svc.record_view,
        user_of(request).actor,
        f"export_{kind}",
        filters.as_dict(),
        [r["account_id"] for r in rows if r["account_id"]],
        "export",
    )
    columns = ATTEMPT_COLUMNS if kind == "attempts" else DECISION_COLUMNS
    return _export(rows, columns, request.match_info["fmt"], kind, flavour)


@requires(Role.auditor)
async def attempts_export(request: web.Request) -> web.StreamResponse:
    return await _do_export(request, "attempts")


@requires(Role.auditor)
async def decisions_export(request: web.Request) -> web.StreamResponse:
    return await _do_export(request, "decisions")
