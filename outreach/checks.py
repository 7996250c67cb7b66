"""The final check a message passes at the instant it would leave, as the scheduler
sees it: a Protocol over compliance's per-channel check, the address a channel uses
for an account, and what a refusal means for the step (wait for a window or a cap,
or never). `EngineCheck` adapts today's call rules engine to it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from compliance.engine import CallRequest, Decision, StaticRegistries
from compliance.service import (
    ComplianceService,
    Item,
    account_facts,
    channel_set,
    email_facts,
    phone_facts,
)
from outreach.outgoing import MESSAGE_REACH
from outreach.windows import next_opening
from store.importing.bulk import any_of
from store.models import Account, Campaign

# The hours must allow the message from its check to the end of its delivery.
REACH_SECONDS = MESSAGE_REACH.total_seconds()
# Refusals that clear with time alone: the step waits for the channel's next window.
WINDOW_REASONS = frozenset({"outside_hours", "day_not_allowed", "holiday"})
# Refusals that clear later: caps and a registry being reloaded (as the hopper backs off).
RETRY_AFTER: Mapping[str, timedelta] = {
    "attempt_cap_day": timedelta(hours=1),
    "attempt_cap_week": timedelta(hours=6),
    "contact_cap_week": timedelta(hours=6),
    "recent_abandon": timedelta(hours=1),
    "registry_unavailable": timedelta(minutes=5),
    "registry_stale": timedelta(minutes=5),
}


@dataclass(frozen=True)
class CheckRequest:
    account_id: int
    campaign_id: int | None
    channel: str  # sms | whatsapp | email | letter
    address: str  # the phone (E.164), the e-mail address or the postal address


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    # Refused only by day, hours or holidays: when the channel's window next opens
    # in every possible zone of the debtor (None: not within the search horizon).
    opens_at: datetime | None = None
    # Set when compliance recorded the decision and its audit entry itself (its final
    # check counts and records at once); else the scheduler records it with the step.
    decision_id: int | None = None


class FinalCheck(Protocol):
    """Compliance's check of one message per request, at `now`, caps counted."""

    async def check(self, requests: Sequence[CheckRequest], now: datetime) -> list[Verdict]: ...

    async def count(
        self, request: CheckRequest, attempt_ref: str, now: datetime
    ) -> tuple[str, ...]:
        """At the instant of sending, the channel's caps checked and this attempt
        ("a:<attempt id>") counted atomically, so two senders never both pass one cap;
        the reasons it is refused (empty: counted, send it)."""
        ...


class Addresses(Protocol):
    def address(self, account: Account, channel: str) -> str | None:
        """Where this channel reaches the account with the debtor's authorisation; None:
        nowhere (the message is not sent: no_consent, or no_address for a letter)."""


def nowhere_reason(channel: str) -> str:
    """Why a message with no address is not sent: a letter lacks a postal address; the
    other channels lack an address the debtor authorised."""
    return "no_address" if channel == "letter" else "no_consent"


def retry_at(verdict: Verdict, now: datetime) -> datetime | None:
    """When a refused message may be tried again; None: never (the step is blocked)."""
    reasons = set(verdict.decision.reasons)
    if not reasons:
        return None
    later = reasons - WINDOW_REASONS
    if later - set(RETRY_AFTER):
        return None  # consent, opt-out, legal stage, registry listing...: not a matter of time
    at = now + max((RETRY_AFTER[r] for r in later), default=timedelta(0))
    if reasons & WINDOW_REASONS:
        if verdict.opens_at is None:
            return None
        at = max(at, verdict.opens_at)
    return at


class ConsentedAddresses:
    """Where the debtor authorised each channel: the first active mobile number with
    consent whose authorised channels (phones.channels, the import's phone_N_channels)
    include sms or whatsapp; the account's e-mail address with its consent; for a
    letter, the postal address the creditor gave (the import's `address`), whose
    consent, hours and opt-outs the final check judges per the debtor's profile."""

    def address(self, account: Account, channel: str) -> str | None:
        if channel in ("sms", "whatsapp"):
            for phone in account.phones:
                if (phone.status == "active" and phone.phone_type == "mobile"
                        and phone.consent and phone.consent_ref
                        and channel in channel_set(phone.channels)):  # fmt: skip
                    return phone.number_e164
            return None
        if channel == "email":
            if account.email and account.email_consent and account.email_consent_ref:
                return account.email
            return None
        if channel == "letter":
            return (account.address or "").strip() or None
        return None


