"""The debtor's other accounts, as the person looking at one account may see them: the
accounts that share one of its own numbers (compliance/debtor_accounts.py: one person,
one set of caps), each with its creditor, product, balance in its own currency and
notation, status, and whether it may be called today (the compliance engine's answer).

Who sees which (the console's rules elsewhere): an auditor or an admin every one; a
supervisor those of the campaigns in their charge (may_see_campaign), and how many
others there are; an agent only those of the campaign of the account on the call, with
the reference masked (its last digits answer the identity questions), and nothing about
the rest. A shared number links more than one person (a household's landline: the safe
side for the caps, compliance/debtor_accounts.py), so an agent is shown only the accounts
whose debtor has the name of the titular verified on the call: never a spouse's debt.
Staff see every linked account with its debtor's name, to judge. At most MAX_LISTED are
listed, and the page says how many more there are.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import redis
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from compliance.callback_window import TIME_REASONS
from compliance.caps import HistoryUnavailable
from compliance.debtor_accounts import linked_accounts
from compliance.engine import (
    PARTY_BY_PHONE_TYPE,
    CallRequest,
    Decision,
    StaticRegistries,
    contact_zones,
)
from compliance.engine import Engine as RulesEngine
from compliance.profile import ProfileError
from compliance.service import ComplianceService, Item, account_facts, phone_facts
from console.code_labels import account_status_label, reasons_label, stage_label
from console.debtor_locale import console_locale
from console.i18n import N_, gettext_
from console.identity import masked_ref
from console.money import money_format
from console.recording_service import may_see_campaign
from console.users import CurrentUser
from store.audit import append as audit_append
from store.db import transaction
from store.models import Account, CallAttempt, Campaign, Role
from store.text_fold import fold

log = logging.getLogger(__name__)

MAX_LISTED = 10
# How finely "from what time today" is searched, in the debtor's zone.
LATER_STEP = timedelta(minutes=15)
MAX_PRODUCT = 60

NOW_YES = N_("Sí, ahora")
LATER_YES = N_("Sí, desde las {hora} ({zona})")
TODAY_NO = N_("Hoy no: {motivos}")
NOT_NOW = N_("Ahora no: {motivos}")
# Reasons that lapse with time (a cap's rolling window, the hold after an abandoned
# call): the account may not be called now, and whether later today is not said.
LAPSING = frozenset({"attempt_cap_day", "attempt_cap_week", "contact_cap_week",
                     "channel_cap_week", "recent_abandon"})  # fmt: skip
NO_OWN_NUMBER = N_("Hoy no: sin número propio del deudor")
UNCHECKED = N_("No se pudo comprobar: no llame")


@dataclass(frozen=True)
class _Linked:
    """One of the debtor's other accounts as SQL has it, with its call requests."""

    id: int
    ref: str
    name: str
    campaign_id: int | None
    creditor: str
    product: str
    balance: Decimal
    currency: str
    country: str
    status: str
    stage: str
    latest_attempt: int | None
    items: tuple[Item, ...]


def viewer_scope(user: CurrentUser, account_campaign: int | None) -> Callable[[int | None], bool]:
    """Which campaigns' accounts this user may see listed beside an account of
    ``account_campaign``."""
    if user.role in (Role.auditor, Role.admin):
        return lambda _campaign: True
    if user.role is Role.supervisor:
        return lambda campaign: may_see_campaign(user, campaign)
    return lambda campaign: campaign is not None and campaign == account_campaign


def same_name(a: str, b: str) -> bool:
    """Two debtors' names as one person's: case, accents and spacing aside."""
    return fold(" ".join(a.split())) == fold(" ".join(b.split()))


