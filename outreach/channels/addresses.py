"""What a provider's word that an address cannot be reached does to the account: a
permanent e-mail bounce marks the account's e-mail `bounced` (the compliance check
sends nothing more to it until someone corrects it); every such report is audited."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import Engine

from outreach.channels import BadAddress, OnBadAddress
from store import audit
from store.db import transaction
from store.models import Account, ContactChannel

log = logging.getLogger(__name__)

BOUNCED = "bounced"


def mark_bad_address(engine: Engine, bad: BadAddress) -> bool:
    """True when the account's e-mail was marked bounced (it was that address, active)."""
    with transaction(engine) as s:
        marked = False
        account = s.get(Account, bad.account_id) if bad.account_id is not None else None
        if (bad.channel == ContactChannel.email and account is not None and account.email
                and account.email.lower() == bad.address.lower()
                and account.email_status == "active"):  # fmt: skip
            account.email_status = BOUNCED
            marked = True
        audit.append(s, "address_invalid", {
            "account_id": bad.account_id, "attempt_id": bad.attempt_id,
            "channel": bad.channel.value, "reason": bad.reason[:300],
            "email_status": BOUNCED if marked else None,
        }, actor="outreach", subject=f"account:{bad.account_id}")  # fmt: skip
        return marked


def address_marker(engine: Engine) -> OnBadAddress:
    async def mark(bad: BadAddress) -> None:
        if await asyncio.to_thread(mark_bad_address, engine, bad):
            log.info("account %s: e-mail marked bounced (%s)", bad.account_id, bad.reason)

    return mark
