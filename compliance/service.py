"""The thin I/O layer around the pure engine: load facts from SQL, registries and
counters from Redis (batched), evaluate, and persist Decision rows + audit entries."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import redis.asyncio as aioredis
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.caps import AccountHistory, CapStore
from compliance.engine import (
    AccountFacts,
    CallRequest,
    CounterSnapshot,
    Decision,
    Engine,
    PhoneFacts,
)
from compliance.jurisdiction import debtor_profile
from compliance.ledger import load_history
from compliance.profile import Profile, load_profiles
from compliance.registry import RegistryReader, prefetch
from compliance.registry_sync import RegistrySync
from store import audit
from store.db import transaction
from store.models import Account, Campaign
from store.models import Decision as DecisionRow


def account_facts(account: Account) -> AccountFacts:
    return AccountFacts(
        id=account.id,
        status=account.status,
        stage=account.stage,
        balance=account.balance,
        country=account.country,
        region=account.region,
        timezone=account.timezone,
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
            )
    return PhoneFacts(e164=e164, phone_type="not_on_account", consent=False)


@dataclass(frozen=True)
class Item:
    """One request of a batch: facts plus the profile the campaign runs."""

    account: AccountFacts
    phone: PhoneFacts
    profile: Profile
    campaign_id: int | None = None


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
        self.caps = CapStore(redis_client, self._load_history) if redis_client is not None else None

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

    async def evaluate_batch(self, items: Sequence[Item], now: datetime) -> list[Decision]:
        """Evaluate many requests with one registry call per registry and one counter batch."""
        if not items:
            return []
        numbers = [item.phone.e164 for item in items]
        names = {rule.name for item in items for rule in item.profile.registries}
        registries = await prefetch(self.registries, sorted(names), numbers)
        if self.registry_sync is not None:
            for name in names:
                # Not in Redis (restart, flush, lost server): blocked now, reloaded from SQL.
                if name not in registries.failed and registries.versions.get(name) is None:
                    self.registry_sync.request(name)
        account_ids = list(dict.fromkeys(item.account.id for item in items))
        counters: Mapping[int, CounterSnapshot]
        if self.caps is None or now.tzinfo is None:
            counters = {a: CounterSnapshot(available=False) for a in account_ids}
        else:
            counters = await self.caps.snapshot(account_ids, now)
        return [
            self.rules.evaluate(
                CallRequest(
                    account=item.account,
                    phone=item.phone,
                    profile=item.profile,
                    registries=registries,
                    counters=counters[item.account.id],
                    campaign_id=item.campaign_id,
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
                phone_e164=item.phone.e164,
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
                        "phone": item.phone.e164,
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

    def load_item(
        self,
        session: Session,
        *,
        account_ref: str | None = None,
        account_id: int | None = None,
        phone_e164: str,
        campaign_name: str | None = None,
    ) -> Item:
        """Facts for one request from SQL; LookupError names a missing account or campaign."""
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
            phone=phone_facts(account, phone_e164),
            profile=profile,
            campaign_id=campaign.id if campaign else None,
        )