class EngineCheck:
    """The final check from compliance's per-channel rules (hours, days, holidays,
    consent and channel authorisation, registries on numbers, account status and
    legal stage, caps across channels) for sms, whatsapp, e-mail and letters."""

    def __init__(self, sql: SqlEngine, compliance: ComplianceService) -> None:
        self.sql = sql
        self.compliance = compliance
        self._batch: dict[tuple[int, str, str], Item] = {}

    def _items(self, requests: Sequence[CheckRequest]) -> list[Item | None]:
        ids = list({r.account_id for r in requests})
        with Session(self.sql) as s:
            accounts = {a.id: a for a in s.scalars(
                select(Account).options(selectinload(Account.phones)).where(any_of(Account.id, ids, s))
            )}  # fmt: skip
            campaigns = {c.id: c for c in s.scalars(select(Campaign))}
            out: list[Item | None] = []
            for r in requests:
                account = accounts.get(r.account_id)
                if account is None or r.channel not in ("sms", "whatsapp", "email", "letter"):
                    out.append(None)
                    continue
                campaign = campaigns.get(r.campaign_id) if r.campaign_id is not None else None
                profile = self.compliance.profile_for(campaign, account.country)
                if r.channel == "letter":
                    # The account's own postal address (account_facts): a request naming
                    # another (the address changed since the batch) is judged on the
                    # account's, and the letter goes where the step says only if equal.
                    facts = account_facts(account)
                    if (account.address or "").strip() != r.address.strip():
                        facts = replace(facts, postal_address=None)
                    out.append(Item(facts, None, profile, r.campaign_id, channel="letter",
                                    reach_seconds=REACH_SECONDS))  # fmt: skip
                elif r.channel == "email":
                    out.append(Item(account_facts(account), None, profile, r.campaign_id,
                                    channel="email", email=email_facts(account, r.address),
                                    reach_seconds=REACH_SECONDS))  # fmt: skip
                else:
                    out.append(Item(account_facts(account), phone_facts(account, r.address),
                                    profile, r.campaign_id, channel=r.channel,
                                    reach_seconds=REACH_SECONDS))  # fmt: skip
            return out

    async def check(self, requests: Sequence[CheckRequest], now: datetime) -> list[Verdict]:
        items = await asyncio.to_thread(self._items, requests)
        # Kept for the count at sending (the same batch's messages): no second read.
        self._batch = {(r.account_id, r.channel, r.address): i
                       for r, i in zip(requests, items, strict=True) if i is not None}  # fmt: skip
        known = [i for i in items if i is not None]
        decided = iter(await self.compliance.evaluate_batch(known, now))
        out = []
        for request, item in zip(requests, items, strict=True):
            if item is None:
                refused = Decision(False, (nowhere_reason(request.channel),), "", {}, None,
                                   None, now)  # fmt: skip
                out.append(Verdict(refused))
                continue
            decision = next(decided)
            opens = None
            if decision.reasons and set(decision.reasons) & WINDOW_REASONS:
                opens = self.window_opens(item, now)
            out.append(Verdict(decision, opens))
        return out

    async def count(
        self, request: CheckRequest, attempt_ref: str, now: datetime
    ) -> tuple[str, ...]:
        caps = self.compliance.caps
        if caps is None:
            return ("registry_unavailable",)  # no Redis: nothing can be counted
        # The facts read again at the instant of sending: a stop, a dispute, a consent
        # withdrawn or a payment since the batch's check binds this message too (the
        # batch was written and queued for a sending slot in between).
        [item] = await asyncio.to_thread(self._items, [request])
        if item is None:
            return (nowhere_reason(request.channel),)
        [fresh] = await self.compliance.evaluate_batch([item], now, counters=False)
        counted = {cap.reason for cap in item.profile.caps_for(request.channel)}
        standing = tuple(r for r in fresh.reasons if r not in counted | {"recent_abandon"})
        if standing:
            return standing
        result = await caps.check_and_count(item.account.id, item.profile, now, attempt_ref,
                                            request.channel)  # fmt: skip
        return () if result.allowed else tuple(result.reasons)

    def window_opens(self, item: Item, now: datetime) -> datetime | None:
        """When day, hours and holidays next allow this request (caps and registries
        are checked again then)."""
        rules = self.compliance.rules
        timeless = replace(item.profile, caps=(), registries=(), abandon_cooldown_hours=0)
        plain = CallRequest(item.account, item.phone, timeless, StaticRegistries(),
                            campaign_id=item.campaign_id, channel=item.channel,
                            email=item.email, reach_seconds=item.reach_seconds)  # fmt: skip

        def allowed(at: datetime) -> bool:
            return not set(rules.evaluate(plain, at).reasons) & (
                WINDOW_REASONS | {"timezone_unknown", "country_unknown"}
            )

        return next_opening(allowed, now)
