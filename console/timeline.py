"""One timeline of every contact with an account on every channel (calls, SMS, WhatsApp,
e-mail, visits) and of the strategy messages that were not sent and why: what the
agent's pop and the auditor's attempt page show. Every code reads as words (Spanish
msgids, translated where shown); addresses are masked."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from cobrador.ground.code_words import outcome_word
from compliance.debtor_time import debtor_zones
from console.code_labels import reasons_label, result_label, stage_label
from console.contact_labels import (
    UNSENT,
    channel_label,
    debtor_action_label,
    mask_address,
    message_result_label,
    reversal_label,
    step_status_label,
    template_label,
)
from console.debtor_locale import console_locale
from console.i18n import N_, gettext_
from console.money import money_format
from outreach.channels import REPORTABLE
from store.models import Account, CallAttempt, Disposition, OutreachStep


def account_timeline(session: Session, account: Account, limit: int = 30) -> list[dict[str, Any]]:
    """Newest first: each attempt on any channel (its result, the agent's disposition,
    the strategy step that sent it) and each strategy message not sent (why)."""
    rows = session.execute(
        select(CallAttempt, Disposition)
        .outerjoin(Disposition, Disposition.attempt_id == CallAttempt.id)
        .where(CallAttempt.account_id == account.id)
        .order_by(CallAttempt.started_at.desc(), CallAttempt.id.desc())
        .limit(limit)
    ).all()
    entries: list[tuple[datetime, dict[str, Any]]] = []
    # Each time in the debtor's zone, as a person reads it, with the zone's city.
    stamp = console_locale().stamp
    for attempt, disposition in rows:
        details: Mapping[str, Any] = attempt.details or {}
        zones = debtor_zones(account.timezone, account.country, account.region, attempt.phone_e164)
        channel = attempt.channel or "call"
        entries.append((attempt.started_at, {
            "attempt_id": attempt.id,
            "at": stamp(attempt.started_at, zones),
            "channel": channel_label(channel),
            "channel_code": channel,
            "direction": gettext_(N_("Entrante")) if attempt.direction == "inbound" else "",
            "what": template_label(details.get("template")) or _debtor_action(details, account),
            "stage": stage_label(details.get("stage") or ""),
            "result": message_result_label(channel, attempt.result, result_label),
            "outcome": outcome_word(channel, disposition.outcome, gettext_) if disposition else "",
            "address": mask_address(channel, attempt.phone_e164, attempt.address),
            "reasons": "",
        }))  # fmt: skip
    unsent = session.scalars(
        select(OutreachStep)
        .where(OutreachStep.account_id == account.id, OutreachStep.status.in_(UNSENT),
               OutreachStep.attempt_id.is_(None))
        .order_by(OutreachStep.decided_at.desc())
        .limit(limit)
    ).all()  # fmt: skip
    zones = debtor_zones(account.timezone, account.country, account.region, None)
    for step in unsent:
        entries.append((step.decided_at, {
            "attempt_id": None,
            "at": stamp(step.decided_at, zones),
            "channel": channel_label(step.channel),
            "channel_code": step.channel,
            "direction": "",
            "what": template_label(step.template),
            "stage": stage_label(step.stage or ""),
            "result": step_status_label(step.status),
            "outcome": "",
            "address": "",
            "reasons": reasons_label(step.reasons or []),
            "waits_until": stamp(step.not_before, zones) if step.not_before else None,
        }))  # fmt: skip
    entries.sort(key=lambda pair: _utc(pair[0]), reverse=True)
    return [entry for _, entry in entries[:limit]]


def _debtor_action(details: Mapping[str, Any], account: Account) -> str:
    """What the debtor did; for a channel stopped or authorised again, which ones; for a
    payment taken back in part, how much (in the account's currency and notation)."""
    label = debtor_action_label(details.get("debtor_action"))
    channels = details.get("channels")
    if (
        label
        and details.get("debtor_action") in ("opt_out", "opt_in")
        and isinstance(channels, list)
    ):
        names = [channel_label(c) for c in channels[:5] if isinstance(c, str)]
        return f"{label}: {', '.join(names)}" if names else label
    undone = reversal_label(details.get("reversal"))
    if label and undone:  # the provider took the payment back afterwards
        refunded = _refunded(details) if details.get("reversal") == "partially_refunded" else None
        if refunded is not None:
            shown = money_format(account.country, account.currency).show(refunded)
            return f"{label} ({undone}: {shown})"
        return f"{label} ({undone})"
    return label


def _refunded(details: Mapping[str, Any]) -> Decimal | None:
    """The refunded total the row was told (selfservice/payment_links.py), if it reads as one."""
    raw = details.get("refunded")
    if not isinstance(raw, str) or len(raw) > 32:
        return None
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount > 0 else None


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def timeline_for(engine: Engine, account_id: int, limit: int = 50) -> list[dict[str, Any]]:
    with Session(engine) as s:
        account = s.get(Account, account_id)
        return [] if account is None else account_timeline(s, account, limit)


# ---------------------------------------------------------------- supervisors

REPORTED = ("sent", "delivered", "read", "replied", "failed")
# A message that got further was also at each earlier step: read implies delivered, and
# a reply implies it arrived (not that it was read, which only WhatsApp reports).
REACHED = {
    "sent": ("sent",),
    "delivered": ("sent", "delivered"),
    "read": ("sent", "delivered", "read"),
    "replied": ("sent", "delivered", "replied"),
    "failed": ("sent", "failed"),
}


def message_figures(engine: Engine, campaign_id: int | None, now: datetime,
                    window: timedelta = timedelta(hours=24)) -> list[dict[str, Any]]:  # fmt: skip
    """Strategy messages of the window per channel and step (template), as a funnel: how
    many left (sent), arrived (delivered), were read, replied, failed (refused by the
    gateway, or reported failed after leaving), and were not sent (blocked at the final
    check). A status the
    channel cannot report (e-mail's delivery, an SMS's read) is None, shown as a dash."""
    since = now - window
    with Session(engine) as s:
        query = (
            select(OutreachStep.channel, OutreachStep.template, OutreachStep.status,
                   CallAttempt.result, func.count())
            .outerjoin(CallAttempt, CallAttempt.id == OutreachStep.attempt_id)
            .where(OutreachStep.decided_at >= since, OutreachStep.channel != "call")
            .group_by(OutreachStep.channel, OutreachStep.template, OutreachStep.status,
                      CallAttempt.result)
        )  # fmt: skip
        if campaign_id is not None:
            query = query.where(OutreachStep.campaign_id == campaign_id)
        rows = s.execute(query).all()
    table: dict[tuple[str, str], dict[str, int]] = {}
    for channel, template, status, result, count in rows:
        cell = table.setdefault(
            (channel, template or ""), dict.fromkeys((*REPORTED, "not_sent"), 0)
        )
        if status in ("blocked", "failed") and result is None:
            cell["not_sent" if status == "blocked" else "failed"] += count
        elif status in ("sent", "uncertain", "sending") or result is not None:
            # What the channel reported last; a message with no report yet counts as sent.
            reported = result if result in REPORTED else ("failed" if result == "lost" else "sent")
            for step in REACHED[reported]:
                cell[step] += count
    out = []
    for (channel, template), cell in sorted(table.items()):
        known = REPORTABLE.get(channel, frozenset(REPORTED))
        shown = {k: (v if k == "not_sent" or k in known else None) for k, v in cell.items()}
        out.append({"channel": channel_label(channel), "step": template_label(template), **shown})
    return out