def _load(
    engine: Engine, service: ComplianceService, account_id: int
) -> tuple[tuple[int | None, str], list[_Linked]]:
    """The account's campaign and debtor's name, and its debtor's other accounts
    (ascending id)."""
    others = linked_accounts(engine, account_id)
    with transaction(engine) as session:
        own = session.execute(
            select(Account.campaign_id, Account.debtor_name).where(Account.id == account_id)
        ).first()
        this = (own[0], own[1]) if own is not None else (None, "")
        if not others:
            return this, []
        accounts = session.scalars(
            select(Account).where(Account.id.in_(others)).order_by(Account.id)
        ).all()
        campaigns = {
            c.id: c
            for c in session.scalars(
                select(Campaign).where(Campaign.id.in_({a.campaign_id for a in accounts}))
            )
        }
        latest = dict(
            session.execute(
                select(CallAttempt.account_id, func.max(CallAttempt.id))
                .where(CallAttempt.account_id.in_(others))
                .group_by(CallAttempt.account_id)
            ).all()
        )
        out = []
        for account in accounts:
            campaign = campaigns.get(account.campaign_id) if account.campaign_id else None
            config = dict(campaign.config or {}) if campaign is not None else {}
            out.append(
                _Linked(
                    id=account.id,
                    ref=account.external_ref,
                    name=account.debtor_name,
                    campaign_id=account.campaign_id,
                    creditor=str(config.get("creditor") or (campaign.name if campaign else "")),
                    product=str((account.custom_fields or {}).get("product") or "")[:MAX_PRODUCT],
                    balance=account.balance or Decimal(0),
                    currency=account.currency,
                    country=account.country,
                    status=account.status,
                    stage=account.stage,
                    latest_attempt=latest.get(account.id),
                    items=_call_items(service, account, campaign),
                )
            )
        return this, out


def _call_items(
    service: ComplianceService, account: Account, campaign: Campaign | None
) -> tuple[Item, ...]:
    """A call to each of the debtor's own numbers on the account (never a guarantor's or
    a reference's); none when its profile cannot be built (then it may not be called)."""
    try:
        profile = service.profile_for(campaign, account.country)
    except ProfileError:
        return ()
    facts = account_facts(account)
    own = [p.number_e164 for p in account.phones
           if PARTY_BY_PHONE_TYPE.get(p.phone_type) == "debtor" and p.number_e164]  # fmt: skip
    return tuple(
        Item(facts, phone_facts(account, n), profile, campaign.id if campaign else None)
        for n in own
    )


def first_time_today(item: Item, now: datetime) -> datetime | None:
    """The first moment from ``now`` to the end of the debtor's today when the hours, the
    day and the holidays allow a call on this number (the other rules are the engine's
    answer now), on the clock of the zone the agent page shows for the debtor (the
    first candidate); None when none is left today. Every candidate zone counts, as the
    engine's (the account's and the number's: compliance/engine.py contact_zones):
    today ends at the earliest of their midnights, so a time that is already tomorrow
    in one of them is never "later today". Pure: the rules evaluated at quarter hours
    (on the UTC clock: no wall-clock step is skipped or repeated where a zone changes
    its offset)."""
    zones = contact_zones(item.account, "call", item.phone.e164 if item.phone else "").zones
    if not zones:
        return None
    end = min(_next_midnight(now, zone) for zone in zones)
    step = LATER_STEP.total_seconds()
    at = datetime.fromtimestamp((now.timestamp() // step + 1) * step, UTC)
    rules = RulesEngine()
    request = CallRequest(account=item.account, phone=item.phone, profile=item.profile,
                          registries=StaticRegistries(), campaign_id=item.campaign_id)  # fmt: skip
    while at < end:
        if not set(rules.evaluate(request, at).reasons) & TIME_REASONS:
            return at.astimezone(zones[0])
        at += LATER_STEP
    return None


def _next_midnight(now: datetime, zone: ZoneInfo) -> datetime:
    """When the day after ``now``'s day starts in ``zone`` (UTC)."""
    tomorrow = now.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), tzinfo=zone).astimezone(UTC)


