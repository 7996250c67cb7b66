"""Which caller IDs a campaign may show: only registered ones, never none."""

from __future__ import annotations

import pytest

from compliance.caller_ids import CallerIdError, check_campaign, normalize


@pytest.mark.parametrize(
    ("number", "country", "digits"),
    [
        ("+52 55 5000 1000", "MX", "525550001000"),
        ("5215550001000", "mx", "5215550001000"),
        ("+57 (601) 555-0100", "CO", "576015550100"),
        ("+51 1 555 0100", "PE", "5115550100"),
    ],
)
def test_given_number_of_the_country_when_normalized_then_e164_digits(
    number: str, country: str, digits: str
) -> None:
    assert normalize(number, country) == digits


@pytest.mark.parametrize(
    ("number", "country", "match"),
    [
        ("", "MX", "8 to 15 digits"),
        ("anonymous", "MX", "8 to 15 digits"),
        ("+52 55", "MX", "8 to 15 digits"),
        ("+5255500010001234567", "MX", "8 to 15 digits"),
        ("+576015550100", "MX", "not a number of 'MX'"),
        ("+525550001000", "XX", "not a number of 'XX'"),
        ("9" * 10_000, "MX", "8 to 15 digits"),
    ],
)
def test_given_hidden_or_foreign_number_when_normalized_then_refused_with_reason(
    number: str, country: str, match: str
) -> None:
    with pytest.raises(CallerIdError, match=match):
        normalize(number, country)


def test_given_campaign_caller_ids_when_some_registered_then_only_those_usable() -> None:
    check = check_campaign(["525550001000", "+525550002000"], {"525550002000"}, "MX")
    assert check.usable == ("525550002000",) and check.problem is None


def test_given_campaign_without_registered_caller_id_then_no_usable_and_says_why() -> None:
    none = check_campaign([], {"525550002000"}, "MX")
    assert none.usable == () and none.problem and "no caller ID" in none.problem
    unregistered = check_campaign(["525550001000"], {"525550002000"}, "MX")
    assert unregistered.usable == ()
    assert unregistered.problem and "no registered caller ID" in unregistered.problem
    assert "cobrador caller-id add" in unregistered.problem
