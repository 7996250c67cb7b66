"""The pure parts of the portal: the identity answer and its keyed hash, the plans
offered ready-made, the instants a callback form may carry."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compliance.plan_rules import PlanRules
from console.portal_views import _instant
from selfservice.debtor_actions import plan_offer
from selfservice.identity import IdentityError, identity_hash, last_digits, normalise_answer

KEY = b"k" * 32
TODAY = date(2026, 11, 24)


@pytest.mark.parametrize(("typed", "digits"), [("1234", "1234"), (" 12-34 ", "1234"),
                                                ("12.34", "1234"), ("1 2 3 4", "1234")])  # fmt: skip
def test_given_four_digits_however_typed_when_normalised_then_the_digits(
    typed: str, digits: str
) -> None:
    assert normalise_answer(typed) == digits


@given(st.text(max_size=60))
def test_given_any_text_when_normalised_then_four_ascii_digits_or_refused(text: str) -> None:
    try:
        digits = normalise_answer(text)
    except IdentityError:
        return
    assert len(digits) == 4 and digits.isascii() and digits.isdigit()


def test_given_a_document_when_its_digits_are_taken_then_the_last_four() -> None:
    assert last_digits("LOHM800101HDFPRN05") == "0105"
    assert last_digits("1.020.345.678") == "5678"
    with pytest.raises(IdentityError):
        last_digits("ABC-12")


def test_given_the_same_digits_when_hashed_then_bound_to_key_and_account() -> None:
    one = identity_hash(KEY, "MX-1", "1234")
    assert one == identity_hash(KEY, "MX-1", "1234") and len(one) == 64 and "1234" not in one
    assert one != identity_hash(KEY, "MX-2", "1234")
    assert one != identity_hash(b"o" * 32, "MX-1", "1234")


def test_given_rules_when_plans_are_offered_then_each_within_them() -> None:
    rules = PlanRules(max_instalments=6, min_instalment=Decimal("500"),
                      supervisor_above_instalments=3, intervals=("monthly",))  # fmt: skip
    offer = plan_offer(rules, "friendly", Decimal("2000.00"), TODAY)
    # 6 payments of 333.33 are below the minimum instalment: not offered.
    assert [(o.id, o.needs_supervisor) for o in offer] == [
        ("monthly-2", False),
        ("monthly-3", False),
    ]
    assert all(o.first_date == date(2026, 12, 1) and o.total == Decimal("2000.00") for o in offer)
    assert plan_offer(rules, "friendly", Decimal(0), TODAY) == []


@pytest.mark.parametrize(
    ("raw", "ok"),
    [("2026-11-24T14:00:00-06:00", True), ("2026-11-24T20:00Z", True), ("2026-11-24T14:00", False),
     ("2026-13-24T14:00:00-06:00", False), ("tomorrow", False), ("9" * 5000, False), ("", False)],
)  # fmt: skip
def test_given_a_callback_form_value_when_read_then_an_aware_instant_or_none(
    raw: str, ok: bool
) -> None:
    when = _instant(raw)
    assert (when is not None) is ok
    if when is not None:
        assert when.tzinfo is not None
