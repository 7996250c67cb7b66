"""The portal's identity check on real SQL: a keyed hash only, three wrong answers lock
a link (for good) or a reference (for a day), a client address is throttled over every
gate, malformed answers count nothing, identities import all or nothing."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from support.selfservice_seed import DIGITS, IDENTITY_KEY, NOW, PortalSeed, seed_portal

from selfservice import identity as idc
from store.models import Account, AuditEntry, PortalGate, SupervisorTask

LINK = idc.link_gate("token-1")


@pytest.fixture
def seeded(engine: Engine) -> PortalSeed:
    return seed_portal(engine)


def check(engine: Engine, seed: PortalSeed, answer: str, *, gate: str = LINK,
          client: str = "203.0.113.9", account_id: int | None = -1,
          now=NOW) -> idc.Verdict:  # type: ignore[no-untyped-def]  # fmt: skip
    return idc.check(engine, gate=gate, account_id=seed.account_id if account_id == -1 else account_id,
                     answer=answer, key=IDENTITY_KEY, client=client, now=now)  # fmt: skip


def test_given_the_right_digits_when_checked_then_verified_and_audited(
    engine: Engine, seeded: PortalSeed
) -> None:
    verdict = check(engine, seeded, f" {DIGITS[:2]}-{DIGITS[2:]} ")
    assert verdict.verified and verdict.account_id == seeded.account_id
    with Session(engine) as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.kind == "portal_identity")).one()
        stored = s.get(Account, seeded.account_id).identity_hash  # type: ignore[union-attr]
    assert json.loads(entry.payload)["result"] == "verified"
    assert DIGITS not in (stored or "") and len(stored or "") == 64


def test_given_three_wrong_answers_when_checked_then_the_link_locks_even_for_the_right_one(
    engine: Engine, seeded: PortalSeed
) -> None:
    assert check(engine, seeded, "0000").tries_left == 2
    assert check(engine, seeded, "1111").tries_left == 1
    third = check(engine, seeded, "2222")
    assert third.locked and not third.verified
    assert idc.gate_locked(engine, LINK, NOW)
    assert check(engine, seeded, DIGITS).locked
    # A link stays locked; the account's other links wait for its reference's day lock.
    assert idc.gate_locked(engine, LINK, NOW + timedelta(days=30))
    assert check(engine, seeded, DIGITS, gate=idc.link_gate("token-2")).locked
    later = NOW + idc.REFERENCE_LOCK + timedelta(minutes=1)
    own = check(engine, seeded, DIGITS, gate=LINK, now=later)
    assert own.locked and not own.account_locked
    assert idc.link_locked(engine, "token-1", seeded.account_id, later) == "link"
    assert idc.link_locked(engine, "token-2", seeded.account_id, later) is None
    assert check(engine, seeded, DIGITS, gate=idc.link_gate("token-2"), now=later).verified
    assert idc.unlock(engine, LINK, "operator", later)
    assert check(engine, seeded, DIGITS, now=later).verified


def test_given_two_links_of_one_account_when_guessed_then_three_wrong_answers_in_all(
    engine: Engine, seeded: PortalSeed
) -> None:
    """Each link counted its own three: a guesser holding the account's links (one per
    message sent) had three guesses at the same four digits per link. Every answer
    through a link counts on the account's reference row, which the reference path,
    the chat assistant and agents asking the document count on too."""
    first, second = idc.link_gate("token-1"), idc.link_gate("token-2")
    assert check(engine, seeded, "0000", gate=first).tries_left == 2
    assert check(engine, seeded, "0001", gate=first).tries_left == 1
    # The second link has had no answer of its own: the account's count is what is left.
    assert check(engine, seeded, "0002", gate=second).locked
    ref = idc.reference_gate(seeded.account_id)
    assert idc.gate_locked(engine, ref, NOW)
    assert not idc.gate_locked(engine, first, NOW) and not idc.gate_locked(engine, second, NOW)
    assert idc.link_locked(engine, "token-3", seeded.account_id, NOW) == "account"
    third = check(engine, seeded, DIGITS, gate=idc.link_gate("token-3"))
    assert third.locked and third.account_locked
    assert check(engine, seeded, DIGITS, gate=idc.link_gate("token-3")).locked
    assert check(engine, seeded, DIGITS, gate=ref).locked
    with Session(engine) as s:
        row = s.get(PortalGate, ref)
        assert row is not None and row.total_failures == 3
    # A right answer through a link clears the account's count too.
    later = NOW + idc.REFERENCE_LOCK + timedelta(minutes=1)
    assert check(engine, seeded, "0003", gate=second, now=later).tries_left == 1
    assert check(engine, seeded, DIGITS, gate=first, now=later).verified
    with Session(engine) as s:
        row = s.get(PortalGate, ref)
        assert row is not None and (row.failures, row.total_failures) == (0, 0)


def test_given_links_sent_day_after_day_when_guessed_then_the_reference_is_held(
    engine: Engine, seeded: PortalSeed
) -> None:
    """A new link every day (three answers each) reaches the reference's hold: nine
    wrong answers in all wait for a person, whatever link comes next."""
    day = NOW
    for n in range(idc.REFERENCE_HOLD_FAILURES):
        if n and n % idc.GATE_FAILURES == 0:
            day += idc.REFERENCE_LOCK + timedelta(minutes=1)
        check(engine, seeded, f"{n:04d}", gate=idc.link_gate(f"token-{n // 3}"),
              client=f"203.0.113.{n}", now=day)  # fmt: skip
    fresh = day + timedelta(days=30)
    assert idc.link_locked(engine, "token-new", seeded.account_id, fresh)
    assert check(engine, seeded, DIGITS, gate=idc.link_gate("token-new"), now=fresh).locked
    with Session(engine) as s:
        [task] = s.scalars(select(SupervisorTask).where(SupervisorTask.kind == "portal_locked"))
    assert task.account_id == seeded.account_id


def test_given_a_success_when_wrong_again_then_the_count_starts_over(
    engine: Engine, seeded: PortalSeed
) -> None:
    check(engine, seeded, "0000")
    check(engine, seeded, "0001")
    assert check(engine, seeded, DIGITS).verified
    assert check(engine, seeded, "0002").tries_left == 2


def test_given_a_locked_reference_when_a_day_passes_then_it_opens_again(
    engine: Engine, seeded: PortalSeed
) -> None:
    gate = idc.reference_gate(seeded.account_id)
    for wrong in ("0000", "0001", "0002"):
        check(engine, seeded, wrong, gate=gate)
    assert idc.gate_locked(engine, gate, NOW + timedelta(hours=23))
    later = NOW + timedelta(days=1, minutes=1)
    assert not idc.gate_locked(engine, gate, later)
    assert check(engine, seeded, "0003", gate=gate, now=later).tries_left == 2


def test_given_wrong_answers_from_ever_new_addresses_then_the_link_locks_at_three_in_all(
    engine: Engine, seeded: PortalSeed
) -> None:
    """The count is the link's, not an address's: a guesser with a fresh IPv4 address
    per answer gets three answers for a link, in all."""
    for i, wrong in enumerate(("0000", "0001", "0002")):
        check(engine, seeded, wrong, client=f"198.51.100.{i + 1}")
    assert check(engine, seeded, DIGITS, client="192.0.2.77").locked
    assert idc.gate_locked(engine, LINK, NOW + timedelta(days=365))


def test_given_a_reference_guessed_day_after_day_from_many_addresses_then_held_for_a_person(
    engine: Engine, seeded: PortalSeed
) -> None:
    """Three wrong answers a day from thousands of addresses used to be three guesses a
    day for ever: REFERENCE_HOLD_FAILURES in all keep the reference locked (no day,
    no Redis flush, no restart opens it) and open one supervisor task; an unlock opens
    it again from zero and closes the task."""
    gate = idc.reference_gate(seeded.account_id)
    day, answers = NOW, 0
    while answers < idc.REFERENCE_HOLD_FAILURES:
        for _ in range(idc.GATE_FAILURES):
            answers += 1
            check(engine, seeded, f"{answers:04d}", gate=gate, client=f"203.0.113.{answers}",
                  now=day)  # fmt: skip
        day += idc.REFERENCE_LOCK + timedelta(minutes=1)
    assert answers == idc.REFERENCE_HOLD_FAILURES
    assert idc.gate_locked(engine, gate, day + timedelta(days=400))
    assert check(engine, seeded, DIGITS, gate=gate, client="192.0.2.1", now=day).locked
    with Session(engine) as s:
        tasks = s.scalars(select(SupervisorTask).where(SupervisorTask.kind == "portal_locked"))
        [task] = tasks.all()
        results = [json.loads(e.payload)["result"] for e in s.scalars(
            select(AuditEntry).where(AuditEntry.kind == "portal_identity")
            .order_by(AuditEntry.id))]  # fmt: skip
    assert task.account_id == seeded.account_id and task.status == "open"
    assert results == ["locked", "locked", "held"]
    # The debtor's links count on the reference's row: held too, until a person.
    assert check(engine, seeded, DIGITS, client="192.0.2.1", now=day).locked
    assert idc.unlock(engine, gate, "supervisor:sofia", day)
    assert check(engine, seeded, DIGITS, client="192.0.2.1", now=day).verified
    assert not idc.gate_locked(engine, gate, day)
    assert check(engine, seeded, "9999", gate=gate, client="192.0.2.1", now=day).tries_left == 2
    with Session(engine) as s:
        assert s.get(SupervisorTask, task.id).status == "done"  # type: ignore[union-attr]


def test_given_a_debtor_who_mistypes_then_succeeds_then_the_total_starts_over(
    engine: Engine, seeded: PortalSeed
) -> None:
    gate = idc.reference_gate(seeded.account_id)
    day = NOW
    for _ in range(idc.REFERENCE_HOLD_FAILURES // idc.GATE_FAILURES):
        for wrong in ("0000", "0001"):
            check(engine, seeded, wrong, gate=gate, now=day)
        assert check(engine, seeded, DIGITS, gate=gate, now=day).verified
        day += timedelta(days=1)
    assert not idc.gate_locked(engine, gate, day)
    with Session(engine) as s:
        assert s.get(PortalGate, gate).total_failures == 0  # type: ignore[union-attr]


@pytest.mark.parametrize("answer", ["", "12", "12345", "abcd", "١٢٣٤", "1" * 1000, "12 3"])
def test_given_a_malformed_answer_when_checked_then_refused_and_not_counted(
    engine: Engine, seeded: PortalSeed, answer: str
) -> None:
    with pytest.raises(idc.IdentityError):
        check(engine, seeded, answer)
    assert not idc.gate_locked(engine, LINK, NOW)
    assert check(engine, seeded, "0000").tries_left == 2


def test_given_many_wrong_answers_from_one_address_when_checked_then_throttled_everywhere(
    engine: Engine, seeded: PortalSeed
) -> None:
    for i in range(idc.ADDRESS_FAILURES):
        # Unknown references: counted on the address only, answered like a wrong answer.
        verdict = check(engine, seeded, "0000", gate=f"ref:unknown-{i}", account_id=None)
        assert not verdict.verified and not verdict.locked
    assert check(engine, seeded, DIGITS).throttled
    assert check(engine, seeded, DIGITS, client="198.51.100.1").verified
    later = NOW + idc.ADDRESS_WINDOW
    assert check(engine, seeded, DIGITS, gate=idc.link_gate("t3"), now=later).verified


def test_given_an_account_without_identity_when_checked_then_never_verified(
    engine: Engine, seeded: PortalSeed
) -> None:
    with Session(engine) as s, s.begin():
        s.get(Account, seeded.account_id).identity_hash = None  # type: ignore[union-attr]
    assert not check(engine, seeded, DIGITS).verified


def test_given_another_key_when_checked_then_wrong(engine: Engine, seeded: PortalSeed) -> None:
    verdict = idc.check(engine, gate=LINK, account_id=seeded.account_id, answer=DIGITS,
                        key=b"o" * 32, client="x", now=NOW)  # fmt: skip
    assert not verdict.verified


def test_given_an_identity_file_when_imported_then_hashes_only_all_or_nothing(
    engine: Engine, seeded: PortalSeed
) -> None:
    bad = idc.import_identities(engine, [(2, "MX-P001", "LOHM800101-5678"), (3, "NOPE", "1234"),
                                         (4, "MX-P002", "12"), (5, "", "1234")],
                                IDENTITY_KEY, "operator", NOW)  # fmt: skip
    assert bad.stored == 0 and len(bad.errors) == 3
    assert check(engine, seeded, DIGITS).verified  # unchanged
    good = idc.import_identities(engine, [(2, "MX-P001", "LOHM800101-5678")], IDENTITY_KEY,
                                 "operator", NOW)  # fmt: skip
    assert good.stored == 1 and not good.errors
    assert check(engine, seeded, "5678", gate=idc.link_gate("t2")).verified
    with Session(engine) as s:
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.kind == "account_import")
        ).one()  # fmt: skip
    assert "5678" not in entry.payload


@pytest.mark.parametrize("encoded", ["", "not base64 !!", base64.b64encode(b"short").decode()])
def test_given_a_bad_key_when_read_then_refused(encoded: str) -> None:
    with pytest.raises(idc.IdentityError):
        idc.identity_key(encoded)
    assert idc.identity_key(base64.b64encode(b"k" * 32).decode()) == b"k" * 32


def test_given_the_anonymous_way_in_guessed_until_held_then_only_it_is_held_and_the_debtors_ways_stay_open(
    engine: Engine, seeded: PortalSeed
) -> None:
    """Anyone holding a letter knows the reference: the anonymous path (`/p`) counts its
    wrong answers on its own row (entry:<account>), three a day and nine until a person,
    so its guesses at the document stay bounded; the account's shared row (the debtor's
    links, the chat assistant, agents asking the document) counts none of them and
    stays open. A locked shared row still refuses the anonymous path."""
    entry = idc.entry_gate(seeded.account_id)
    day, answers = NOW, 0
    while answers < idc.REFERENCE_HOLD_FAILURES:
        for _ in range(idc.GATE_FAILURES):
            answers += 1
            check(engine, seeded, f"{answers:04d}", gate=entry, client=f"203.0.113.{answers}",
                  now=day)  # fmt: skip
        day += idc.REFERENCE_LOCK + timedelta(minutes=1)
    assert check(engine, seeded, DIGITS, gate=entry, client="192.0.2.1", now=day).locked
    assert idc.gate_locked(engine, entry, day + timedelta(days=400))
    with Session(engine) as s:
        assert s.get(PortalGate, idc.reference_gate(seeded.account_id)).failures == 0  # type: ignore[union-attr]
        [task] = s.scalars(select(SupervisorTask).where(SupervisorTask.kind == "portal_locked"))
        assert idc.reference_locked_in(s, seeded.account_id, day)  # the agent's card says so
    # The debtor's link and the chat assistant (the shared row) are not locked.
    assert idc.link_locked(engine, "token-1", seeded.account_id, day) is None
    assert check(engine, seeded, DIGITS, gate=LINK, client="192.0.2.2", now=day).verified
    assert check(engine, seeded, DIGITS, gate=idc.reference_gate(seeded.account_id),
                 client="192.0.2.3", now=day).verified  # fmt: skip
    # The anonymous path waits for a person; the task's unlock opens it.
    assert check(engine, seeded, DIGITS, gate=entry, client="192.0.2.4", now=day).locked
    with Session(engine) as s, s.begin():
        assert idc.unlock_account_in(s, seeded.account_id, "supervisor:sofia", day)
    with Session(engine) as s:
        assert s.get(SupervisorTask, task.id).status == "done"  # type: ignore[union-attr]
    assert check(engine, seeded, DIGITS, gate=entry, client="192.0.2.4", now=day).verified
    # Three wrong through the debtor's links lock the shared row: the anonymous way too.
    for n, wrong in enumerate(("0001", "0002", "0003")):
        check(engine, seeded, wrong, gate=idc.link_gate(f"t-{n}"), client="192.0.2.5", now=day)
    refused = check(engine, seeded, DIGITS, gate=entry, client="192.0.2.6", now=day)
    assert refused.locked and refused.account_locked
