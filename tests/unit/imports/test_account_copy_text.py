"""The COPY text the import workers build is byte for byte what psycopg's own
`Copy.write_row` would send for the same values, whatever the text holds."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from psycopg._copy_base import format_row_text  # psycopg's formatter: the oracle
from psycopg.adapt import Transformer

from store.importing import copy_text
from store.importing.account_copy import encode_account
from store.importing.account_rows import ACCOUNT_FIELDS, AccountRecord, PhoneRecord

NOW = datetime(2026, 11, 24, 5, 0, 0, 123, tzinfo=UTC)
texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), min_size=1)


def psycopg_line(values: list[object]) -> str:
    out = bytearray()
    format_row_text(values, Transformer(), out)
    return out.decode()


@given(
    name=texts,
    region=st.none() | texts,
    custom=st.dictionaries(texts, texts, max_size=3),
    consent_ref=st.none() | texts,
    due=st.none() | st.dates(),
    balance=st.decimals(min_value=0, max_value=10**11, places=2),
    address=st.none() | texts,
    point=st.none() | st.tuples(st.floats(-90, 90), st.floats(-180, 180)),
    email=st.none() | texts,
    email_ref=st.none() | texts,
    visit_ref=st.none() | texts,
    protection=st.sampled_from([None, "none", "deceased", "minor", "insolvency"]),
    protection_ref=st.none() | texts,
)
def test_given_any_text_when_encoded_then_same_as_psycopg_copy(
    name: str, region: str | None, custom: dict[str, str], consent_ref: str | None,
    due: date | None, balance: Decimal, address: str | None,
    point: tuple[float, float] | None, email: str | None, email_ref: str | None,
    visit_ref: str | None, protection: str | None, protection_ref: str | None,
) -> None:  # fmt: skip
    phone = PhoneRecord(2, "+526621234567", "mobile", consent_ref is not None, consent_ref,
                        "call,sms")  # fmt: skip
    record = AccountRecord(
        line=2, external_ref="A\t1", debtor_name=name, country="MX", region=region,
        timezone=None, balance=balance, currency="MXN", due_date=due, status="active",
        stage="firm", stage_explicit=True, custom_fields=custom, phones=[phone],
        address=address, latitude=point and point[0], longitude=point and point[1],
        email=email, email_consent=email_ref is not None, email_consent_ref=email_ref,
        visit_authorisation_ref=visit_ref, protection=protection, protection_ref=protection_ref,
    )  # fmt: skip
    ref, account_text, (phone_text,) = encode_account(record, copy_text.instant(NOW))
    values = record.account_values()
    expected = [values["external_ref"]] + [
        json.dumps(values[f]) if f == "custom_fields" else values[f] for f in ACCOUNT_FIELDS
    ]
    assert ref == "A\t1"
    consent_at = NOW if record.email_consent else None
    # The protection last: none for an empty cell or `none`, its evidence and time else.
    protected = protection not in (None, "none")
    tail = [protection, protection_ref, NOW] if protected else [None, None, None]
    assert account_text + "\n" == psycopg_line([*expected, consent_at, NOW, NOW, *tail])
    assert phone_text + "\n" == psycopg_line([
        2, "+526621234567", "mobile", phone.consent, consent_ref,
        NOW if phone.consent else None, "active", NOW, "call,sms",
    ])  # fmt: skip
