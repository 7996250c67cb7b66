"""Recordings in the console: who may hear which, the attempt page's data, the PII-view audit.

Access: auditors and admins see every campaign; a supervisor sees every
campaign unless the user is tied to one (`user add --campaign`), then only
that campaign's recordings; agents never (the routes refuse them first).
A call belongs to its attempt's campaign (the dial loop's, the number dialled in)
and, when it reached an account, to the account's: a supervisor tied to a campaign
sees a call (its page, its recording, its live audio) only when every campaign it
belongs to is theirs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from compliance.debtor_time import debtor_zones
from console.users import CurrentUser
from store.audit import append as audit_append
from store.db import transaction
from store.models import Account, CallAttempt, Campaign, Disposition, Recording, Role, User
from store.recordings.evidence import account_ids, account_subject
from store.recordings.hold import held_by_dispute


def may_see_campaign(user: CurrentUser, campaign_id: int | None) -> bool:
    if user.role in (Role.admin, Role.auditor):
        return True
    if user.role is Role.supervisor:
        return user.campaign_id is None or user.campaign_id == campaign_id
    return False


CallCampaigns = tuple[int | None, ...]


def call_campaigns(
    campaign_id: int | None, account_id: int | None, account_campaign_id: int | None
) -> CallCampaigns:
    """The campaigns one attempt belongs to: its own and, when it reached an account,
    the account's (an inbound call on one campaign's number from a debtor of another
    campaign, or a call that overflowed to another campaign's agents, is both's)."""
    if account_id is None:
        return (campaign_id,)
    return (campaign_id, account_campaign_id)


def may_see_call(user: CurrentUser, campaigns: Iterable[int | None]) -> bool:
    """may_see_campaign for every campaign a call belongs to (call_campaigns)."""
    return all(may_see_campaign(user, c) for c in campaigns)


def attempt_campaigns(engine: Engine, attempt_id: int) -> CallCampaigns | None:
    """call_campaigns of an attempt row (None: no such attempt)."""
    with transaction(engine) as session:
        row = session.execute(
            select(CallAttempt.campaign_id, CallAttempt.account_id, Account.campaign_id)
            .outerjoin(Account, Account.id == CallAttempt.account_id)
            .where(CallAttempt.id == attempt_id)
        ).first()
    return None if row is None else call_campaigns(*row)


@dataclass(frozen=True)
class RecordingRef:
    """What serving one recording needs."""

    id: int
    attempt_id: int
    account_id: int | None  # None: an inbound call not matched to an account
    campaign_id: int | None
    campaigns: CallCampaigns  # call_campaigns: who may hear it
    storage_key: str
    status: str
    size_bytes: int | None
    sha256: str | None
    purged_at: datetime | None

    @property
    def playable(self) -> bool:
        return self.status == "ok" and self.purged_at is None


def load_recording(engine: Engine, recording_id: int) -> RecordingRef | None:
    with transaction(engine) as session:
        row = session.execute(
            select(Recording, CallAttempt.account_id, CallAttempt.campaign_id, Account.campaign_id)
            .join(CallAttempt, CallAttempt.id == Recording.attempt_id)
            .outerjoin(Account, Account.id == CallAttempt.account_id)
            .where(Recording.id == recording_id)
        ).first()
        if row is None:
            return None
        rec, account_id, campaign_id, account_campaign_id = row
        return RecordingRef(rec.id, rec.attempt_id, account_id, campaign_id,
                            call_campaigns(campaign_id, account_id, account_campaign_id),
                            rec.storage_key, rec.status, rec.size_bytes, rec.sha256,
                            rec.purged_at)  # fmt: skip


def attempt_page(engine: Engine, attempt_id: int) -> dict[str, Any] | None:
    """The attempt with its account, agent, disposition and recording (None: no attempt)."""
    with transaction(engine) as session:
        row = session.execute(
            select(CallAttempt, Account, Campaign.name, User.username, Disposition)
            .outerjoin(Account, Account.id == CallAttempt.account_id)
            .outerjoin(Campaign, Campaign.id == CallAttempt.campaign_id)
            .outerjoin(User, User.id == CallAttempt.agent_id)
            .outerjoin(Disposition, Disposition.attempt_id == CallAttempt.id)
            .where(CallAttempt.id == attempt_id)
        ).first()
        if row is None:
            return None
        a, account, campaign, agent, disposition = row
        rec = session.execute(
            select(Recording).where(Recording.attempt_id == attempt_id)
        ).scalar_one_or_none()
        return {
            "id": a.id,
            # The debtor's candidate zones (the account's, else the number's): the page
            # shows its times there, as the account's contact timeline does.
            "zones": debtor_zones(account.timezone, account.country, account.region, a.phone_e164)
            if account
            else debtor_zones(None, "", None, a.phone_e164),
            "account_id": a.account_id,
            "account_ref": account.external_ref if account else "",
            "debtor_name": account.debtor_name if account else "",
            "account_status": account.status if account else "",
            "direction": a.direction,
            "phone": a.phone_e164 or "",
            "campaign_id": a.campaign_id,
            "campaigns": call_campaigns(
                a.campaign_id, a.account_id, account.campaign_id if account else None
            ),
            "campaign": campaign or "",
            "agent": agent or "",
            "started_at": a.started_at,
            "ended_at": a.ended_at,
            "result": a.result or "",
            "channel": a.channel,
            "decision_id": a.decision_id,
            "party": disposition.party if disposition else "",
            "outcome": disposition.outcome if disposition else "",
            "recording": _recording(rec, account.status if account else "") if rec else None,
        }


def _recording(rec: Recording, account_status: str) -> dict[str, Any]:
    return {
        "id": rec.id,
        "status": rec.status,
        "failure_reason": rec.failure_reason or "",
        "duration_s": rec.duration_s,
        "size_bytes": rec.size_bytes,
        "sha256": rec.sha256 or "",
        "started_at": rec.started_at,
        "retention_until": rec.retention_until,
        "legal_hold": rec.legal_hold,
        "hold_reason": rec.hold_reason or "",
        "hold_by": rec.hold_by or "",
        "disputed": held_by_dispute(account_status),
        "purged_at": rec.purged_at,
        "playable": rec.status == "ok" and rec.purged_at is None,
    }


def record_recording_view(
    engine: Engine, user: CurrentUser, ref: RecordingRef, action: str, now: datetime
) -> None:
    """The one PII-view entry of a play or a download: who, when, which recording."""
    with transaction(engine) as session:
        audit_append(
            session,
            "pii_view",
            {"page": f"recording_{action}", "action": action, "recording_id": ref.id,
             "attempt_id": ref.attempt_id, "storage_key": ref.storage_key,
             "sha256": ref.sha256, "account_ids": account_ids(ref.account_id), "rows": 1},
            actor=user.actor, subject=account_subject(ref.account_id), now=now,
        )  # fmt: skip


def record_attempt_view(engine: Engine, user: CurrentUser, page: dict[str, Any]) -> None:
    """The attempt page shows a debtor's data: a pii_view like the auditor's other pages."""
    with transaction(engine) as session:
        audit_append(
            session,
            "pii_view",
            {"page": "attempt", "filters": {"attempt_id": str(page["id"])},
             "account_ids": account_ids(page["account_id"]), "rows": 1},
            actor=user.actor, subject=account_subject(page["account_id"]),
        )  # fmt: skip
