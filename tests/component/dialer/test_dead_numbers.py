"""A number the carrier twice says does not exist is marked invalid on its account
(store/number_validity.py), as the dialer writes each call's end
(dialer/attempt_store.py): durable in SQL, audited, skipped by the rotation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from compliance.service import ComplianceService
from dialer import attempt_store as store
from dialer.refill import Candidate, _rotation
from store.db import transaction
from store.models import Account, AuditEntry, CallAttempt, Campaign, Decision, Phone

DAY1 = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
DEAD = "+525512340001"
OTHER = "+525512340002"


def make_account(engine: Engine, ref: str, numbers: list[str]) -> int:
    with transaction(engine) as s:
        campaign = s.scalar(select(Campaign).where(Campaign.name == "dead"))
        if campaign is None:
            campaign = Campaign(name="dead", country="MX", profile="MX", config={})
            s.add(campaign)
            s.flush()
        account = Account(external_ref=ref, debtor_name="Juana Pérez", country="MX",
                          region="CMX", balance=Decimal("900.00"), currency="MXN",
                          campaign_id=campaign.id)  # fmt: skip
        for i, number in enumerate(numbers, start=1):
            account.phones.append(Phone(position=i, number_e164=number, consent=True,
                                        consent_ref=f"form-{i}", phone_type="mobile"))  # fmt: skip
        s.add(account)
        s.flush()
        return int(account.id)


def phone_id(engine: Engine, account_id: int, number: str) -> int:
    with Session(engine) as s:
        found = s.scalar(select(Phone.id).where(Phone.account_id == account_id,
                                                Phone.number_e164 == number))  # fmt: skip
        assert found is not None
        return int(found)


def call(engine: Engine, account_id: int, number: str, at: datetime, result: str, *,
         answered: bool = False, direction: str = "outbound") -> int:  # fmt: skip
    """One call to the number started at `at`, ended 30 s later with `result`, as the
    dialer writes it: the row first, then finish_attempt."""
    pid = phone_id(engine, account_id, number)
    attempt_id, _ = store.create_attempt(
        engine, channel=store.ContactChannel.call, account_id=account_id, phone_id=pid,
        phone_e164=number, started_at=at, direction=direction,
    )  # fmt: skip
    ended = at + timedelta(seconds=30)
    values: dict[str, Any] = {"result": result, "ended_at": ended,
                              "answered_at": at + timedelta(seconds=10) if answered else None}  # fmt: skip
    assert store.finish_attempt(engine, attempt_id, account_id, values,
                                lambda in_a_row: ended + timedelta(days=7 if in_a_row >= 2 else 1))  # fmt: skip
    return attempt_id


def phone(engine: Engine, account_id: int, number: str) -> Phone:
    with Session(engine, expire_on_commit=False) as s:
        row = s.scalar(select(Phone).where(Phone.account_id == account_id,
                                           Phone.number_e164 == number))  # fmt: skip
        assert row is not None
        return row


def status_changes(engine: Engine) -> list[tuple[str, dict[str, Any]]]:
    with Session(engine) as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.kind == "phone_status_change")
                         .order_by(AuditEntry.id)).all()  # fmt: skip
        return [(r.actor, json.loads(r.payload)) for r in rows]


def next_attempt_at(engine: Engine, account_id: int) -> datetime:
    with Session(engine) as s:
        account = s.get(Account, account_id)
        assert account is not None
        return store.utc_of(account.next_attempt_at)


def test_given_two_invalid_results_a_day_apart_when_the_second_ends_then_the_phone_is_invalid_and_audited(
    engine: Engine,
) -> None:
    account_id = make_account(engine, "D-1", [DEAD, OTHER])
    first = call(engine, account_id, DEAD, DAY1, "invalid_number")
    assert phone(engine, account_id, DEAD).status == "active"  # one answer proves nothing
    second = call(engine, account_id, DEAD, DAY1 + timedelta(hours=25), "invalid_number")
    row = phone(engine, account_id, DEAD)
    assert row.status == "invalid"
    assert row.status_reason == "carrier_no_such_number"
    assert row.status_at == DAY1 + timedelta(hours=25, seconds=30)  # when the proof completed
    assert row.status_evidence is not None
    assert row.status_evidence["attempt_ids"] == [first, second]
    assert phone(engine, account_id, OTHER).status == "active"
    [(actor, payload)] = status_changes(engine)
    assert actor == "dialer"
    assert payload["status"] == "invalid" and payload["was"] == "active"
    assert payload["reason"] == "carrier_no_such_number"
    assert payload["evidence"]["attempt_ids"] == [first, second]
    assert DEAD not in json.dumps(payload)  # masked
    # The account's other number is tried an hour later, not after the dead one's rest.
    assert next_attempt_at(engine, account_id) == DAY1 + timedelta(hours=26, seconds=30)


def test_given_a_marked_phone_when_the_rotation_runs_then_only_the_other_number_is_picked(
    engine: Engine,
) -> None:
    account_id = make_account(engine, "D-2", [DEAD, OTHER])
    call(engine, account_id, DEAD, DAY1, "invalid_number")
    call(engine, account_id, DEAD, DAY1 + timedelta(days=1), "invalid_number")
    with Session(engine) as s:
        account = s.get(Account, account_id)
        assert account is not None
        for attempts in range(4):
            picked = _rotation(Candidate(account, attempts, False))
            assert [p.number_e164 for p in picked] == [OTHER]


def test_given_two_invalid_results_within_a_day_when_ended_then_the_phone_stays_active(
    engine: Engine,
) -> None:
    account_id = make_account(engine, "D-3", [DEAD])
    call(engine, account_id, DEAD, DAY1, "invalid_number")
    call(engine, account_id, DEAD, DAY1 + timedelta(hours=23, minutes=59), "invalid_number")
    assert phone(engine, account_id, DEAD).status == "active"
    assert status_changes(engine) == []


def test_given_an_answer_between_two_invalid_results_when_ended_then_the_phone_stays_active(
    engine: Engine,
) -> None:
    account_id = make_account(engine, "D-4", [DEAD])
    call(engine, account_id, DEAD, DAY1, "invalid_number")
    call(engine, account_id, DEAD, DAY1 + timedelta(hours=12), "no_answer")
    call(engine, account_id, DEAD, DAY1 + timedelta(hours=30), "invalid_number")
    assert phone(engine, account_id, DEAD).status == "active"


def test_given_invalid_results_on_two_numbers_when_ended_then_neither_is_marked_by_the_other(
    engine: Engine,
) -> None:
    """The chain is the phone's: one invalid result on each number is no proof."""
    account_id = make_account(engine, "D-5", [DEAD, OTHER])
    call(engine, account_id, DEAD, DAY1, "invalid_number")
    call(engine, account_id, OTHER, DAY1 + timedelta(hours=30), "invalid_number")
    assert phone(engine, account_id, DEAD).status == "active"
    assert phone(engine, account_id, OTHER).status == "active"


