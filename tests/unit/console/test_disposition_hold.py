"""Until when a disposition holds the account back from the dialer (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from console.dispositions import OUTCOMES, DispositionInput, Party, dial_hold

NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)


def _input(code: str, **fields: object) -> DispositionInput:
    outcome = OUTCOMES[code]
    party = Party.titular if Party.titular in outcome.parties else next(iter(outcome.parties))
    return DispositionInput(party=party, outcome=outcome, notes="", **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["promesa_pago", "convenio"])
def test_given_promise_then_held_until_the_day_after_its_date(code: str) -> None:
    data = _input(code, promise_amount=Decimal("10"), promise_date=date(2026, 11, 27))
    assert dial_hold(data, None, NOW) == datetime(2026, 11, 28, tzinfo=UTC)


def test_given_promise_of_a_mexico_city_debtor_then_held_until_their_next_day_begins() -> None:
    # Not UTC's midnight (18:00 of the promised day in Mexico City, while the debtor can
    # still pay): 06:00 UTC. Two zones: the later midnight (Tijuana's, 08:00 UTC).
    data = _input("promesa_pago", promise_amount=Decimal("10"), promise_date=date(2026, 11, 27))
    mexico_city = (ZoneInfo("America/Mexico_City"),)
    assert dial_hold(data, None, NOW, zones=mexico_city) == datetime(2026, 11, 28, 6, tzinfo=UTC)
    both = (ZoneInfo("America/Cancun"), ZoneInfo("America/Tijuana"))
    assert dial_hold(data, None, NOW, zones=both) == datetime(2026, 11, 28, 8, tzinfo=UTC)


def test_given_callback_then_held_until_it_is_due() -> None:
    due = NOW + timedelta(hours=5)
    assert dial_hold(_input("volver_llamar"), due, NOW) == due


def test_given_paid_claim_then_held_while_the_payment_is_confirmed() -> None:
    assert dial_hold(_input("pago"), None, NOW) == NOW + timedelta(days=7)
    assert dial_hold(_input("pago"), None, NOW, paid_claim_hold_days=3) == NOW + timedelta(days=3)
    assert dial_hold(_input("pago"), None, NOW, paid_claim_hold_days=0) == NOW + timedelta(days=1)


@pytest.mark.parametrize(
    "code", ["rehusa", "recado", "sin_contacto", "numero_equivocado", "disputa", "no_contactar"]
)
def test_given_outcome_blocked_elsewhere_or_recycled_then_no_hold(code: str) -> None:
    # A dispute or a cease-contact changes the account's status and a wrong number the
    # phone's (the engine blocks them at every check); the others recycle.
    assert dial_hold(_input(code), None, NOW) is None
