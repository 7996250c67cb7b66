"""A history import keeps what a carrier said (`invalid_number`, `declined`) and feeds
the dead-number rule (store/number_validity.py) as the dialer's own calls do: judged
once the whole file is written, so an answer later in the file is read first."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from store.importing.accounts import import_accounts
from store.importing.attempts import import_attempts
from store.models import AuditEntry, CallAttempt, Phone

NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
EXAMPLES = Path(__file__).parents[3] / "examples"
HEADER = "external_ref,phone,started_at,result\n"
NUMBER = "+525512345678"  # MX-0001's only number


@pytest.fixture
def accounts(engine: Engine) -> Engine:
    assert import_accounts(engine, EXAMPLES / "accounts.csv", today=NOW.date()).written
    return engine


def load(engine: Engine, tmp_path: Path, *rows: str, dry_run: bool = False):  # type: ignore[no-untyped-def]
    path = tmp_path / "history.csv"
    path.write_text(HEADER + "".join(f"MX-0001,5512345678,{r}\n" for r in rows), encoding="utf-8")
    return import_attempts(engine, path, clock=lambda: NOW, dry_run=dry_run, actor="cli")


def status(engine: Engine) -> Phone:
    with Session(engine) as s:
        phone = s.scalar(select(Phone).where(Phone.number_e164 == NUMBER))
        assert phone is not None
        s.expunge(phone)
        return phone


def changes(engine: Engine) -> list[tuple[str, dict[str, object]]]:
    with Session(engine) as s:
        return [(e.actor, json.loads(e.payload)) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.kind == "phone_status_change")
            .order_by(AuditEntry.id))]  # fmt: skip


def test_given_invalid_number_and_declined_rows_when_imported_then_kept_as_such(
    accounts: Engine, tmp_path: Path
) -> None:
    result = load(accounts, tmp_path, "2026-11-20T10:00:00-06:00,invalid_number",
                  "2026-11-20T13:00:00-06:00,DECLINED")  # fmt: skip
    assert result.written and result.created == 2
    with Session(accounts) as s:
        rows = s.execute(select(CallAttempt.result, CallAttempt.answered_at,
                                CallAttempt.right_party_contact)
                         .order_by(CallAttempt.started_at)).all()  # fmt: skip
    assert [tuple(r) for r in rows] == [("invalid_number", None, False), ("declined", None, False)]
    assert status(accounts).status == "active"  # one carrier answer proves nothing


def test_given_two_invalid_results_a_day_apart_in_the_history_then_the_number_is_marked(
    accounts: Engine, tmp_path: Path
) -> None:
    result = load(accounts, tmp_path, "2026-11-20T10:00:00-06:00,invalid_number",
                  "2026-11-21T11:00:00-06:00,invalid_number")  # fmt: skip
    assert result.written
    phone = status(accounts)
    assert (phone.status, phone.status_reason, phone.status_at) == (
        "invalid", "carrier_no_such_number", NOW
    )  # fmt: skip
    [(actor, payload)] = changes(accounts)
    assert actor == "cli" and payload["source"] == "csv_import"
    assert payload["status"] == "invalid" and len(payload["evidence"]["attempt_ids"]) == 2  # type: ignore[arg-type]


@pytest.mark.parametrize("between", ["contact", "declined", "no_answer", "busy", "machine"])
def test_given_a_result_that_shows_the_number_exists_in_the_history_then_not_marked(
    accounts: Engine, tmp_path: Path, between: str
) -> None:
    """Between the two, or after both (later in the file, or earlier: order is by time)."""
    load(accounts, tmp_path, "2026-11-21T11:00:00-06:00,invalid_number",
         f"2026-11-20T18:00:00-06:00,{between}", "2026-11-20T10:00:00-06:00,invalid_number")  # fmt: skip
    assert status(accounts).status == "active"
    load(accounts, tmp_path, "2026-11-22T11:00:00-06:00,invalid_number",
         f"2026-11-23T09:00:00-06:00,{between}")  # fmt: skip
    assert status(accounts).status == "active"
    assert changes(accounts) == []


def test_given_a_failed_call_between_two_invalid_results_then_still_marked(
    accounts: Engine, tmp_path: Path
) -> None:
    """Our network failing says nothing of the number."""
    load(accounts, tmp_path, "2026-11-20T10:00:00-06:00,invalid_number",
         "2026-11-20T18:00:00-06:00,failed", "2026-11-21T11:00:00-06:00,invalid_number")  # fmt: skip
    assert status(accounts).status == "invalid"


def test_given_a_dry_run_when_the_history_would_mark_a_number_then_nothing_changes(
    accounts: Engine, tmp_path: Path
) -> None:
    result = load(accounts, tmp_path, "2026-11-20T10:00:00-06:00,invalid_number",
                  "2026-11-21T11:00:00-06:00,invalid_number", dry_run=True)  # fmt: skip
    assert not result.written
    assert status(accounts).status == "active" and changes(accounts) == []


def test_given_the_same_history_imported_twice_then_the_number_is_marked_once(
    accounts: Engine, tmp_path: Path
) -> None:
    rows = ("2026-11-20T10:00:00-06:00,invalid_number", "2026-11-21T11:00:00-06:00,invalid_number")
    load(accounts, tmp_path, *rows)
    again = load(accounts, tmp_path, *rows)
    assert again.created == 0 and again.unchanged == 2
    assert len(changes(accounts)) == 1


@pytest.mark.parametrize("result", ["invalid", "number_invalid", "rejected", "603", "declined "])
def test_given_a_result_close_to_the_new_ones_then_refused_or_read_exactly(
    accounts: Engine, tmp_path: Path, result: str
) -> None:
    """Only the exact codes (any case, spaces around trimmed) are accepted."""
    outcome = load(accounts, tmp_path, f"2026-11-20T10:00:00-06:00,{result}")
    if result.strip() == "declined":
        assert outcome.written
        return
    assert not outcome.written
    assert outcome.errors[0].column == "result" and "unknown result" in outcome.errors[0].reason
