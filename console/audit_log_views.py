"""The auditor's view of the audit log: its verification against every witness,
each witness's last checkpoint and age, and per-entry proof downloads (the JSON
`cobrador audit check-proof` verifies offline)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import Engine, or_, select

from compliance.transparency import runtime
from compliance.transparency.proofs import ProofUnavailable, prove_entry
from console.debtor_locale import console_locale
from console.i18n import gettext_
from console.keys import SETTINGS
from console.webutil import in_db, requires, user_of
from store.audit import append as audit_append
from store.db import transaction
from store.models import AuditEntry, Role

PRIVATE = {"Cache-Control": "no-store"}


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/auditor/chain", chain_page)
    r.add_get("/auditor/audit-entries/{entry_id:\\d{1,18}}/proof.json", proof_download)


@requires(Role.auditor)
async def chain_page(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    now = datetime.now(UTC)

    def work(engine: Engine) -> tuple[Any, list[runtime.WitnessStatus]]:
        report = runtime.verify_configured(settings, engine, now=now)
        return report, runtime.witness_statuses(engine, report, now)

    report, statuses = await in_db(request, work)
    late_after = 2 * settings.audit_checkpoint_every_seconds + 60
    response = aiohttp_jinja2.render_template(
        "auditor_chain.html",
        request,
        {
            "report": report,
            "witnesses": statuses,
            "late_after": late_after,
            "utc": console_locale().utc,
        },  # "6 dic 2026, 14:05:33" under "(UTC)"
    )
    response.headers.update(PRIVATE)
    return response


def entries_of_attempt(engine: Engine, attempt_id: int) -> list[dict[str, Any]]:
    """The audit entries that record one attempt (its payload names it)."""
    # Payloads are canonical JSON (sorted keys, no spaces): the id is followed by
    # a comma or the closing brace, never by more digits.
    needle = f'"attempt_id":{int(attempt_id)}'
    with transaction(engine) as session:
        rows = session.execute(
            select(AuditEntry.id, AuditEntry.created_at, AuditEntry.kind)
            .where(or_(AuditEntry.payload.contains(needle + ","),
                       AuditEntry.payload.contains(needle + "}")))
            .order_by(AuditEntry.id)
            .limit(50)
        ).all()  # fmt: skip
    return [{"id": r.id, "created_at": r.created_at, "kind": r.kind} for r in rows]


def _record_download(engine: Engine, actor: str, entry_id: int) -> None:
    with transaction(engine) as session:
        audit_append(session, "export", {"what": "audit_proof", "entry_id": entry_id},
                     actor=actor, subject=f"audit_entry:{entry_id}")  # fmt: skip


@requires(Role.auditor)
async def proof_download(request: web.Request) -> web.StreamResponse:
    entry_id = int(request.match_info["entry_id"])
    try:
        doc = await in_db(request, prove_entry, entry_id)
    except ProofUnavailable as exc:
        status = 404 if str(exc).startswith("no audit entry") else 409
        reason = gettext_("Esa entrada no existe.") if status == 404 else gettext_(
            "La entrada aún no está cubierta por un punto de control firmado; "
            "inténtelo en un minuto."
        )  # fmt: skip
        return web.Response(status=status, text=f"{reason} ({exc})", headers=PRIVATE)
    await in_db(request, _record_download, user_of(request).actor, entry_id)
    body = json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    return web.Response(
        body=body.encode("utf-8"),
        content_type="application/json",
        headers={
            **PRIVATE,
            "Content-Disposition": f'attachment; filename="audit-entry-{entry_id}-proof.json"',
        },
    )
