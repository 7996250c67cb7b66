"""A provider's word that an address cannot be reached: the account's e-mail is marked
bounced only when it is that very address and still active; anything else is only
audited."""

from __future__ import annotations

from sqlalchemy import Engine, select
from support.messaging import new_account

from outreach.channels import BadAddress
from outreach.channels.addresses import mark_bad_address
from store.db import transaction
from store.models import Account, AuditEntry, ContactChannel


def email_status(engine: Engine, account_id: int) -> str:
    with transaction(engine) as s:
        account = s.get(Account, account_id)
        assert account is not None
        return account.email_status


def test_given_a_permanent_bounce_of_the_accounts_email_then_bounced(engine: Engine) -> None:
    account = new_account(engine, email="Deudor@Correo.example")
    bad = BadAddress(ContactChannel.email, "deudor@correo.example", account, 7, "5.1.1 unknown")
    assert mark_bad_address(engine, bad) is True
    assert email_status(engine, account) == "bounced"
    assert mark_bad_address(engine, bad) is False  # already bounced: audited again, no change


def test_given_another_address_or_channel_then_only_audited(engine: Engine) -> None:
    account = new_account(engine, email="deudor@correo.example")
    other = BadAddress(ContactChannel.email, "viejo@correo.example", account, 8, "5.1.1")
    phone = BadAddress(ContactChannel.whatsapp, "+525599990000", account, 9, "131026")
    nobody = BadAddress(ContactChannel.email, "x@y.example", None, 10, "5.1.1")
    assert [mark_bad_address(engine, b) for b in (other, phone, nobody)] == [False, False, False]
    assert email_status(engine, account) == "active"
    with transaction(engine) as s:
        kinds = [e.kind for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert kinds.count("address_invalid") == 3
