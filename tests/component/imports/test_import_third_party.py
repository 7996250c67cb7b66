"""The accounts import's phone_N_third_party columns: `yes` marks the number as reaching
someone who is not the debtor (status third_party: never contacted on it, and a call or
chat from it matches no account), an empty cell keeps what the number has (a
supervisor's mark is not undone by the next nightly file), `none` clears the mark;
each change on an existing account is a `phone_status_change` audit entry."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import redis.asyncio as aioredis
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from compliance.protection import mark_third_party_number
from compliance.service import ComplianceService
from store.db import transaction
from store.importing.accounts import import_accounts
from store.importing.report import ImportResult
from store.models import AuditEntry, Phone

TODAY = date(2026, 1, 13)
NOW = datetime(2026, 1, 13, 17, 0, tzinfo=UTC)  # a Tuesday, noon in Bogotá
HEADER = ("external_ref,debtor_name,country,region,balance,phone_1,phone_1_consent,"
          "phone_1_consent_ref,phone_1_channels,phone_1_third_party,phone_2,phone_2_consent,"
          "phone_2_consent_ref,phone_2_channels,phone_2_third_party\n")  # fmt: skip
ANA = "+573101234567"
ANA_MOTHER = "+573209876543"


def _row(
    ref: str, first: str = "", second: str = "", *, own: str = "yes,F-1", other: str = ",,"
) -> str:
    """A Colombian account whose phone_1 (Ana's own, consented for calls and SMS unless
    `own` says otherwise) and phone_2 (her mother's, without consent unless `other`
    gives consent, evidence and channels) carry these phone_N_third_party cells."""
    return (f"{ref},Ana,CO,CO-DC,100,3101234567,{own},call;sms,{first},"
            f"3209876543,{other},{second}\n")  # fmt: skip


def load(engine: Engine, tmp_path: Path, *rows: str) -> ImportResult:
    path = tmp_path / "accounts.csv"
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return import_accounts(engine, path, today=TODAY, clock=lambda: NOW)


def statuses(engine: Engine) -> dict[str, str]:
    with Session(engine) as s:
        return {p.number_e164: p.status for p in s.scalars(select(Phone))}


def status_changes(engine: Engine) -> list[dict[str, object]]:
    with Session(engine) as s:
        return [json.loads(e.payload) for e in s.scalars(select(AuditEntry)
                .where(AuditEntry.kind == "phone_status_change").order_by(AuditEntry.id))]  # fmt: skip


def test_given_third_party_cells_when_imported_then_marked_kept_and_cleared_with_audit(
    engine: Engine, tmp_path: Path
) -> None:
    assert load(engine, tmp_path, _row("D1", "", "yes")).written
    assert statuses(engine) == {ANA: "active", ANA_MOTHER: "third_party"}
    # The next file says nothing about the mother's number: it stays marked.
    assert load(engine, tmp_path, _row("D1", "", "")).written
    assert statuses(engine)[ANA_MOTHER] == "third_party"
    # `none` ends the mark (the number was the debtor's after all); `YES` marks, any case.
    assert load(engine, tmp_path, _row("D1", "", "none")).written
    assert statuses(engine) == {ANA: "active", ANA_MOTHER: "active"}
    assert load(engine, tmp_path, _row("D1", "", "Sí")).written
    assert statuses(engine)[ANA_MOTHER] == "third_party"
    entries = status_changes(engine)
    assert [(e["status"], e["was"], e["source"]) for e in entries] == [
        ("active", "third_party", "csv_import"), ("third_party", "active", "csv_import")]  # fmt: skip
    assert all(ANA_MOTHER not in json.dumps(e) for e in entries)  # the number is masked


def test_given_a_supervisors_mark_when_the_next_file_leaves_the_cell_empty_then_kept(
    engine: Engine, tmp_path: Path
) -> None:
    assert load(engine, tmp_path, _row("D1")).written
    with transaction(engine) as session:
        assert mark_third_party_number(session, "D1", ANA_MOTHER, actor="sup1", now=NOW).changed
    assert load(engine, tmp_path, _row("D1")).written
    assert statuses(engine)[ANA_MOTHER] == "third_party"


def test_given_bad_third_party_cells_when_imported_then_each_named_and_nothing_written(
    engine: Engine, tmp_path: Path
) -> None:
    huge = "x" * 50_000
    result = load(
        engine, tmp_path,
        _row("D1", "", "quizás"),  # line 2: unknown value
        _row("D2", "", "no"),  # line 3: "no" could mean keep or clear: refused, named
        _row("D3", "yes", ""),  # line 4: the debtor's consent on someone else's number
        "D4,Ana,CO,CO-DC,100,,,,,yes,,,,,\n",  # line 5: a mark for no number
        _row("D5", "", huge),  # line 6: an oversized cell
    )  # fmt: skip
    assert not result.written
    found = {(e.line, e.column) for e in result.errors}
    assert found == {(2, "phone_2_third_party"), (3, "phone_2_third_party"),
                     (4, "phone_1_third_party"), (5, "phone_1"), (6, "phone_2_third_party")}  # fmt: skip
    reasons = {e.line: str(e.reason) for e in result.errors}
    assert "unknown value 'quizás'" in reasons[2] and "none" in reasons[2]
    assert "unknown value 'no'" in reasons[3]
    assert "phone_1_consent" in reasons[4]
    assert "third_party given but phone_1 is empty" in reasons[5]
    assert "unknown value" in reasons[6] and len(reasons[6]) < 300  # never the whole cell
    assert statuses(engine) == {}


async def test_given_a_number_marked_by_the_import_when_final_check_after_a_redis_flush_then_third_party(
    engine: Engine, tmp_path: Path, aredis: aioredis.Redis
) -> None:
    service = ComplianceService(engine, aredis)

    def items() -> list:
        with transaction(engine) as session:
            return [service.load_item(session, account_ref="D1", phone_e164=ANA_MOTHER,
                                      channel=channel) for channel in ("call", "sms")]  # fmt: skip

    # The number came as the debtor's own, consented for calls and SMS: reached.
    assert load(engine, tmp_path, _row("D1", other="yes,F-2,call;sms")).written
    assert [d.reasons for d in await service.evaluate_batch(items(), NOW)] == [(), ()]
    # The creditor learns it is her mother's: the next file marks it (its consent goes).
    assert load(engine, tmp_path, _row("D1", "", "yes")).written
    await aredis.flushall()  # Redis holds no copy of the mark: nothing to lose
    for n, item in enumerate(items()):
        decision, _ = await service.final_check(item, NOW, f"a:{700 + n}")
        assert not decision.allowed and "third_party" in decision.reasons, item.channel
    with transaction(engine) as session:
        own = service.load_item(session, account_ref="D1", phone_e164=ANA)
    assert (await service.evaluate_batch([own], NOW))[0].allowed  # her own number is not


def test_given_a_number_marked_invalid_when_the_next_file_lists_it_again_then_it_stays_invalid(
    engine: Engine, tmp_path: Path
) -> None:
    """The carrier said twice it does not exist (store/number_validity.py): the
    creditor's file listing it again is the same old record, no evidence that it exists.
    Only a supervisor's reactivation, with a reason, brings it back; a file that drops
    it does not retire it either (its mark and history stay)."""
    assert load(engine, tmp_path, _row("D1")).written
    with transaction(engine) as s:
        phone = s.scalar(select(Phone).where(Phone.number_e164 == ANA))
        assert phone is not None
        phone.status, phone.status_reason, phone.status_at = (
            "invalid",
            "carrier_no_such_number",
            NOW,
        )
    assert load(engine, tmp_path, _row("D1")).written
    assert statuses(engine)[ANA] == "invalid"
    # Without it, then with it again: still invalid, never retired, never active.
    assert load(engine, tmp_path, "D1,Ana,CO,CO-DC,100,3209876543,,,,,,,,,\n").written
    assert load(engine, tmp_path, _row("D1")).written
    assert statuses(engine)[ANA] == "invalid"
    assert status_changes(engine) == []
