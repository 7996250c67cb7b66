"""A campaign and two accounts for the self-service portal's tests (component and
browser): plan rules with a supervisor above six instalments, an identity hash for
the document digits 4321, an SMS strategy, a document the operator attached."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Engine

from selfservice.identity import identity_hash
from store.db import transaction
from store.models import Account, Campaign, Phone

IDENTITY_KEY = b"i" * 32
LINK_SECRET = b"L" * 32
DIGITS = "4321"  # the last digits of the debtor's document
# Tuesday 2026-11-24 17:00 UTC = 11:00 in Mexico City: inside every calling window.
NOW = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
PHONE = "+525512340001"

RULES = """
promise_max_days = 15
payment_instructions = "Pague en BBVA, convenio 123456, referencia su número de cuenta."

[payment_plans]
max_instalments = 12
min_instalment = "500.00"
supervisor_above_instalments = 6
intervals = ["biweekly", "monthly"]

[messages]
sender = "Despacho Ejemplo"
sms_sender = "DESPACHO"
phone = "+52 55 5000 1000"
portal_url = "https://pagos.example.mx/p"

[strategy.stages.friendly]
steps = [
  { day = 0, channel = "sms", template = "recordatorio" },
  { day = 1, channel = "sms", template = "recordatorio" },
]
"""


@dataclass(frozen=True)
class PortalSeed:
    campaign: str
    campaign_id: int
    account_id: int
    other_account_id: int
    ref: str


def seed_portal(engine: Engine, *, stage_entered_at: datetime = NOW) -> PortalSeed:
    with transaction(engine) as s:
        campaign = Campaign(name="mx-portal", country="MX", profile="MX", status="running",
                            config=tomllib.loads(RULES))  # fmt: skip
        s.add(campaign)
        s.flush()
        ids = []
        for i, (name, balance) in enumerate(
            [("María López Hernández", "6000.00"), ("Juan Pérez", "800.00")], start=1
        ):
            ref = f"MX-P{i:03d}"
            account = Account(
                external_ref=ref, debtor_name=name, country="MX", region="CMX",
                timezone="America/Mexico_City", balance=Decimal(balance), currency="MXN",
                due_date=date(2026, 9, 1), stage="friendly", campaign_id=campaign.id,
                stage_entered_at=stage_entered_at,
                identity_hash=identity_hash(IDENTITY_KEY, ref, DIGITS if i == 1 else "9999"),
                custom_fields={"desglose_capital": "5200.00", "desglose_intereses": "800.00"},
            )  # fmt: skip
            account.phones.append(Phone(position=1, number_e164=f"+5255123400{i:02d}",
                                        consent=True, consent_ref=f"form-{i}",
                                        phone_type="mobile", channels="call,sms,whatsapp"))  # fmt: skip
            s.add(account)
            s.flush()
            ids.append(account.id)
        return PortalSeed(campaign.name, campaign.id, ids[0], ids[1], "MX-P001")