def test_given_an_answer_on_another_number_between_when_ended_then_the_phone_is_still_marked(
    engine: Engine,
) -> None:
    account_id = make_account(engine, "D-6", [DEAD, OTHER])
    call(engine, account_id, DEAD, DAY1, "invalid_number")
    call(engine, account_id, OTHER, DAY1 + timedelta(hours=2), "contact", answered=True)
    call(engine, account_id, DEAD, DAY1 + timedelta(hours=26), "invalid_number")
    assert phone(engine, account_id, DEAD).status == "invalid"
    assert phone(engine, account_id, OTHER).status == "active"


def test_given_the_same_number_on_two_accounts_when_one_proves_it_dead_then_only_its_row_is_marked(
    engine: Engine,
) -> None:
    """A phone row is the account's: the other account keeps its own row and gathers its
    own evidence (its creditor may have the number from a fresher source)."""
    card = make_account(engine, "D-CARD", [DEAD])
    loan = make_account(engine, "D-LOAN", [DEAD])
    call(engine, card, DEAD, DAY1, "invalid_number")
    call(engine, loan, DEAD, DAY1 + timedelta(hours=1), "invalid_number")
    call(engine, card, DEAD, DAY1 + timedelta(hours=25), "invalid_number")
    assert phone(engine, card, DEAD).status == "invalid"
    assert phone(engine, loan, DEAD).status == "active"


