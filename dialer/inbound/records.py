"""What inbound calls read and write in SQL: the DID's campaign, the accounts of
the caller's number, the inbound attempt row, its evidence and the after-hours
callback request. Synchronous; the FastAGI handler runs it in a thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update

from cobrador.ground.masking import mask_phone
from dialer.inbound.ani import AniStatus, normalise_ani
from dialer.inbound.settings import InboundSettingsError, inbound_settings
from store import audit, number_validity
from store.db import transaction
from store.models import Account, CallAttempt, Callback, Campaign, Phone, matchable_phone

MAX_MATCHES = 20  # a number shared by more accounts than this is a search, not a list


@dataclass(frozen=True)
class CampaignRef:
    id: int
    name: str
    country: str
    profile: str
    caller_ids: list[str]
    config: dict[str, Any]


@dataclass(frozen=True)
class AccountMatch:
    account_id: int
    phone_id: int
    campaign_id: int | None
    country: str
    region: str | None
    timezone: str | None


def campaign_for_did(sql: Engine, did: str) -> CampaignRef | None:
    """The campaign whose caller IDs or inbound DIDs include the dialed number."""
    with transaction(sql) as s:
        campaigns = list(s.scalars(select(Campaign).order_by(Campaign.id)))
        for c in campaigns:
            inbound = (c.config or {}).get("inbound") or {}
            dids = [*(c.caller_ids or []), *(inbound.get("dids") or [])]
            if _same_number(did, dids, c.country):
                return CampaignRef(c.id, c.name, c.country, c.profile, list(c.caller_ids or []),
                                   dict(c.config or {}))  # fmt: skip
    return None


def _same_number(did: str, numbers: Sequence[str], country: str) -> bool:
    wanted = normalise_ani(did, country)
    digits = did.lstrip("+")
    for number in numbers:
        if str(number).lstrip("+") == digits and digits:
            return True
        other = normalise_ani(str(number), country)
        if wanted.e164 is not None and other.e164 == wanted.e164:
            return True
    return False


def accounts_for_number(sql: Engine, e164: str) -> list[AccountMatch]:
    """Every account with this phone (through the phones' number index), oldest first.

    A number marked as someone else's (wrong_number, third_party) matches nobody."""
    with transaction(sql) as s:
        rows = s.execute(
            select(Phone.id, Account.id, Account.campaign_id, Account.country, Account.region,
                   Account.timezone)
            .join(Account, Account.id == Phone.account_id)
            .where(Phone.number_e164 == e164, matchable_phone(e164))
            .order_by(Account.id)
            .limit(MAX_MATCHES + 1)
        ).all()  # fmt: skip
    return [AccountMatch(account_id=a, phone_id=p, campaign_id=c, country=co, region=r, timezone=tz)
            for p, a, c, co, r, tz in rows]  # fmt: skip


def open_attempt(sql: Engine, *, campaign_id: int | None, account_id: int | None,
                 phone_id: int | None, ani: str, ani_status: AniStatus, did: str,
                 started_at: datetime, uniqueid: str, matches: int) -> int:  # fmt: skip
    """The inbound call's attempt row and its evidence (the number masked)."""
    with transaction(sql) as s:
        row = CallAttempt(account_id=account_id, phone_id=phone_id, phone_e164=ani or "",
                          campaign_id=campaign_id, direction="inbound", source="inbound",
                          caller_id=did[:20] or None, started_at=started_at,
                          answered_at=started_at, uniqueid=uniqueid[:64] or None)  # fmt: skip
        s.add(row)
        s.flush()
        audit.append(
            s, "inbound_call",
            {"attempt_id": row.id, "campaign_id": campaign_id, "did": did,
             "ani": mask_phone(ani) if ani else "", "ani_status": ani_status.value,
             "matches": matches, "account_id": account_id},
            actor="dialer", subject=f"account:{account_id}" if account_id else f"attempt:{row.id}",
        )  # fmt: skip
        return int(row.id)


def close_attempt(sql: Engine, attempt_id: int, *, result: str, ended_at: datetime,
                  agent_id: int | None = None, bridged_at: datetime | None = None,
                  waited: float = 0.0) -> None:  # fmt: skip
    with transaction(sql) as s:
        values: dict[str, Any] = {"result": result, "ended_at": ended_at}
        if agent_id is not None:
            values["agent_id"] = agent_id
        if bridged_at is not None:
            values["bridged_at"] = bridged_at
        s.execute(update(CallAttempt).where(CallAttempt.id == attempt_id).values(**values))
        account_id = s.scalar(select(CallAttempt.account_id).where(CallAttempt.id == attempt_id))
        phone_id = number_validity.phone_of_attempt(s, attempt_id) if account_id else None
        if phone_id is not None:
            # The debtor called from the number: it exists. One the carrier had twice
            # said does not exist is active again (store/number_validity.py), audited.
            number_validity.after_result(s, phone_id, result, actor="dialer", now=ended_at,
                                         source="inbound")  # fmt: skip
        audit.append(
            s, "inbound_end",
            {"attempt_id": attempt_id, "result": result, "agent_id": agent_id,
             "waited_seconds": round(waited, 3)},
            actor="dialer", subject=f"account:{account_id}" if account_id else f"attempt:{attempt_id}",
        )  # fmt: skip


def mark_queued(sql: Engine, attempt_id: int, at: datetime) -> None:
    """The caller entered the queue (the greeting played): the wait counts from here."""
    with transaction(sql) as s:
        s.execute(update(CallAttempt).where(CallAttempt.id == attempt_id).values(queued_at=at))


def mark_bridged(sql: Engine, attempt_id: int, agent_id: int, at: datetime) -> None:
    with transaction(sql) as s:
        s.execute(update(CallAttempt).where(CallAttempt.id == attempt_id)
                  .values(agent_id=agent_id, bridged_at=at))  # fmt: skip


def request_callback(sql: Engine, *, attempt_id: int, match: AccountMatch, campaign_id: int,
                     due_at: datetime | None, now: datetime) -> int | None:  # fmt: skip
    """An after-hours caller's callback request: a pending Callback (the refill puts it
    in the hopper once due). Without a due time the request is only evidence."""
    with transaction(sql) as s:
        callback_id = None
        if due_at is not None:
            row = Callback(account_id=match.account_id, phone_id=match.phone_id,
                           campaign_id=campaign_id, agent_id=None, created_by=None,
                           due_at=due_at, created_at=now)  # fmt: skip
            s.add(row)
            s.flush()
            callback_id = int(row.id)
        audit.append(
            s, "inbound_callback_request",
            {"attempt_id": attempt_id, "account_id": match.account_id, "callback_id": callback_id,
             "due_at": due_at.isoformat() if due_at else None,
             "reason": "after_hours" if due_at else "no_time_inside_calling_window"},
            actor="dialer", subject=f"account:{match.account_id}",
        )  # fmt: skip
        return callback_id


def record_unmatched_callback(sql: Engine, *, attempt_id: int, ani: str) -> None:
    """After hours from a number that matches no account: kept as evidence for a person
    to follow up (no account, so nothing for the hopper)."""
    with transaction(sql) as s:
        audit.append(
            s, "inbound_callback_request",
            {"attempt_id": attempt_id, "account_id": None, "callback_id": None,
             "ani": mask_phone(ani) if ani else "", "reason": "no_account_for_number"},
            actor="dialer", subject=f"attempt:{attempt_id}",
        )  # fmt: skip


@dataclass(frozen=True)
class LostCall:
    attempt_id: int
    agent_id: int | None  # the agent it was bridged to, if it got that far


def close_lost(sql: Engine, attempt_id: int, *, ended_at: datetime, waited: float | None,
               reason: str, dead_dialer: str | None, actor: str) -> LostCall | None:  # fmt: skip
    """Close an inbound attempt whose dialer died (result `lost`), only if it is
    still open: a close the live call wrote first wins. None if it was closed."""
    with transaction(sql) as s:
        closed = s.execute(
            update(CallAttempt).where(CallAttempt.id == attempt_id, CallAttempt.result.is_(None))
            .values(result="lost", ended_at=ended_at)
        ).rowcount  # type: ignore[attr-defined]  # fmt: skip
        if not closed:
            return None
        account_id, agent_id = s.execute(
            select(CallAttempt.account_id, CallAttempt.agent_id).where(CallAttempt.id == attempt_id)
        ).one()  # fmt: skip
        audit.append(
            s, "inbound_end",
            {"attempt_id": attempt_id, "result": "lost", "reason": reason, "agent_id": agent_id,
             "waited_seconds": round(waited, 3) if waited is not None else None,
             "dead_dialer": dead_dialer},
            actor=actor, subject=f"account:{account_id}" if account_id else f"attempt:{attempt_id}",
        )  # fmt: skip
        return LostCall(attempt_id, agent_id)


def stale_open_attempts(sql: Engine, before: datetime, skip: set[int]) -> list[int]:
    """Open inbound attempts started before `before` that no dialer names (not in `skip`):
    a dialer died between writing the attempt and naming itself in Redis."""
    with transaction(sql) as s:
        ids = s.scalars(
            select(CallAttempt.id).where(CallAttempt.direction == "inbound",
                                         CallAttempt.result.is_(None),
                                         CallAttempt.started_at < before)
        )  # fmt: skip
        return [int(i) for i in ids if int(i) not in skip]


@dataclass(frozen=True)
class InboundCampaign:
    name: str
    service_level_seconds: float
    skill_group: str | None = None
    overflow_after_seconds: float = 60.0


def inbound_campaigns(sql: Engine) -> list[InboundCampaign]:
    """Campaigns that can take inbound calls: a caller ID or a DID, usable settings."""
    out = []
    with transaction(sql) as s:
        for c in s.scalars(select(Campaign).order_by(Campaign.id)):
            try:
                settings = inbound_settings(c.config, c.country, list(c.caller_ids or []))
            except InboundSettingsError:
                continue
            if settings.dids:
                out.append(InboundCampaign(c.name, settings.service_level_seconds,
                                           settings.skill_group, settings.overflow_after_seconds))  # fmt: skip
    return out
