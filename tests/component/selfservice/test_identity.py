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
from store.models import Account, AuditEntry

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
    # A link stays locked; another link to the account is another gate.
    assert idc.gate_locked(engine, LINK, NOW + timedelta(days=30))
    assert check(engine, seeded, DIGITS, gate=idc.link_gate("token-2")).verified
    assert idc.unlock(engine, LINK, "operator", NOW)
    assert check(engine, seeded, DIGITS).verified


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
