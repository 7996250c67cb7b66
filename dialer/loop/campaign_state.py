"""The campaign as its loop knows it: status, dial mode and pacing policy, registered
caller IDs, the registries its profile checks; reloaded from SQL (the truth) or
changed by a console command."""

from __future__ import annotations

import asyncio
from typing import Any

from compliance.caller_ids import check_campaign
from dialer import attempt_store as store
from dialer.loop.context import LoopContext
from dialer.pacing.policies import Policy, make_policy
from metrics import definitions as m


def amd_false_positive_ratio(config: dict[str, Any] | None) -> float:
    """The campaign's reasoned estimate of the share of AMD 'machine' drops that were
    persons (config `amd_false_positive_ratio`, 0..1). Unset or unreadable: 1, every
    machine drop counts as an abandoned person (the conservative reading)."""
    raw = (config or {}).get("amd_false_positive_ratio")
    try:
        value = float(str(raw))
    except ValueError:
        return 1.0
    return value if 0.0 <= value <= 1.0 else 1.0


def policy_for(mode: str) -> Policy:
    return make_policy("predictive" if mode == "predictive" else "progressive")


class CampaignState:
    def __init__(self, ctx: LoopContext, policy: Policy | None) -> None:
        self.ctx = ctx
        self.policy = policy or policy_for(ctx.campaign.dial_mode)
        self.false_positive_ratio = amd_false_positive_ratio(ctx.campaign.config)

    def changed(self, status: str, mode: str) -> None:
        """A console command: the new status and mode, at once."""
        campaign = self.ctx.campaign
        campaign.status = status
        if mode != campaign.dial_mode:  # a new policy forgets what it learned
            campaign.dial_mode = mode
            self.policy = policy_for(mode)

    async def reload(self) -> None:
        """Status and mode as the console or the CLI last set them (SQL is the truth)."""
        ctx = self.ctx
        campaign = ctx.campaign
        fresh = await asyncio.to_thread(store.load_campaign, ctx.sql, ctx.name)
        if fresh is None:
            campaign.status = "stopped"
            return
        if fresh.dial_mode != campaign.dial_mode:
            self.policy = policy_for(fresh.dial_mode)
        campaign.status, campaign.dial_mode = fresh.status, fresh.dial_mode
        campaign.abandon_target = fresh.abandon_target
        self.false_positive_ratio = amd_false_positive_ratio(fresh.config)
        campaign.caller_ids = list(fresh.caller_ids or [])
        known = await asyncio.to_thread(store.registered_caller_ids, ctx.sql, campaign.country)
        ctx.caller_ids = check_campaign(campaign.caller_ids, known, campaign.country)

    def registry_names(self) -> list[str]:
        campaign = self.ctx.campaign
        profile = self.ctx.compliance.profile_for(campaign, campaign.country)
        return [rule.name for rule in profile.registries]

    def registries_reloading(self) -> list[str]:
        """Registries being reloaded into Redis from SQL: every call they cover waits."""
        sync = self.ctx.compliance.registry_sync
        if sync is None:
            return []
        return sorted(set(self.registry_names()) & sync.reloading)

    async def registry_metrics(self) -> None:
        """Age of each registry the campaign's profile checks, for the stale alert."""
        ctx = self.ctx
        campaign = ctx.campaign
        profile = ctx.compliance.profile_for(campaign, campaign.country)
        rows = await asyncio.to_thread(store.latest_registry_imports, ctx.sql,
                                       [r.name for r in profile.registries])  # fmt: skip
        for rule in profile.registries:
            labels = {"country": campaign.country, "registry": rule.name}
            m.REGISTRY_MAX_AGE.labels(**labels).set(rule.max_age_days * 86400)
            row = rows.get(rule.name)
            if row is not None:
                m.REGISTRY_AGE.mark(row.imported_at.timestamp(), **labels)
                m.REGISTRY_ENTRIES.labels(**labels).set(row.count)
