"""The accounts import's channel data (e-mail with its consent, the channels the
debtor authorised on each number, a visit authorisation) and the contact-history
import's channels and message results: every bad cell named by line and column,
nothing partial written, and what is written is what compliance reads."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from store.importing.accounts import import_accounts
from store.importing.attempts import import_attempts
from store.models import Account, AuditEntry, CallAttempt, Phone

TODAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
HEADER = ("external_ref,debtor_name,country,balance,phone_1,phone_1_consent,phone_1_consent_ref,"
          "phone_1_channels,phone_2,email,email_consent,email_consent_ref,"
          "visit_authorisation_ref\n")  # fmt: skip
GOOD = ("C1,Carla Gómez,CO,500000,3101234567,sí,FORM-1,call;sms;whatsapp,3109876543,"
        "carla@example.co,yes,FORM-E1,MICRO-7\n")  # fmt: skip


def write(tmp_path: Path, text: str, name: str = "f.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_given_channel_columns_when_imported_then_stored_as_compliance_reads_them(
    engine: Engine, tmp_path: Path
) -> None:
    result = import_accounts(engine, write(tmp_path, HEADER + GOOD), today=TODAY,
                             clock=lambda: NOW)  # fmt: skip
    assert result.written and result.created == 1, result.errors
    with Session(engine) as s:
        account = s.scalars(select(Account)).one()
        phones = {p.position: p for p in s.scalars(select(Phone))}
    assert (account.email, account.email_consent, account.email_consent_ref) == (
        "carla@example.co",
        True,
        "FORM-E1",
    )
    assert account.email_consent_at == NOW and account.email_status == "active"
    assert account.visit_authorisation_ref == "MICRO-7"
    assert "email" not in account.custom_fields
    assert phones[1].channels == "call,sms,whatsapp"
    # A number without the column: calls only (and without consent, nothing in CO).
    assert phones[2].channels == "call"


def test_given_channels_changed_when_reimported_then_updated_and_audited_as_consent(
    engine: Engine, tmp_path: Path
) -> None:
    import_accounts(engine, write(tmp_path, HEADER + GOOD), today=TODAY, clock=lambda: NOW)
    changed = GOOD.replace("call;sms;whatsapp", "whatsapp").replace(
        "carla@example.co,yes,FORM-E1", "carla@example.co,no,"
    )
    result = import_accounts(engine, write(tmp_path, HEADER + changed), today=TODAY,
                             clock=lambda: NOW)  # fmt: skip
    assert result.written and result.updated == 1, result.errors
    with Session(engine) as s:
        account = s.scalars(select(Account)).one()
        phone = s.scalars(select(Phone).where(Phone.position == 1)).one()
        kinds = s.scalars(select(AuditEntry.kind).where(AuditEntry.kind == "consent_change")).all()
    assert phone.channels == "whatsapp"
    assert (account.email_consent, account.email_consent_ref, account.email_consent_at) == (
        False,
        None,
        None,
    )
    assert len(kinds) == 2  # the number's channels and the e-mail's consent


BAD_CELLS = [
    ("phone_1_channels", "call;fax", "unknown channel(s) 'fax'"),
    ("phone_1_channels", "call;;sms", "empty channel"),
    ("phone_1_channels", "email", "unknown channel(s) 'email'"),
    ("email", "carla.example.co", "not an e-mail address"),
    ("email", "carla@@example.co", "not an e-mail address"),
    ("email", "carla @example.co", "not an e-mail address"),
    ("email", "c" * 250 + "@example.co", "longer than 254"),
    ("email_consent", "quizás", "yes or no"),
    ("email_consent_ref", "", "no evidence id"),
    ("email_consent_ref", "F" * 101, "longer than 100"),
    ("phone_1_consent_ref", "F" * 101, "longer than 100"),
    ("visit_authorisation_ref", "V" * 101, "longer than 100"),
]


@pytest.mark.parametrize(("column", "cell", "reason"), BAD_CELLS)
def test_given_bad_channel_cell_when_imported_then_line_column_reason_and_nothing_written(
    engine: Engine, tmp_path: Path, column: str, cell: str, reason: str
) -> None:
    names = HEADER.strip().split(",")
    values = GOOD.strip().split(",")
    values[names.index(column)] = cell
    text = HEADER + "C0,Otro,CO,1,3111111111,,,,,,,,\n" + ",".join(values) + "\n"
    result = import_accounts(engine, write(tmp_path, text), today=TODAY, clock=lambda: NOW)
    assert not result.written
    [error] = result.errors
    assert (error.line, error.column) == (3, column), error
    assert reason in error.reason
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Account)) == 0


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        # Channels without the debtor's consent: an authorisation needs its evidence.
        ("C1,Carla,CO,1,3101234567,,,call;sms,,,,,\n", "phone_1_channels", "must be yes"),
        ("C1,Carla,CO,1,3101234567,no,,sms,,,,,\n", "phone_1_channels", "must be yes"),
        # Channels for a number that is not there.
        ("C1,Carla,CO,1,,,,sms,,,,,\n", "phone_1", "is empty"),
        # E-mail consent without an address, evidence without consent.
        ("C1,Carla,CO,1,,,,,,,yes,FORM-E1,\n", "email", "email is empty"),
        ("C1,Carla,CO,1,,,,,,carla@example.co,,FORM-E1,\n", "email_consent_ref", "not yes"),
        ("C1,Carla,CO,1,,,,,,carla@example.co,no,FORM-E1,\n", "email_consent_ref", "not yes"),
    ],
)
def test_given_inconsistent_channel_cells_when_imported_then_clear_error(
    engine: Engine, tmp_path: Path, row: str, column: str, reason: str
) -> None:
    result = import_accounts(engine, write(tmp_path, HEADER + row), today=TODAY, clock=lambda: NOW)
    assert not result.written
    assert [(e.line, e.column) for e in result.errors] == [(2, column)], result.errors
    assert reason in result.errors[0].reason


# The contact-history import.
HISTORY = "external_ref,channel,phone,email,started_at,result\n"


@pytest.fixture
def carla(engine: Engine, tmp_path: Path) -> Engine:
    assert import_accounts(engine, write(tmp_path, HEADER + GOOD, "a.csv"), today=TODAY,
                           clock=lambda: NOW).written  # fmt: skip
    return engine


def test_given_history_on_every_channel_when_imported_then_each_row_its_channel_and_result(
    carla: Engine, tmp_path: Path
) -> None:
    text = HISTORY + (
        "C1,,3101234567,,2026-11-20T10:00:00-05:00,contact\n"  # channel defaults to call
        "C1,sms,3101234567,,2026-11-21T10:00:00-05:00,delivered\n"
        "C1,WhatsApp,+57 310 123 4567,,2026-11-21T11:00:00-05:00,replied\n"
        "C1,email,,,2026-11-22T09:00:00-05:00,read\n"  # the account's address
        "C1,email,,CARLA@example.co,2026-11-22T10:00:00-05:00,failed\n"
    )
    result = import_attempts(carla, write(tmp_path, text), clock=lambda: NOW)
    assert result.written and result.created == 5, result.errors
    with Session(carla) as s:
        rows = s.execute(select(CallAttempt.channel, CallAttempt.result, CallAttempt.phone_e164,
                                CallAttempt.address, CallAttempt.right_party_contact)
                         .order_by(CallAttempt.started_at)).all()  # fmt: skip
    assert [tuple(r) for r in rows] == [
        ("call", "contact", "+573101234567", None, True),
        ("sms", "delivered", "+573101234567", None, False),
        ("whatsapp", "replied", "+573101234567", None, True),
        ("email", "read", None, "carla@example.co", False),
        ("email", "failed", None, "carla@example.co", False),
    ]
    again = import_attempts(carla, write(tmp_path, text), clock=lambda: NOW)
    assert again.created == 0 and again.unchanged == 5


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        ("C1,fax,3101234567,,2026-11-20T10:00:00-05:00,sent", "channel", "unknown channel"),
        ("C1,visit,,,2026-11-20T10:00:00-05:00,contact", "channel", "unknown channel"),
        ("C1,sms,3101234567,,2026-11-20T10:00:00-05:00,contact", "result", "for a sms"),
        ("C1,call,3101234567,,2026-11-20T10:00:00-05:00,delivered", "result", "for a call"),
        ("C1,email,,,2026-11-20T10:00:00-05:00,busy", "result", "for a email"),
        ("C1,sms,,,2026-11-20T10:00:00-05:00,sent", "phone", "phone is required"),
        ("C1,sms,3101234567,carla@example.co,2026-11-20T10:00:00-05:00,sent", "email",
         "leave email empty"),
        ("C1,email,3101234567,,2026-11-20T10:00:00-05:00,sent", "phone", "leave phone empty"),
        ("C1,email,,carla.example.co,2026-11-20T10:00:00-05:00,sent", "email",
         "not an e-mail address"),
        ("C1,email,,otra@example.co,2026-11-20T10:00:00-05:00,sent", "email",
         "not account 'C1'"),
        ("C1,whatsapp,3119999999,,2026-11-20T10:00:00-05:00,read", "phone", "not one of account"),
        ("C1,sms,3101234567,,2026-11-20T10:00:00,sent", "started_at", "no UTC offset"),
    ],
)  # fmt: skip
def test_given_bad_history_cell_when_imported_then_line_column_reason_nothing_written(
    carla: Engine, tmp_path: Path, row: str, column: str, reason: str
) -> None:
    text = HISTORY + "C1,sms,3101234567,,2026-11-19T10:00:00-05:00,sent\n" + row + "\n"
    result = import_attempts(carla, write(tmp_path, text), clock=lambda: NOW)
    assert not result.written
    assert (result.errors[0].line, result.errors[0].column) == (3, column), result.errors
    assert reason in result.errors[0].reason
    with Session(carla) as s:
        assert s.scalar(select(func.count()).select_from(CallAttempt)) == 0


def test_given_email_history_for_account_without_email_then_error(
    engine: Engine, tmp_path: Path
) -> None:
    text = "external_ref,debtor_name,country,balance\nD1,Diego,PE,100\n"
    assert import_accounts(engine, write(tmp_path, text, "a.csv"), today=TODAY).written
    history = HISTORY + "D1,email,,,2026-11-20T10:00:00-05:00,sent\n"
    result = import_attempts(engine, write(tmp_path, history), clock=lambda: NOW)
    assert not result.written and result.errors[0].column == "email"
    assert "has no e-mail address" in result.errors[0].reason
