"""Account rows validated and encoded as COPY text in the worker processes, so
the importing process only checks duplicates, prepends ids and streams."""

from __future__ import annotations

from typing import NamedTuple

from store.importing import copy_text as copy
from store.importing.account_rows import (
    ACCOUNT_FIELDS,
    AccountRecord,
    RowDay,
    protection_values,
    validate_account_row,
)
from store.importing.csv_source import CsvRow, RowError

# The id (accounts) and account_id (phones) columns come first, added by the writer.
ACCOUNT_COLUMNS = ["id", "external_ref", *ACCOUNT_FIELDS, "email_consent_at", "created_at",
                   "updated_at", "protection", "protection_ref", "protection_at"]  # fmt: skip
PHONE_COLUMNS = ["account_id", "position", "number_e164", "phone_type", "consent",
                 "consent_ref", "consent_at", "status", "updated_at", "channels"]  # fmt: skip

# What a worker returns for a valid row: plain strings pickle fast.
EncodedAccount = tuple[str, str, tuple[str, ...]]  # external_ref, account text, phone texts


class CopyReadyAccount(NamedTuple):
    """A valid row ready for COPY, with the cells it came from (a ref that already
    exists is validated again from them, to compute what changed)."""

    external_ref: str
    account_text: str
    phone_texts: tuple[str, ...]
    line: int
    raw: list[str]


def encode_account(r: AccountRecord, now_text: str) -> EncodedAccount:
    """The row as COPY text, in ACCOUNT_COLUMNS / PHONE_COLUMNS order (ids aside)."""
    protected = protection_values(r, now_text)
    account_text = "\t".join([
        copy.text(r.external_ref), copy.text(r.debtor_name), copy.text(r.country),
        copy.text(r.region), copy.text(r.timezone), str(r.balance), copy.text(r.currency),
        copy.day(r.due_date), copy.text(r.status), copy.text(r.stage),
        copy.boolean(r.stage_explicit), copy.json_text(r.custom_fields), copy.text(r.address),
        _number(r.latitude), _number(r.longitude), copy.text(r.email),
        copy.boolean(r.email_consent), copy.text(r.email_consent_ref),
        copy.text(r.visit_authorisation_ref), now_text if r.email_consent else copy.NULL,
        now_text, now_text, copy.text(protected["protection"]),
        copy.text(protected["protection_ref"]),
        now_text if protected["protection"] else copy.NULL,
    ])  # fmt: skip
    phone_texts = tuple(
        "\t".join(
            [
                str(p.position),
                copy.text(p.number_e164),
                copy.text(p.phone_type),
                copy.boolean(p.consent),
                copy.text(p.consent_ref),
                now_text if p.consent else copy.NULL,
                p.status,
                now_text,
                copy.text(p.channels),
            ]
        )  # fmt: skip
        for p in r.phones
    )
    return r.external_ref, account_text, phone_texts


def _number(value: float | None) -> str:
    return copy.NULL if value is None else repr(value)


def validate_and_encode(
    row: CsvRow, today: RowDay, now_text: str
) -> EncodedAccount | list[RowError]:
    """The worker's job: a row's errors, or the row as COPY text (`now_text`: the
    import's timestamp, already in COPY form)."""
    outcome = validate_account_row(row, today)
    return outcome if isinstance(outcome, list) else encode_account(outcome, now_text)
