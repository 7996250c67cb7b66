"""A debtor's "BAJA"/"STOP" reply, recorded: the channel it came on is added to the
opted-out channels of that number (or of the account's e-mail), durably in SQL with an
audit entry holding the evidence (the reply, its time, the provider's id), before the
gateway is told the reply was taken. The final check reads it (`opted_out`), so the
next message on that channel to that address is refused at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from compliance.service import channel_set
from outreach.channels import OptOut, Reply
from store import audit
from store.db import transaction
from store.models import Account, Phone


def _joined(current: str | None, channel: str) -> str:
    return ",".join(sorted(channel_set(current) | {channel}))


def record_opt_out(sql: Engine, reply: Reply, now: datetime) -> int:
    """Marks every number (or e-mail address) equal to the reply's sender, on the
    account the reply answers or else on every account holding it; returns how many."""
    channel = reply.channel.value
    changed = 0
    with transaction(sql) as s:
        if channel == "email":
            query = select(Account).where(Account.email == reply.address)
            if reply.account_id is not None:
                query = query.where(Account.id == reply.account_id)
            for account in s.scalars(query):
                before = account.opted_out or ""
                account.opted_out = _joined(before, channel)
                changed += 1
                _evidence(s, reply, account.id, before, account.opted_out, now)
        else:
            phones = select(Phone).where(Phone.number_e164 == reply.address)
            if reply.account_id is not None:
                phones = phones.where(Phone.account_id == reply.account_id)
            for phone in s.scalars(phones):
                before = phone.opted_out or ""
                phone.opted_out = _joined(before, channel)
                changed += 1
                _evidence(s, reply, phone.account_id, before, phone.opted_out, now)
    return changed


def _evidence(s: Session, reply: Reply, account_id: int, before: str, after: str,
              now: datetime) -> None:  # fmt: skip
    audit.append(s, "consent_change", {
        "account_id": account_id, "channel": reply.channel.value, "address": reply.address,
        "opted_out_before": before, "opted_out": after, "source": "reply",
        "reply_text": reply.text[:160], "reply_at": reply.at, "provider_id": reply.provider_id,
        "attempt_id": reply.attempt_id, "recorded_at": now,
    }, actor=f"debtor:{reply.channel.value}", subject=f"account:{account_id}")  # fmt: skip


def opt_out_recorder(sql: Engine) -> OptOut:
    """The OptOut function the message channels are given."""

    async def opt_out(reply: Reply) -> None:
        now = datetime.now(UTC)
        await asyncio.to_thread(record_opt_out, sql, reply, now)

    return opt_out