def test_given_a_marked_phone_when_more_invalid_results_end_then_it_is_marked_once(
    engine: Engine,
) -> None:
    """Two ends on the phone judged one after the other (its row locked): the second
    finds it marked already and writes nothing."""
    account_id = make_account(engine, "D-7", [DEAD])
    call(engine, account_id, DEAD, DAY1, "invalid_number")
    call(engine, account_id, DEAD, DAY1 + timedelta(days=1), "invalid_number")
    call(engine, account_id, DEAD, DAY1 + timedelta(days=2), "invalid_number")
    assert len(status_changes(engine)) == 1


def test_given_a_finish_retried_after_a_lost_reply_when_written_again_then_nothing_is_marked_twice(
    engine: Engine,
) -> None:
    account_id = make_account(engine, "D-8", [DEAD])
    call(engine, account_id, DEAD, DAY1, "invalid_number")
    second = call(engine, account_id, DEAD, DAY1 + timedelta(days=1), "invalid_number")
    again = store.finish_attempt(engine, second, account_id, {"result": "invalid_number"},
                                 lambda _n: DAY1)  # fmt: skip
    assert again is False
    assert len(status_changes(engine)) == 1


def test_given_a_marked_phone_when_it_is_answered_later_then_it_is_active_again_and_audited(
    engine: Engine,
) -> None:
    """A call from the debtor on the number (inbound) shows it exists after all."""
    account_id = make_account(engine, "D-9", [DEAD])
    call(engine, account_id, DEAD, DAY1, "invalid_number")
    call(engine, account_id, DEAD, DAY1 + timedelta(days=1), "invalid_number")
    answered = call(engine, account_id, DEAD, DAY1 + timedelta(days=3), "contact", answered=True)
    row = phone(engine, account_id, DEAD)
    assert row.status == "active"
    assert row.status_reason == "answered_after_invalid"
    assert row.status_evidence == {"attempt_ids": [answered], "result": "contact"}
    assert [p["status"] for _, p in status_changes(engine)] == ["invalid", "active"]


def test_given_an_answered_call_begun_before_the_proof_completed_when_it_ends_after_the_mark_then_active(
    engine: Engine,
) -> None:
    """Two calls on the number at once: the invalid one ends first and, judged
    alone, completes the proof; the answered one, begun before it, ends after the
    mark. Judged the other way round there is no mark: the answer breaks the proof
    whichever end is written first (test_dead_numbers_race.py on PostgreSQL)."""
    account_id = make_account(engine, "D-9b", [DEAD])
    call(engine, account_id, DEAD, DAY1, "invalid_number")
    day2 = DAY1 + timedelta(days=1)
    pid = phone_id(engine, account_id, DEAD)
    opened: list[int] = []
    for at in (day2, day2 + timedelta(seconds=5)):
        attempt_id, _ = store.create_attempt(
            engine, channel=store.ContactChannel.call, mine=set(opened), account_id=account_id,
            phone_id=pid, phone_e164=DEAD, started_at=at, direction="outbound",
        )  # fmt: skip
        opened.append(attempt_id)
    answered, dead = opened
    assert store.finish_attempt(engine, dead, account_id,
                                {"result": "invalid_number", "ended_at": day2 + timedelta(seconds=35)},
                                lambda _n: day2 + timedelta(days=1))  # fmt: skip
    assert phone(engine, account_id, DEAD).status == "invalid"
    assert store.finish_attempt(engine, answered, account_id,
                                {"result": "contact", "ended_at": day2 + timedelta(minutes=5),
                                 "answered_at": day2 + timedelta(seconds=8)},
                                lambda _n: day2 + timedelta(days=1))  # fmt: skip
    row = phone(engine, account_id, DEAD)
    assert (row.status, row.status_reason) == ("active", "answered_after_invalid")
    assert row.status_evidence == {"attempt_ids": [answered], "result": "contact"}


def test_given_a_number_invalid_from_an_import_when_answered_then_it_stays_invalid(
    engine: Engine,
) -> None:
    """Only a mark this rule made is undone by an answer: the creditor's is not."""
    account_id = make_account(engine, "D-10", [DEAD])
    with transaction(engine) as s:
        row = s.scalar(select(Phone).where(Phone.account_id == account_id))
        assert row is not None
        row.status = "invalid"
    call(engine, account_id, DEAD, DAY1, "contact", answered=True)
    assert phone(engine, account_id, DEAD).status == "invalid"
    assert status_changes(engine) == []


