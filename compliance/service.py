"""The thin I/O layer around the pure engine: load facts from SQL, registries and
counters from Redis (batched), evaluate, and persist Decision rows + audit entries.

Every channel goes through here (docs/channels.md): `load_item` builds the request
for (account, channel, address), `evaluate_batch` decides many without counting,
`final_check` decides one at the instant of placing, counts it atomically with the
caps and records the decision and its audit entry."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import redis
import redis.asyncio as aioredis
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.caps import AccountHistory, CapStore, HistoryUnavailable
from compliance.engine import (
    AccountFacts,
    CallRequest,
    CounterSnapshot,
    Decision,
    EmailFacts,
    Engine,
    PhoneFacts,
)
from compliance.jurisdiction import debtor_profile
from compliance.ledger import load_history
from compliance.profile import PHONE_CHANNELS, Profile, load_profiles
from compliance.registry import RegistryReader, prefetch
from compliance.registry_sync import RegistrySync
from compliance.same_debtor import SameDebtor
from store import audit
from store.db import transaction
from store.models import CONTACT_CHANNELS, Account, Campaign
from store.models import Decision as DecisionRow

log = logging.getLogger(__name__)

# The channels whose decision names an address that is not a number: the e-mail, the
# postal address a letter goes to. Bounded to the `decisions.address` column (an
# account's postal address is at most 300 characters: store/importing/account_rows.py).
ADDRESS_CHANNELS = frozenset({"email", "letter"})
DECISION_ADDRESS_MAX = 320


def channel_set(text: str | None) -> frozenset[str]:
    """A stored channel list ("call,sms") as a set; unknown names are dropped."""
    return frozenset(c for c in (text or "").split(",") if c in CONTACT_CHANNELS)


def account_facts(account: Account) -> AccountFacts:
    return AccountFacts(
        id=account.id,
        status=account.status,
        stage=account.stage,
        balance=account.balance,
        country=account.country,
        region=account.region,
        timezone=account.timezone,
        visit_authorisation_ref=account.visit_authorisation_ref,
        opted_out=channel_set(account.opted_out),
        numbers=tuple(phone.number_e164 for phone in account.phones),
        protection=account.protection,
        postal_address=account.address,
    )


def phone_facts(account: Account, e164: str) -> PhoneFacts:
    """The account's phone with this number; a number the creditor was not given is a third party."""
    for phone in account.phones:
        if phone.number_e164 == e164:
            return PhoneFacts(
                e164=phone.number_e164,
                phone_type=phone.phone_type,
                status=phone.status,
                consent=phone.consent,
                consent_ref=phone.consent_ref,
                channels=channel_set(phone.channels) or frozenset({"call"}),
                opted_out=channel_set(phone.opted_out),
                owner_confirmed=bool((phone.owner_confirmed_ref or "").strip()),
            )
    return PhoneFacts(e164=e164, phone_type="not_on_account", consent=False)


def email_facts(account: Account, address: str | None = None) -> EmailFacts:
    """The account's e-mail address (or `address`, compared without case): an address
    the creditor was not given is a third party's."""
    own = account.email or ""
    wanted = own if address is None else address.strip()
    if not wanted:
        return EmailFacts(address="")  # the account has none
    if not own or wanted.lower() != own.lower():
        return EmailFacts(address=wanted, on_account=False)
    return EmailFacts(
        address=own,
        status=account.email_status,
        consent=account.email_consent,
        consent_ref=account.email_consent_ref,
        opted_out="email" in channel_set(account.opted_out),
    )