def call_today(pairs: Sequence[tuple[Item, Decision]], now: datetime) -> dict[str, Any]:
    """Whether the account may be called today, in words: now, from a time later today
    (when only the hours stop it now; the time with its zone's city, "Sí, desde las
    09:00 (Ciudad de México)"), not now (a cap, which lapses), or not today; and why
    not."""
    if not pairs:
        return {"may": False, "text": gettext_(NO_OWN_NUMBER)}
    if any(d.allowed for _i, d in pairs):
        return {"may": True, "text": gettext_(NOW_YES)}
    later = [
        t for t in (first_time_today(i, now) for i, d in pairs if set(d.reasons) <= TIME_REASONS)
        if t is not None
    ]  # fmt: skip
    if later:
        at = min(later, key=lambda t: t.astimezone(UTC))
        shown, zone = console_locale(), at.tzinfo if isinstance(at.tzinfo, ZoneInfo) else None
        text = gettext_(LATER_YES).replace("{hora}", shown.clock(at, zone))
        text = text.replace("{zona}", shown.zone_name(zone))
        return {"may": True, "text": text}
    reasons = list(dict.fromkeys(r for _i, d in pairs for r in d.reasons))
    lapsing = any(set(d.reasons) <= LAPSING | TIME_REASONS for _i, d in pairs)
    words = gettext_(NOT_NOW if lapsing else TODAY_NO)
    return {"may": False, "text": words.replace("{motivos}", reasons_label(reasons))}


async def other_accounts(
    engine: Engine, service: ComplianceService, user: CurrentUser, account_id: int,
    now: datetime,
) -> dict[str, Any]:  # fmt: skip
    """The view: ``accounts`` (at most MAX_LISTED, active ones first, larger balances
    first), ``more`` (listable ones left out), ``hidden`` (a supervisor's: accounts of
    campaigns not in their charge; 0 for anyone else). Writes a pii_view entry naming
    the accounts listed."""
    (campaign_of, name), linked = await asyncio.to_thread(_load, engine, service, account_id)
    allowed = viewer_scope(user, campaign_of)
    agent = user.role is Role.agent
    visible = sorted((a for a in linked if allowed(a.campaign_id)
                      and (not agent or same_name(a.name, name))),
                     key=lambda a: (a.status != "active", -a.balance, a.id))  # fmt: skip
    listed = visible[:MAX_LISTED]
    items = [(n, item) for n, a in enumerate(listed) for item in a.items]
    try:
        decisions = await service.evaluate_batch([i for _n, i in items], now) if items else []
    except (HistoryUnavailable, SQLAlchemyError, redis.RedisError, OSError):
        log.warning("other accounts of %s: the rules could not be evaluated", account_id)
        decisions = None  # fail closed: none of them may be called, as far as this page says
    per_account: dict[int, list[tuple[Item, Decision]]] = {}
    for (n, item), decision in zip(items, decisions or [], strict=False):
        per_account.setdefault(n, []).append((item, decision))
    today = (
        [{"may": False, "text": gettext_(UNCHECKED)} for _a in listed]
        if decisions is None
        else await asyncio.to_thread(
            lambda: [call_today(per_account.get(n, []), now) for n in range(len(listed))]
        )
    )
    rows = [
        {
            "account_id": None if agent else a.id,
            "ref": masked_ref(a.ref) if agent else a.ref,
            "name": "" if agent else a.name,  # the agent's is the titular's, on the call
            "creditor": a.creditor,
            "product": a.product,
            "balance": money_format(a.country, a.currency).show(a.balance),
            "status": a.status,
            "status_label": account_status_label(a.status),
            "stage_label": stage_label(a.stage),
            "today": t,
            # Where the viewer may open it: the attempt page of its latest contact.
            "href": f"/attempts/{a.latest_attempt}"
            if not agent and a.latest_attempt is not None and may_see_campaign(user, a.campaign_id)
            else None,
        }
        for a, t in zip(listed, today, strict=True)
    ]
    if listed:
        await asyncio.to_thread(_record_view, engine, user, account_id, [a.id for a in listed])
    return {
        "accounts": rows,
        "more": len(visible) - len(listed),
        "hidden": len(linked) - len(visible) if user.role is Role.supervisor else 0,
    }


def _record_view(engine: Engine, user: CurrentUser, account_id: int, shown: list[int]) -> None:
    with transaction(engine) as session:
        audit_append(
            session,
            "pii_view",
            {"page": "other_accounts", "account_id": account_id, "account_ids": shown},
            actor=user.actor,
            subject=f"account:{account_id}",
        )