def test_given_an_attempt_closed_by_a_reconciliation_when_invalid_then_the_rule_applies(
    engine: Engine,
) -> None:
    """A dialer died; a survivor closes its attempt with what Asterisk recorded."""
    account_id = make_account(engine, "D-11", [DEAD])
    call(engine, account_id, DEAD, DAY1, "invalid_number")
    with transaction(engine) as s:
        campaign_id = s.scalar(select(Account.campaign_id).where(Account.id == account_id))
    pid = phone_id(engine, account_id, DEAD)
    started = DAY1 + timedelta(days=1)
    attempt_id, _ = store.create_attempt(engine, channel=store.ContactChannel.call,
                                         account_id=account_id, phone_id=pid, phone_e164=DEAD,
                                         started_at=started, campaign_id=campaign_id)  # fmt: skip
    with transaction(engine) as s:  # it passed its final check: its decision says so
        decision = Decision(account_id=account_id, phone_e164=DEAD, allowed=True, reasons=[])
        s.add(decision)
        s.flush()
        attempt = s.get(CallAttempt, attempt_id)
        assert attempt is not None
        attempt.decision_id = decision.id
    closed = store.close_lost_attempts(
        engine, int(campaign_id or 0), set(), set(), started + timedelta(hours=2), "d2",
        outcome=lambda _a: {"result": "invalid_number", "ended_at": started + timedelta(seconds=5),
                            "hangup_cause": 1},
        next_attempt=lambda _r, _n, ended: ended + timedelta(days=7),
    )  # fmt: skip
    assert [a.id for a in closed] == [attempt_id]
    assert phone(engine, account_id, DEAD).status == "invalid"
    [(actor, _payload)] = status_changes(engine)
    assert actor == "d2"


