"""Small builders for component tests: a campaign, an account with phones."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from store.db import transaction
from store.models import Account, Campaign, Phone


def make_account(
    engine: Engine,
    ref: str = "ACC-1",
    *,
    country: str = "MX",
    region: str | None = "CMX",
    phones: list[dict[str, Any]] | None = None,
    campaign: dict[str, Any] | None = None,
    **fields: Any,
) -> int:
    with transaction(engine) as session:
        campaign_id = None
        if campaign is not None:
            row = Campaign(
                name=campaign.get("name", "tarjetas"),
                country=campaign.get("country", country),
                profile=campaign.get("profile", campaign.get("country", country)),
                config=campaign.get("config", {}),
            )
            session.add(row)
            session.flush()
            campaign_id = row.id
        account = Account(
            external_ref=ref,
            debtor_name="Juana Pérez",
            country=country,
            region=region,
            balance=Decimal("1500.00"),
            currency="MXN",
            campaign_id=campaign_id,
            **fields,
        )
        for i, spec in enumerate(phones or [{"number_e164": "+525512345678"}], start=1):
            defaults = {"consent": True, "consent_ref": f"form-{i}", "phone_type": "mobile"}
            account.phones.append(Phone(position=i, **{**defaults, **spec}))
        session.add(account)
        session.flush()
        return account.id
