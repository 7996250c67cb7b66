"""Seed data for the field tests: field agents, accounts with addresses in MX, CO
and PE, and a fake of the visit compliance check (the real one: field/visit_rules)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from compliance.engine import Decision
from store.db import transaction
from store.models import Account, Campaign, Phone, User

# Tuesday 2026-11-24 16:00 UTC: 10:00 in Mexico City, 11:00 in Bogotá and Lima.
NOW = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
TODAY = date(2026, 11, 24)
# Coyoacán, Mexico City: the accounts lie around here.
BASE = (19.3500, -99.1620)


@dataclass
class FieldSeed:
    campaign_id: int
    supervisor_id: int
    agents: dict[str, int]
    accounts: dict[str, int] = field(default_factory=dict)


def seed_field(engine: Engine, n_mx: int = 6) -> FieldSeed:
    with transaction(engine) as s:
        campaign = Campaign(
            name="mx-campo", country="MX", profile="MX", config={"promise_max_days": 15}
        )
        s.add(campaign)
        s.flush()
        users = {}
        for name, role, territory in [
            ("sofia", "supervisor", None),
            ("lucia", "field", "CDMX-Coyoacán"),
            ("mario", "field", "CDMX-Tlalpan"),
            ("ana", "agent", None),
        ]:
            user = User(
                username=name,
                display_name=name.title(),
                role=role,
                password_hash="x",
                territory=territory,
            )
            s.add(user)
            s.flush()
            users[name] = user.id
        seed = FieldSeed(campaign.id, users["sofia"], users)
        for i in range(n_mx):
            seed.accounts[f"MX-{i}"] = _account(
                s,
                f"MX-{i}",
                "MX",
                "America/Mexico_City",
                campaign.id,
                BASE[0] + 0.004 * (i % 3),
                BASE[1] + 0.005 * (i // 3),
            )
        seed.accounts["MX-nocoords"] = _account(
            s, "MX-nocoords", "MX", "America/Mexico_City", campaign.id, None, None
        )
        seed.accounts["CO-1"] = _account(s, "CO-1", "CO", None, None, 4.6486, -74.0628)
        seed.accounts["PE-1"] = _account(s, "PE-1", "PE", None, None, -12.0464, -77.0428)
    return seed  # fmt: skip


def _account(s: Session, ref: str, country: str, tz: str | None, campaign_id: int | None,
             lat: float | None, lon: float | None) -> int:  # fmt: skip
    account = Account(external_ref=ref, debtor_name=f"Deudor {ref}", country=country, timezone=tz,
                      balance=Decimal("5000.00"), currency={"MX": "MXN", "CO": "COP", "PE": "PEN"}[country],
                      stage="firm", campaign_id=campaign_id, address=f"Calle {ref} 12",
                      latitude=lat, longitude=lon)  # fmt: skip
    account.phones.append(
        Phone(
            number_e164="+5255" + str(abs(hash(ref)) % 10**8).zfill(8),
            consent=True,
            consent_ref="C",
        )
    )
    s.add(account)
    s.flush()
    return account.id


@dataclass
class FakeCheck:
    """Allows every visit but those of the accounts in `refuse` (with their reasons);
    remembers what it was asked."""

    refuse: dict[int, tuple[str, ...]] = field(default_factory=dict)
    asked: list[tuple[int, datetime]] = field(default_factory=list)

    def __call__(self, session: Session, account: Account, at: datetime) -> Decision:
        self.asked.append((account.id, at))
        reasons = self.refuse.get(account.id, ())
        return Decision(not reasons, reasons, "FAKE@1", {}, at.isoformat(), "fake", at)