async def test_given_a_marked_phone_when_redis_is_flushed_then_the_final_check_still_refuses_it(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    """The mark lives in SQL; every check reads the phone from there, never from Redis."""
    account_id = make_account(engine, "D-12", [DEAD])
    call(engine, account_id, DEAD, DAY1, "invalid_number")
    call(engine, account_id, DEAD, DAY1 + timedelta(days=1), "invalid_number")
    await aredis.flushall()
    service = ComplianceService(engine, aredis)
    with transaction(engine) as s:
        item = service.load_item(s, account_id=account_id, phone_e164=DEAD)
    [decision] = await service.evaluate_batch([item], DAY1 + timedelta(days=2))
    assert not decision.allowed and "invalid_number" in decision.reasons


async def test_given_an_account_whose_only_number_is_marked_when_refilled_then_it_is_not_admitted(
    make_floor,  # type: ignore[no-untyped-def]
) -> None:
    floor = await make_floor(accounts=3, agents=1)
    account_id, number = next(iter(floor.numbers.items()))
    now = datetime.fromtimestamp(floor.clock(), UTC)
    call(floor.engine, account_id, number, now - timedelta(days=2), "invalid_number")
    call(floor.engine, account_id, number, now - timedelta(days=1), "invalid_number")
    with transaction(floor.engine) as s:
        s.get(Account, account_id).next_attempt_at = now - timedelta(minutes=1)  # type: ignore[union-attr]
    report = await floor.dialer.refiller.refill(now, 50)
    assert report.blocked["invalid_number"] == 1
    assert report.added == 2


def test_given_a_reactivated_number_when_the_carrier_says_once_more_it_does_not_exist_then_it_stays_active(
    engine: Engine,
) -> None:
    """The evidence starts again from the reactivation: one more answer is no proof."""
    from store.number_validity import reactivate

    account_id = make_account(engine, "D-13", [DEAD])
    call(engine, account_id, DEAD, DAY1, "invalid_number")
    call(engine, account_id, DEAD, DAY1 + timedelta(days=1), "invalid_number")
    with transaction(engine) as s:
        change = reactivate(s, phone_id(engine, account_id, DEAD), "confirmado por el deudor",
                            actor="console:sofia", now=DAY1 + timedelta(days=2))  # fmt: skip
    assert change.changed
    call(engine, account_id, DEAD, DAY1 + timedelta(days=3), "invalid_number")
    assert phone(engine, account_id, DEAD).status == "active"
    call(engine, account_id, DEAD, DAY1 + timedelta(days=4), "invalid_number")
    assert phone(engine, account_id, DEAD).status == "invalid"


async def test_given_simulated_debtors_who_decline_or_have_dead_numbers_when_dialed_then_those_results(
    make_floor,  # type: ignore[no-untyped-def]
) -> None:
    """The demo's pbxsim: a 603 (Cause 21) is `declined`, a dead number (Cause 1) is
    `invalid_number`, through the real dial loop."""
    from pbxsim.scenario import Dist, Scenario

    calls = Scenario(
        p_human=0.0, p_machine=0.0, p_busy=0.0, p_congestion=0.0, p_unallocated=0.0,
        p_declined=0.5, p_dead_numbers=0.5, ring_seconds=Dist("constant", 0.5), seed=3,
    )  # fmt: skip
    floor = await make_floor(accounts=6, agents=1, calls=calls)

    def results() -> list[str]:
        with Session(floor.engine) as s:
            return [r for r in s.scalars(select(CallAttempt.result)) if r is not None]

    await floor.run_until(lambda: len(results()) >= 6)
    assert {"declined", "invalid_number"} <= set(results())
    assert set(results()) <= {"declined", "invalid_number", "no_answer"}


def test_given_a_marked_number_when_the_debtor_calls_from_it_then_it_is_active_again(
    engine: Engine,
) -> None:
    """An inbound call from the number (dialer/inbound/records.py) shows it exists."""
    from dialer.inbound import records
    from dialer.inbound.ani import AniStatus

    account_id = make_account(engine, "D-14", [DEAD])
    call(engine, account_id, DEAD, DAY1, "invalid_number")
    call(engine, account_id, DEAD, DAY1 + timedelta(days=1), "invalid_number")
    assert phone(engine, account_id, DEAD).status == "invalid"
    at = DAY1 + timedelta(days=2)
    attempt_id = records.open_attempt(
        engine, campaign_id=None, account_id=account_id,
        phone_id=phone_id(engine, account_id, DEAD), ani=DEAD, ani_status=AniStatus.ok,
        did="5550001000", started_at=at, uniqueid="in-1", matches=1,
    )  # fmt: skip
    records.close_attempt(engine, attempt_id, result="queue_abandoned",
                          ended_at=at + timedelta(seconds=40))  # fmt: skip
    row = phone(engine, account_id, DEAD)
    assert (row.status, row.status_reason) == ("active", "answered_after_invalid")
    [_, (actor, payload)] = status_changes(engine)
    assert actor == "dialer" and payload["source"] == "inbound"
    assert payload["evidence"]["attempt_ids"] == [attempt_id]


def test_given_an_inbound_call_from_an_active_number_when_it_ends_then_nothing_is_written(
    engine: Engine,
) -> None:
    from dialer.inbound import records
    from dialer.inbound.ani import AniStatus

    account_id = make_account(engine, "D-15", [DEAD])
    attempt_id = records.open_attempt(
        engine, campaign_id=None, account_id=account_id,
        phone_id=phone_id(engine, account_id, DEAD), ani=DEAD, ani_status=AniStatus.ok,
        did="5550001000", started_at=DAY1, uniqueid="in-2", matches=1,
    )  # fmt: skip
    records.close_attempt(
        engine, attempt_id, result="contact", ended_at=DAY1 + timedelta(minutes=3)
    )
    assert phone(engine, account_id, DEAD).status == "active"
    assert status_changes(engine) == []


def test_given_one_dead_number_then_another_when_ended_then_the_account_is_not_rested_a_week(
    engine: Engine,
) -> None:
    """ "Does not exist" twice in a row on the account, once on each of two numbers: each
    number is re-checked a day later (the rest after two in a row is the number's), so
    the account's third number is not kept waiting a week."""
    third = "+525512340003"
    account_id = make_account(engine, "D-20", [DEAD, OTHER, third])
    call(engine, account_id, DEAD, DAY1, "invalid_number")
    second = DAY1 + timedelta(hours=25)
    call(engine, account_id, OTHER, second, "invalid_number")
    assert next_attempt_at(engine, account_id) == second + timedelta(seconds=30, days=1)
    # The same number twice in a row is the week's rest (and its mark).
    account_b = make_account(engine, "D-21", [DEAD, OTHER])
    call(engine, account_b, DEAD, DAY1, "invalid_number")
    call(engine, account_b, DEAD, second, "invalid_number")
    assert phone(engine, account_b, DEAD).status == "invalid"
