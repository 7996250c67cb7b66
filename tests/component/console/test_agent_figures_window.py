"""The agents' kept rate counts the promises due in the last 30 days of each debtor's
date, as promises are kept and broken, not of UTC's date."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Engine

from console.agent_figures import agent_figures
from store.db import transaction
from store.models import Account, Campaign, Promise, User

# 01:30 UTC of 1 Dec: 19:30 of 30 Nov in Mexico City, 10:30 of 1 Dec in Tokyo.
EVENING = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)


def seed(engine: Engine, promises: list[tuple[str, date, str]]) -> tuple[int, int]:
    """(timezone, due date, status) per promise, each on its own account."""
    with transaction(engine) as s:
        campaign = Campaign(name="mx", country="MX", profile="MX")
        agent = User(username="lola", display_name="Lola", role="agent", password_hash="x")
        s.add_all([campaign, agent])
        s.flush()
        for n, (zone, due, status) in enumerate(promises):
            account = Account(external_ref=f"A{n}", debtor_name="Ana", country="MX",
                              timezone=zone, balance=Decimal("100"), currency="MXN",
                              campaign_id=campaign.id)  # fmt: skip
            s.add(account)
            s.flush()
            s.add(Promise(account_id=account.id, agent_id=agent.id, amount=Decimal("50"),
                          currency="MXN", due_date=due, status=status))  # fmt: skip
        return int(campaign.id), int(agent.id)


def kept_rate(engine: Engine, campaign_id: int, agent_id: int) -> float | None:
    [row] = agent_figures(engine, campaign_id, [agent_id], EVENING, EVENING)
    return row["kept_rate"]


def test_given_an_evening_in_mexico_city_when_kept_31_oct_then_still_in_the_window(
    engine: Engine,
) -> None:
    # 30 Nov - 30 days = 31 Oct for the debtor; UTC's 1 Dec - 30 days = 1 Nov.
    campaign_id, agent_id = seed(engine, [
        ("America/Mexico_City", date(2026, 10, 31), "kept"),
        ("America/Mexico_City", date(2026, 11, 20), "broken"),
        ("America/Mexico_City", date(2026, 10, 30), "kept"),  # 31 days: out
    ])  # fmt: skip
    assert kept_rate(engine, campaign_id, agent_id) == 0.5


def test_given_a_debtor_ahead_of_utc_when_due_1_nov_then_out_of_the_window(
    engine: Engine,
) -> None:
    # Tokyo is already at 1 Dec: 31 Oct is 31 days before, 1 Nov 30.
    campaign_id, agent_id = seed(engine, [
        ("Asia/Tokyo", date(2026, 10, 31), "kept"),
        ("Asia/Tokyo", date(2026, 11, 1), "broken"),
    ])  # fmt: skip
    assert kept_rate(engine, campaign_id, agent_id) == 0.0


def test_given_only_open_promises_in_the_window_then_no_rate(engine: Engine) -> None:
    campaign_id, agent_id = seed(engine, [
        ("America/Mexico_City", date(2026, 11, 20), "open"),
        ("America/Mexico_City", date(2026, 9, 1), "kept"),
    ])  # fmt: skip
    assert kept_rate(engine, campaign_id, agent_id) is None