@dataclass(frozen=True)
class Item:
    """One request of a batch: facts plus the profile the campaign runs.

    `phone` is the number for call, sms and whatsapp; `email` the address for e-mail;
    a visit needs neither (it goes to the account's address)."""

    account: AccountFacts
    phone: PhoneFacts | None
    profile: Profile
    campaign_id: int | None = None
    channel: str = "call"
    email: EmailFacts | None = None
    # How long after the check the contact may still reach the debtor (engine.CallRequest).
    reach_seconds: float = 0.0

    @property
    def phone_e164(self) -> str | None:
        return (
            self.phone.e164 if self.phone is not None and self.channel in PHONE_CHANNELS else None
        )

    @property
    def address(self) -> str | None:
        """What the decision names as the address: the number, the e-mail, the postal
        address a letter goes to (the account's, as the check saw it), or none."""
        if self.channel == "email":
            return self.email.address if self.email is not None else None
        if self.channel == "letter":
            return (self.account.postal_address or "").strip() or None
        return self.phone_e164

    @property
    def decision_address(self) -> str | None:
        """The address a decision row keeps (`decisions.address`: not a number), bounded
        to the column; the audit entry's payload carries the same."""
        if self.channel not in ADDRESS_CHANNELS:
            return None
        return (self.address or "")[:DECISION_ADDRESS_MAX] or None


