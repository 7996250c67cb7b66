"""Which of an account's numbers say who its debtor is (compliance/debtor_accounts.py):
a number someone else answers links no accounts into one person."""

from __future__ import annotations

import pytest

from compliance.debtor_accounts import may_be_own, own_number


@pytest.mark.parametrize(
    ("status", "phone_type", "confirmed_ref", "marked", "expected"),
    [
        ("active", "mobile", None, False, True),
        ("stopped", "home", None, False, True),  # the debtor's, not to be called
        ("retired", "work", None, False, True),
        ("invalid", "mobile", None, False, True),
        ("active", "guarantor", None, False, True),  # a guarantor who is also a debtor
        ("third_party", "mobile", None, True, False),
        ("third_party", "mobile", "llamada", True, False),  # marked here: never own here
        ("wrong_number", "mobile", None, False, False),
        ("active", "reference", None, False, False),
        ("active", "mobile", None, True, False),  # marked on another account, unsure
        ("active", "mobile", "   ", True, False),  # a blank confirmation is none
        ("active", "mobile", "contrato-1", True, True),  # confirmed as this debtor's
        (None, None, None, False, True),
    ],
)
def test_given_a_row_when_asked_whether_it_is_the_debtors_then_only_on_evidence(
    status: str | None, phone_type: str | None, confirmed_ref: str | None, marked: bool,
    expected: bool,
) -> None:  # fmt: skip
    assert own_number(status, phone_type, confirmed_ref, marked) is expected


@pytest.mark.parametrize(
    ("status", "phone_type", "expected"),
    [
        ("active", "mobile", True),
        ("stopped", "home", True),
        ("active", "guarantor", True),
        ("third_party", "mobile", False),  # this row says someone else answers it
        ("wrong_number", "work", False),
        ("active", "reference", False),
        (None, None, True),
    ],
)
def test_given_a_row_when_asked_whether_the_caps_count_it_then_unless_it_says_someone_else(
    status: str | None, phone_type: str | None, expected: bool
) -> None:
    assert may_be_own(status, phone_type) is expected
    # Whatever another account marks: own_number with a mark elsewhere never says more.
    assert own_number(status, phone_type, None, True) <= may_be_own(status, phone_type)
