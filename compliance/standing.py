"""Why a channel stays closed to an account whatever the hour: the engine's own
decisions on every address of the debtor, kept to the reasons that stand until a
fact changes (a registry listing, no consent, a dispute, a legal status...).

The debtor's portal shows them, so a debtor who authorises calls again while their
number is on REUS is told why nobody calls. Hours, days, holidays and caps pass by
themselves and are left out; so is what only the operator should hear about (a
registry not loaded, a zone unknown).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session

from compliance.engine import PARTY_BY_PHONE_TYPE, Decision
from compliance.service import ComplianceService, Item
from store.db import transaction
from store.models import PHONE_CHANNELS, Account

# The standing reasons, most telling first: the first one is the one a debtor reads.
STANDING_REASONS = (
    "disputed",
    "cease_contact",
    "legal_stage",
    "channel_not_allowed",
    "registry_listed",
    "no_consent",
    "channel_not_authorised",
    "visit_not_authorised",
    "opted_out",
    "invalid_number",
    "invalid_address",
)
CHANNELS = ("call", "sms", "whatsapp", "email", "visit")  # what a debtor may choose


@dataclass(frozen=True)
class StandingBlock:
    """A channel closed for good to the account: its standing reasons (most telling
    first) and the registries the debtor's profile checks (which one lists a number
    is the registry's business; the debtor is told where to ask)."""

    channel: str
    reasons: tuple[str, ...]
    registries: tuple[str, ...] = ()


def standing_reasons(decisions: Iterable[Decision]) -> tuple[str, ...]:
    """The standing reasons of one channel over the decisions on each of its addresses:
    none as soon as one address has none (that one may be used, at the right hour);
    pure."""
    found: set[str] = set()
    any_decision = False
    for decision in decisions:
        any_decision = True
        standing = set(decision.reasons) & set(STANDING_REASONS)
        if not standing:
            return ()
        found |= standing
    if not any_decision:
        return ()
    return tuple(r for r in STANDING_REASONS if r in found)


def _items(service: ComplianceService, account_id: int) -> list[Item]:
    """A request per channel and per number of the debtor's own (never a guarantor's or
    a reference's: those are not the debtor's facts). LookupError: no such account."""
    with transaction(service.sql) as session:
        account = session.get(Account, account_id)
        if account is None:
            raise LookupError(account_id)
        own = [p.number_e164 for p in account.phones
               if PARTY_BY_PHONE_TYPE.get(p.phone_type) == "debtor"]  # fmt: skip
        return [item for channel in CHANNELS for item in _channel_items(service, session,
                                                                         account_id, channel, own)]  # fmt: skip


def _channel_items(service: ComplianceService, session: Session, account_id: int, channel: str,
                   own: Sequence[str]) -> list[Item]:  # fmt: skip
    if channel not in PHONE_CHANNELS:
        return [service.load_item(session, account_id=account_id, channel=channel)]
    if not own:
        # No number of the debtor's: a request without one (the engine: invalid_number).
        base = service.load_item(session, account_id=account_id, channel="visit")
        return [replace(base, channel=channel)]
    return [service.load_item(session, account_id=account_id, channel=channel, phone_e164=n)
            for n in own]  # fmt: skip


async def standing_blocks(
    service: ComplianceService, account_id: int, now: datetime
) -> Mapping[str, StandingBlock]:
    """The account's channels closed for good, by channel (a channel open at some hour
    is absent). Evaluated like any contact (registries from Redis), without counting
    and without recording: nothing is placed. LookupError: no such account."""
    items = await asyncio.to_thread(_items, service, account_id)
    decisions = await service.evaluate_batch(items, now, counters=False)
    out: dict[str, StandingBlock] = {}
    for channel in CHANNELS:
        pairs = [(i, d) for i, d in zip(items, decisions, strict=True) if i.channel == channel]
        reasons = standing_reasons(d for _i, d in pairs)
        if reasons:
            names = tuple(dict.fromkeys(r.name for i, _d in pairs for r in i.profile.registries))
            out[channel] = StandingBlock(channel, reasons, names)
    return out
