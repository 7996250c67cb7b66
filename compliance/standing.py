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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from compliance.engine import PARTY_BY_PHONE_TYPE, Decision
from compliance.service import ComplianceService, Item, account_facts, email_facts, phone_facts
from store.db import transaction
from store.models import PHONE_CHANNELS, Account, Campaign

# The standing reasons, most telling first: the first one is the one a debtor reads.
STANDING_REASONS = (
    "insolvency_proceeding",
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
    "no_address",
)
# What a debtor may choose (and stop: compliance/opt_outs.py), each channel the engine
# has an address for; the letter's is the account's postal address.
CHANNELS = ("call", "sms", "whatsapp", "email", "visit", "letter")


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
    a reference's: those are not the debtor's facts), from one read of the account.
    LookupError: no such account."""
    with transaction(service.sql) as session:
        account = session.get(Account, account_id)
        if account is None:
            raise LookupError(account_id)
        campaign = session.get(Campaign, account.campaign_id) if account.campaign_id else None
        profile = service.profile_for(campaign, account.country)
        facts = account_facts(account)
        base = Item(facts, None, profile, campaign.id if campaign else None)
        own = [p.number_e164 for p in account.phones
               if PARTY_BY_PHONE_TYPE.get(p.phone_type) == "debtor"]  # fmt: skip
        items = []
        for channel in CHANNELS:
            if channel == "email":
                items.append(replace(base, channel=channel, email=email_facts(account)))
            elif channel in PHONE_CHANNELS and own:
                items += [replace(base, channel=channel, phone=phone_facts(account, number))
                          for number in own]  # fmt: skip
            else:
                # A visit or a letter (the account's address); or no number of the
                # debtor's: a request without one, which the engine refuses as invalid_number.
                items.append(replace(base, channel=channel))
        return items


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
