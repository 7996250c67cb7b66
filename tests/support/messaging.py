"""Attempt rows for the message channels' tests: an account and an attempt on a
channel written as the scheduler writes it (create_attempt), ready to send."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Engine, select

from dialer.attempt_store import create_attempt
from dialer.channels import Attempt
from store.db import transaction
from store.models import Account, CallAttempt, ContactChannel

_refs = itertools.count(1)


def new_account(engine: Engine, country: str = "MX", email: str | None = None) -> int:
    with transaction(engine) as s:
        account = Account(external_ref=f"MSG-{next(_refs):05d}", debtor_name="Deudor Prueba",
                          country=country, balance=Decimal("1500.00"), currency="MXN",
                          status="active", stage="friendly", email=email,
                          email_consent=email is not None)  # fmt: skip
        s.add(account)
        s.flush()
        return int(account.id)


def message_attempt(engine: Engine, channel: ContactChannel, address: str,
                    sender: str = "COBRADOR", account_id: int | None = None) -> Attempt:  # fmt: skip
    """A new attempt row on `channel` to `address` (a phone, or an e-mail kept in details)."""
    account_id = account_id if account_id is not None else new_account(engine)
    phoned = channel in (ContactChannel.sms, ContactChannel.whatsapp)
    attempt_id, _ = create_attempt(engine, channel=channel, account_id=account_id,
                                   phone_e164=address if phoned else None,
                                   address=None if phoned else address,
                                   started_at=datetime.now(UTC))  # fmt: skip
    return Attempt(attempt_id, account_id, channel, address, sender)


def attempt_row(engine: Engine, attempt_id: int) -> CallAttempt:
    with transaction(engine) as s:
        row = s.scalars(select(CallAttempt).where(CallAttempt.id == attempt_id)).one()
        s.expunge(row)
        return row


@dataclass(frozen=True)
class Note:
    """A message as the scheduler hands it to a channel (outreach.channels.Outgoing)."""

    attempt: Attempt
    text: str
    subject: str | None = None
    html: str | None = None
    template: str = "recordatorio"
    stage: str = "friendly"
    params: Mapping[str, str] = field(default_factory=dict)
