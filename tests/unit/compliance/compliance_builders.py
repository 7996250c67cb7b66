"""Builders for call requests: a callable debtor by default, each test changes one thing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from compliance.engine import (
    AccountFacts,
    CallRequest,
    CounterSnapshot,
    PhoneFacts,
    StaticRegistries,
)
from compliance.profile import Profile

NUMBERS = {
    "MX": "+525512345678",
    "MX-PROFECO": "+525512345678",
    "CO": "+573001234567",
    "PE": "+51912345678",
    "US": "+12125550100",
}
FRESH_IMPORT = datetime(2026, 1, 1, tzinfo=UTC)


def make_request(
    profile: Profile,
    *,
    account: dict[str, Any] | None = None,
    phone: dict[str, Any] | None = None,
    registries: StaticRegistries | None = None,
    counters: CounterSnapshot | None = None,
    now: datetime | None = None,
) -> CallRequest:
    """A callable debtor; with `now`, its registries were imported a day before it."""
    base_account = AccountFacts(
        id=1,
        status="active",
        stage="friendly",
        balance=Decimal("1500.00"),
        country=profile.country,
        region=None,
        timezone=None,
    )
    base_phone = PhoneFacts(
        e164=NUMBERS[profile.id], phone_type="mobile", status="active", consent=True,
        consent_ref="form-123",
    )  # fmt: skip
    if registries is None:
        imported = FRESH_IMPORT if now is None else now - timedelta(days=1)
        registries = StaticRegistries(
            {r.name: ("v1", imported, frozenset()) for r in profile.registries}
        )
    return CallRequest(
        account=replace(base_account, **(account or {})),
        phone=replace(base_phone, **(phone or {})),
        profile=profile,
        registries=registries,
        counters=counters or CounterSnapshot(),
    )