class ComplianceService:
    """Evaluates (batched) and records decisions; one per process."""

    def __init__(
        self,
        sql: SqlEngine,
        redis_client: aioredis.Redis | None,
        profiles: Mapping[str, Profile] | None = None,
        rules: Engine | None = None,
    ) -> None:
        self.sql = sql
        self.redis = redis_client
        self.profiles = dict(profiles) if profiles is not None else load_profiles()
        self.rules = rules or Engine()
        self.registries = RegistryReader(redis_client) if redis_client is not None else None
        # Reloads a registry Redis lost (or holds another version of) from SQL.
        self.registry_sync = RegistrySync(sql, redis_client) if redis_client is not None else None
        # The debtor's other accounts (a number they share): one person, one set of caps.
        self.same_debtor = SameDebtor(sql)
        self.caps = (
            CapStore(redis_client, self._load_history, linked=self.same_debtor.accounts_of)
            if redis_client is not None
            else None
        )

    async def _load_history(
        self, account_ids: Sequence[int], since: datetime
    ) -> dict[int, AccountHistory]:
        return await asyncio.to_thread(load_history, self.sql, account_ids, since)

    def profile_for(self, campaign: Campaign | None, country: str) -> Profile:
        """The profile for a debtor of `country` (compliance.jurisdiction.debtor_profile):
        the campaign's, tightened by its overrides, only when it is of that country."""
        if campaign is None:
            return debtor_profile(self.profiles, country)
        return debtor_profile(
            self.profiles,
            country,
            campaign_profile=campaign.profile,
            campaign_overrides=(campaign.config or {}).get("compliance"),
            campaign_name=campaign.name,
        )

    async def evaluate_batch(
        self, items: Sequence[Item], now: datetime, *, counters: bool = True
    ) -> list[Decision]:
        """Evaluate many requests with one registry call per registry and one counter batch.
        counters=False: the caps are not read (each one then fails): for a caller that
        asks only about the rules that stand whatever the counts (compliance/standing.py)."""
        if not items:
            return []
        numbers = [item.phone_e164 for item in items if item.phone_e164]
        names = {rule.name for item in items for rule in item.profile.registries}
        registries = await prefetch(self.registries, sorted(names), numbers)
        if self.registry_sync is not None:
            for name in names:
                # Not in Redis (restart, flush, lost server): blocked now, reloaded from SQL.
                if name not in registries.failed and registries.versions.get(name) is None:
                    self.registry_sync.request(name)
        account_ids = list(dict.fromkeys(item.account.id for item in items))
        # The debtor's other accounts (a number they share): their counters count with
        # these, and a protected person on one is the same person on the others.
        # A protection passes only between accounts that are one person on the evidence;
        # the caps count the wider set (compliance/debtor_accounts.py `may_be_own`).
        shared = await self.same_debtor.linked({i.account.id: i.account.numbers for i in items})
        items = _with_inherited_protection(
            items,
            await self.same_debtor.inherited_protections(shared.person if shared else None),
        )
        marked = await self.same_debtor.third_party_numbers(
            sorted({i.phone_e164 for i in items if i.phone_e164})
        )
        items = _with_marked_numbers(items, marked)
        snapshots: Mapping[int, CounterSnapshot]
        if self.caps is None or now.tzinfo is None or not counters:
            snapshots = {a: CounterSnapshot(available=False) for a in account_ids}
        else:
            snapshots = await self.caps.snapshot(account_ids, now)
            messages = list(dict.fromkeys(i.account.id for i in items if i.channel != "call"))
            if messages:
                # A batch of messages (the outreach scheduler) sees every channel's
                # attempts, even those another process wrote only to SQL: one query.
                try:
                    await self.caps.merge_from_sql(messages, now)
                    snapshots = {**snapshots, **await self.caps.snapshot(messages, now)}
                except (HistoryUnavailable, redis.RedisError, OSError):
                    log.warning("counters of %d accounts not synced; blocking", len(messages))
                    snapshots = {**snapshots,
                                 **{a: CounterSnapshot(available=False) for a in messages}}  # fmt: skip
            snapshots = await self.same_debtor.merged_counters(
                self.caps, shared.caps if shared else None, snapshots, now
            )
        return [
            self.rules.evaluate(
                CallRequest(
                    account=item.account,
                    phone=item.phone,
                    profile=item.profile,
                    registries=registries,
                    counters=snapshots[item.account.id],
                    campaign_id=item.campaign_id,
                    channel=item.channel,
                    email=item.email,
                    reach_seconds=item.reach_seconds,
                ),
                now,
            )
            for item in items
        ]

    def record(
        self,
        session: Session,
        items: Sequence[Item],
        decisions: Sequence[Decision],
        stage: str,
        actor: str = "system",
    ) -> list[DecisionRow]:
        """Persist decisions and their audit entries in the caller's transaction."""
        rows = []
        for item, decision in zip(items, decisions, strict=True):
            row = DecisionRow(
                account_id=item.account.id,
                phone_e164=item.phone_e164,
                channel=item.channel,
                address=item.decision_address,
                campaign_id=item.campaign_id,
                stage=stage,
                allowed=decision.allowed,
                reasons=list(decision.reasons),
                profile_version=decision.profile_version,
                registry_versions=dict(decision.registry_versions),
                local_time=decision.local_time,
                timezone=(decision.timezone or "")[:200] or None,
                **({"evaluated_at": decision.evaluated_at} if decision.evaluated_at else {}),
            )
            session.add(row)
            rows.append(row)
        session.flush()
        audit.append_many(
            session,
            (
                audit.NewEntry(
                    "decision",
                    {
                        "decision_id": row.id,
                        "stage": stage,
                        "account_id": item.account.id,
                        "phone": item.phone_e164,
                        **(
                            {"address": item.decision_address}
                            if item.channel in ADDRESS_CHANNELS
                            else {}
                        ),  # fmt: skip
                        "campaign_id": item.campaign_id,
                        **decision.as_dict(),
                    },
                    actor=actor,
                    subject=f"account:{item.account.id}",
                )
                for item, decision, row in zip(items, decisions, rows, strict=True)
            ),
        )
        return rows

    async def evaluate_and_record(
        self, items: Sequence[Item], now: datetime, stage: str, actor: str = "system"
    ) -> list[tuple[Decision, int]]:
        decisions = await self.evaluate_batch(items, now)

        def _write() -> list[int]:
            with transaction(self.sql) as session:
                return [r.id for r in self.record(session, items, decisions, stage, actor)]

        ids = await asyncio.to_thread(_write)
        return list(zip(decisions, ids, strict=True))

    async def final_check(
        self, item: Item, now: datetime, attempt_ref: str, stage: str = "send",
        actor: str = "system",
    ) -> tuple[Decision, int]:  # fmt: skip
        """The check at the instant of placing a contact on any channel: the rules, then
        every cap of the channel checked and this attempt counted atomically (two
        senders can never both pass one cap), then the decision row and its audit
        entry, whatever the answer. `attempt_ref` is "a:<attempt id>" of the attempt
        row the caller wrote first. Returns the decision and its row id; send only
        when `decision.allowed`. Without Redis nothing can be counted: blocked."""
        decision = (await self.evaluate_batch([item], now))[0]
        if decision.allowed and self.caps is not None:
            caps = await self.caps.check_and_count(
                item.account.id, item.profile, now, attempt_ref, item.channel
            )
            if not caps.allowed:
                decision = replace(decision, allowed=False, reasons=tuple(caps.reasons))
        elif self.caps is None:
            decision = replace(decision, allowed=False, reasons=("registry_unavailable",))

        def _write() -> int:
            with transaction(self.sql) as session:
                return int(self.record(session, [item], [decision], stage, actor)[0].id)

        return decision, await asyncio.to_thread(_write)

    def load_item(
        self,
        session: Session,
        *,
        account_ref: str | None = None,
        account_id: int | None = None,
        phone_e164: str | None = None,
        campaign_name: str | None = None,
        channel: str = "call",
        address: str | None = None,
    ) -> Item:
        """Facts for one request from SQL. `channel` is one of the contact channels;
        its address is `phone_e164` (call, sms, whatsapp: required), `address` (e-mail:
        the account's own when None) or none (visit). LookupError names a missing
        account or campaign; ValueError an unknown channel or a missing number."""
        if channel not in CONTACT_CHANNELS:
            raise ValueError(f"unknown channel {channel!r}; known: {', '.join(CONTACT_CHANNELS)}")
        if channel in PHONE_CHANNELS and not phone_e164:
            raise ValueError(f"a {channel} check needs the phone number")
        query = select(Account)
        if account_id is not None:
            query = query.where(Account.id == account_id)
        else:
            query = query.where(Account.external_ref == account_ref)
        account = session.execute(query).scalar_one_or_none()
        if account is None:
            raise LookupError(f"no account {account_ref if account_id is None else account_id!r}")
        campaign = None
        if campaign_name:
            campaign = session.execute(
                select(Campaign).where(Campaign.name == campaign_name)
            ).scalar_one_or_none()
            if campaign is None:
                raise LookupError(f"no campaign named {campaign_name!r}")
        elif account.campaign_id is not None:
            campaign = session.get(Campaign, account.campaign_id)
        profile = self.profile_for(campaign, account.country)
        return Item(
            account=account_facts(account),
            phone=phone_facts(account, phone_e164) if phone_e164 else None,
            profile=profile,
            campaign_id=campaign.id if campaign else None,
            channel=channel,
            email=email_facts(account, address) if channel == "email" else None,
        )


