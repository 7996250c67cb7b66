"""The phone memo answers exactly what phonenumbers answers: for numbers that
share a memo entry (same country, length and leading digits) and for every
other kind of input, which must go to the library."""

from __future__ import annotations

from functools import partial
from re import _parser as sre_parse  # type: ignore[attr-defined]

import phonenumbers
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from store.importing.fields import read_phone
from store.importing.phone_memo import DecisivePrefixes, PhoneReadings, _span

COUNTRIES = ("MX", "CO", "PE", "US")
TYPES = [getattr(phonenumbers.PhoneNumberType, t) for t in (
    "FIXED_LINE", "MOBILE", "TOLL_FREE", "PREMIUM_RATE", "SHARED_COST", "VOIP",
    "PERSONAL_NUMBER", "PAGER", "UAN", "VOICEMAIL")]  # fmt: skip


def national_examples() -> list[str]:
    """Real numbers of every type of every region sharing our countries' codes
    (Jamaica, Canada... for +1): they start where the metadata patterns branch."""
    examples = []
    for country in COUNTRIES:
        code = phonenumbers.country_code_for_region(country)
        for region in phonenumbers.region_codes_for_country_code(code):
            for kind in TYPES:
                number = phonenumbers.example_number_for_type(region, kind)
                if number is not None:
                    examples.append(phonenumbers.national_significant_number(number))
    return examples


EXAMPLES = national_examples()
LEADS = ["", "0", "00", "01", "011", "09", "1", "19", "52", "57", "51", "+", "+52", "+1"]
digits = st.text(st.sampled_from("0123456789"), max_size=17)


@st.composite
def example_shaped(draw: st.DrawFn) -> str:
    """A real example's leading digits and random ones after, at its length:
    mostly valid numbers, on every branch of the metadata."""
    example = draw(st.sampled_from(EXAMPLES))
    kept = draw(st.integers(0, len(example)))
    tail = draw(st.text(st.sampled_from("0123456789"), min_size=len(example) - kept,
                        max_size=len(example) - kept))  # fmt: skip
    return example[:kept] + tail


def outcome(read: object, text: str) -> object:
    try:
        return read(text)  # type: ignore[operator]
    except phonenumbers.NumberParseException as exc:
        return ("not a number", exc.error_type)


@settings(max_examples=3000, deadline=None)
@given(
    country=st.sampled_from(COUNTRIES),
    lead=st.sampled_from(LEADS),
    number=example_shaped() | digits,
    shared=st.integers(0, 17),
    second_tail=digits,
)
def test_given_two_numbers_sharing_leading_digits_then_each_read_as_the_library_reads_it(
    country: str, lead: str, number: str, shared: int, second_tail: str
) -> None:
    library = partial(read_phone, country=country)
    memo = PhoneReadings(country, library)
    first = (lead + number)[:17]
    second = (first[:shared] + second_tail)[: len(first)].ljust(len(first), "7")
    assert outcome(memo.read, first) == outcome(library, first)
    entries = memo.entries
    assert outcome(memo.read, second) == outcome(library, second)
    if entries and memo.entries == entries and memo.memoisable(second):
        event("second number read from the memo")


@settings(max_examples=500, deadline=None)
@given(
    country=st.sampled_from(COUNTRIES),
    text=st.text(st.sampled_from("0123456789 +-()x#.,"), max_size=20),
)
def test_given_any_text_then_memo_reads_it_as_the_library(country: str, text: str) -> None:
    library = partial(read_phone, country=country)
    memo = PhoneReadings(country, library)
    for _ in range(2):  # the second read may come from the memo
        assert outcome(memo.read, text) == outcome(library, text)


def test_given_mexican_numbers_then_one_entry_per_settling_prefix() -> None:
    memo = PhoneReadings("MX", partial(read_phone, country="MX"))
    for number in ("5512345678", "5587654321", "5500000000"):
        assert memo.read(number) == read_phone(number, "MX")
    assert memo.entries == 1  # "55" settles them all
    assert not memo.memoisable("526621234567")  # a leading country code: the library decides
    assert not memo.memoisable("+52 662 123 4567")


@pytest.mark.parametrize(
    ("country", "number", "settled_by"),
    [("CO", "3101234567", "31"), ("CO", "3333012345", "3333012"), ("MX", "6621234567", "662"),
     ("PE", "912345678", "9"), ("US", "2015550123", "2015")],
)  # fmt: skip
def test_given_number_then_the_shortest_settling_prefix(
    country: str, number: str, settled_by: str
) -> None:
    prefixes = DecisivePrefixes.for_country_code(phonenumbers.country_code_for_region(country))
    assert prefixes is not None
    assert number[: prefixes.shortest(number, len(number))] == settled_by  # type: ignore[misc]


@pytest.mark.parametrize(
    ("pattern", "prefix", "constrained"),
    [
        (r"[2-9]\d{9}", "", 1),
        (r"(?:46|60\d\d)\d{6}", "", 2),
        (r"333301[0-5]\d{3}", "", 7),
        (r"333301[0-5]\d{3}", "31", "ruled out"),
        (r"3(?:0[0-5]|1\d|2[0-3])\d{7}", "31", 2),
        (r"(?:[2-9]\d){2}5", "", 5),
        (r"\d+", "", None),  # unbounded: cannot say
        (r"(?=1)\d{3}", "", None),  # lookahead: cannot say
    ],
)
def test_given_pattern_and_prefix_then_where_its_last_constrained_digit_can_be(
    pattern: str, prefix: str, constrained: object
) -> None:
    span = _span(sre_parse.parse(pattern), prefix)
    assert (span if span is None or isinstance(span, str) else span[0]) == constrained


def test_given_supported_countries_then_prefixes_analysable() -> None:
    for country in COUNTRIES:
        code = phonenumbers.country_code_for_region(country)
        assert DecisivePrefixes.for_country_code(code) is not None, country