def _with_inherited_protection(
    items: Sequence[Item], inherited: Mapping[int, str]
) -> Sequence[Item]:
    """An account without a protection of its own takes the one a linked account passes
    on (compliance/same_debtor.py): the person's, whichever debt the creditor marked."""
    if not inherited:
        return items
    return [
        replace(item, account=replace(item.account, protection=inherited[item.account.id]))
        if item.account.id in inherited and not (item.account.protection or "").strip()
        else item
        for item in items
    ]


def _with_marked_numbers(items: Sequence[Item], marked: frozenset[str] | None) -> Sequence[Item]:
    """A number another account marks as a third party's (compliance/same_debtor.py) is
    one here too: the same person answers it, whichever of her son's debts calls. Unless
    this account's number is confirmed as its own debtor's (the mother's own loan, with
    evidence: `owner_confirmed`): a mark says the number is not THAT account's debtor's,
    and contacting a debtor about their own debt is allowed. Unsure (no confirmation):
    the mark binds. None: the marks are unreadable, every active number not confirmed
    is treated as marked (fail closed)."""
    if marked is not None and not marked:
        return items
    out = []
    for item in items:
        phone = item.phone
        if (phone is not None and item.phone_e164 and phone.status == "active"
                and not phone.owner_confirmed
                and (marked is None or phone.e164 in marked)):  # fmt: skip
            item = replace(item, phone=replace(phone, status="third_party"))
        out.append(item)
    return out
