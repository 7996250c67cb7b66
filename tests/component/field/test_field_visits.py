"""Check-ins, results and skips from the field app: each applied once whatever the
replays, only at the address, only on the agent's own visits; a result becomes a
disposition, a promise and holds like a call's."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from field_fixtures import NOW, TODAY, FakeCheck, FieldSeed, seed_field
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from compliance.transparency.verify import verify
from console.i18n import activate, gettext_
from field import plans, visits
from field.checkin import Fix
from field.questionnaire import MAX_PHOTO_BYTES
from field.visit_time import DeviceClock
from store.db import transaction
from store.geo import distance_m
from store.models import (
    Account,
    AuditEntry,
    CallAttempt,
    Disposition,
    FieldSyncKey,
    FieldVisit,
    Phone,
    Promise,
)

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 2000


@pytest.fixture
def seed(engine: Engine) -> FieldSeed:
    return seed_field(engine)


@pytest.fixture
def planned(engine: Engine, seed: FieldSeed) -> list[int]:
    ids = [seed.accounts[f"MX-{i}"] for i in range(3)]
    return plans.assign(
        engine, seed.supervisor_id, "a", seed.agents["lucia"], TODAY, ids, FakeCheck(), NOW
    ).planned


def lucia(seed: FieldSeed) -> visits.Agent:
    return visits.Agent(seed.agents["lucia"], "user:lucia")


def address(engine: Engine, visit_id: int) -> tuple[float, float]:
    with Session(engine) as s:
        visit = s.get(FieldVisit, visit_id)
        assert visit is not None
        account = s.get(Account, visit.account_id)
        assert (
            account is not None and account.latitude is not None and account.longitude is not None
        )
        return account.latitude, account.longitude


def fix_near(point: tuple[float, float], metres_north: float, accuracy: float = 10.0) -> Fix:
    return Fix(point[0] + metres_north / 111_195.0, point[1], accuracy, NOW)


def key(n: int) -> str:
    return f"k-{n:020d}"


def count(engine: Engine, model: type) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_given_fix_40m_away_when_checking_in_then_accepted_with_attempt_and_decision(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    fix = fix_near(address(engine, planned[0]), 40)
    answer = visits.check_in(
        engine, lucia(seed), planned[0], key(1), fix, FakeCheck(), received_at=NOW
    )
    assert answer.status == 200 and answer.body["distance_m"] == 40
    with Session(engine) as s:
        attempt = s.scalars(select(CallAttempt)).one()
        visit = s.get(FieldVisit, planned[0])
        assert visit is not None
        assert (attempt.channel, attempt.source, attempt.result) == ("visit", "field", None)
        assert attempt.details == {
            "visit_id": planned[0],
            "lat": fix.lat,
            "lon": fix.lon,
            "accuracy_m": 10.0,
            "distance_m": 40,
            "device_at": NOW.isoformat(),
            "time_source": "receipt",
        }
        assert attempt.decision_id is not None
        assert (visit.status, visit.attempt_id) == ("checked_in", attempt.id)


@pytest.mark.parametrize(
    ("metres", "accuracy", "status", "shown"),
    [(2000, 10, 422, "2,0 km"), (190, 10, 422, "190 m"), (190, 45, 200, None),
     (230, 80, 422, "230 m"), (30, 150, 422, "poco precisa")],
)  # fmt: skip
def test_given_fix_far_or_imprecise_then_refused_with_the_distance(
    engine: Engine, seed: FieldSeed, planned: list[int], metres: int, accuracy: float,
    status: int, shown: str | None,
) -> None:  # fmt: skip
    fix = fix_near(address(engine, planned[0]), metres, accuracy)
    answer = visits.check_in(
        engine, lucia(seed), planned[0], key(1), fix, FakeCheck(), received_at=NOW
    )
    assert answer.status == status, answer.body
    if shown:
        assert shown in answer.body["reason"]
        assert answer.body["distance_m"] == pytest.approx(metres, abs=1)
        assert count(engine, CallAttempt) == 0
        with Session(engine) as s:
            refused = s.scalars(
                select(AuditEntry).where(AuditEntry.kind == "visit_checkin_refused")
            ).one()
        assert f'"distance_m":{answer.body["distance_m"]}' in refused.payload


def test_given_compliance_refuses_at_checkin_then_blocked_attempt_and_visit_stays_planned(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    check = FakeCheck({seed.accounts["MX-0"]: ("outside_hours",)})
    visit_id = next(v for v in planned if _account_of(engine, v) == seed.accounts["MX-0"])
    answer = visits.check_in(
        engine,
        lucia(seed),
        visit_id,
        key(1),
        fix_near(address(engine, visit_id), 5),
        check,
        received_at=NOW,
    )
    assert answer.status == 403 and answer.body["reasons"] == ["outside_hours"]
    assert "fuera del horario" in answer.body["reason"]
    with Session(engine) as s:
        attempt = s.scalars(select(CallAttempt)).one()
        assert attempt.result == "blocked" and attempt.channel == "visit"
        visit = s.get(FieldVisit, visit_id)
        assert visit is not None and visit.status == "planned"


def _account_of(engine: Engine, visit_id: int) -> int:
    with Session(engine) as s:
        visit = s.get(FieldVisit, visit_id)
        assert visit is not None
        return visit.account_id


def test_given_another_agents_visit_when_checking_in_or_syncing_then_not_found_and_untouched(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    mario = visits.Agent(seed.agents["mario"], "user:mario")
    fix = fix_near(address(engine, planned[0]), 5)
    assert (
        visits.check_in(engine, mario, planned[0], key(1), fix, FakeCheck(), received_at=NOW).status
        == 404
    )
    assert visits.record_result(engine, mario, planned[0], key(2), {}, NOW).status == 404
    assert visits.skip(engine, mario, planned[0], key(3), "", None, NOW).status == 404
    assert (
        visits.check_in(engine, mario, 987_654, key(4), fix, FakeCheck(), received_at=NOW).status
        == 404
    )
    assert count(engine, CallAttempt) == 0 and count(engine, FieldSyncKey) == 0
    # Lucía's own check-in still works afterwards with any of those keys.
    assert (
        visits.check_in(
            engine, lucia(seed), planned[0], key(1), fix, FakeCheck(), received_at=NOW
        ).status
        == 200
    )


RESULT = {"party": "titular", "outcome": "promesa_pago", "promise_amount": "1500.00",
          "promise_date": "2026-12-01", "address_verified": True, "reason_not_paying": "desempleo",
          "new_phone": "55 1234 9999", "notes": "Atendió en la puerta.",
          "photo": "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()}  # fmt: skip


def checked_in(engine: Engine, seed: FieldSeed, visit_id: int) -> None:
    fix = fix_near(address(engine, visit_id), 20)
    assert (
        visits.check_in(
            engine, lucia(seed), visit_id, key(visit_id + 500), fix, FakeCheck(), received_at=NOW
        ).status
        == 200
    )


def test_given_promise_result_then_disposition_promise_hold_phone_and_audit(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    checked_in(engine, seed, planned[0])
    later = NOW + timedelta(minutes=12)
    answer = visits.record_result(engine, lucia(seed), planned[0], key(7), RESULT, later)
    assert answer.status == 200 and answer.body["outcome"] == "promesa_pago"
    with Session(engine) as s:
        visit = s.get(FieldVisit, planned[0])
        assert visit is not None and visit.status == "done" and visit.photo == JPEG
        attempt = s.get(CallAttempt, visit.attempt_id)
        assert attempt is not None
        assert (attempt.result, attempt.right_party_contact, attempt.ended_at) == (
            "contact",
            True,
            later,
        )
        disposition = s.scalars(select(Disposition)).one()
        assert (disposition.party, disposition.outcome, disposition.attempt_id) == (
            "titular",
            "promesa_pago",
            attempt.id,
        )
        promise = s.scalars(select(Promise)).one()
        assert (promise.amount, promise.due_date.isoformat()) == (Decimal("1500.00"), "2026-12-01")
        account = s.get(Account, visit.account_id)
        assert account is not None and account.next_attempt_at is not None
        assert account.next_attempt_at.date().isoformat() == "2026-12-02"
        phones = s.scalars(select(Phone).where(Phone.account_id == account.id)).all()
        added = [p for p in phones if p.number_e164 == "+525512349999"]
        assert len(added) == 1 and not added[0].consent
        assert visit.answers and visit.answers["photo_bytes"] == len(JPEG)
    assert verify(engine).ok


def test_given_dispute_result_then_account_disputed(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    checked_in(engine, seed, planned[1])
    data = {"party": "titular", "outcome": "disputa", "address_verified": True}
    assert visits.record_result(engine, lucia(seed), planned[1], key(8), data, NOW).status == 200
    with Session(engine) as s:
        assert s.get(Account, _account_of(engine, planned[1])).status == "disputed"  # type: ignore[union-attr]


def test_given_result_replayed_then_applied_once_and_same_answer(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    checked_in(engine, seed, planned[0])
    first = visits.record_result(engine, lucia(seed), planned[0], key(9), RESULT, NOW)
    again = visits.record_result(engine, lucia(seed), planned[0], key(9), RESULT, NOW)
    assert first.status == again.status == 200 and again.replayed and again.body == first.body
    assert count(engine, Disposition) == 1 and count(engine, Promise) == 1
    # A second result with a new key is a conflict, not a second disposition.
    other = visits.record_result(engine, lucia(seed), planned[0], key(10), RESULT, NOW)
    assert other.status == 409 and "ya tiene resultado" in other.body["reason"]
    assert count(engine, Disposition) == 1


def test_given_a_key_used_for_another_operation_then_conflict(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    checked_in(engine, seed, planned[0])
    answer = visits.record_result(
        engine, lucia(seed), planned[0], key(planned[0] + 500), RESULT, NOW
    )
    assert answer.status == 409 and "otra operación" in answer.body["reason"]
    assert count(engine, Disposition) == 0


@pytest.mark.parametrize("bad", ["", "short", "x" * 65, "has space in it 123", "ñññññññññññññññññ"])
def test_given_bad_key_then_refused(
    engine: Engine, seed: FieldSeed, planned: list[int], bad: str
) -> None:
    with pytest.raises(visits.BadKey):
        visits.skip(engine, lucia(seed), planned[0], bad, "", None, NOW)


def test_given_result_before_checkin_then_conflict(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    answer = visits.record_result(engine, lucia(seed), planned[0], key(11), RESULT, NOW)
    assert answer.status == 409 and "registre la llegada" in answer.body["reason"]


BAD_ANSWERS = [
    ({**RESULT, "promise_amount": "9999999"}, "promise_amount", "mayor que el saldo"),
    ({**RESULT, "promise_amount": "-5"}, "promise_amount", "mayor que cero"),
    ({**RESULT, "promise_amount": "12.345"}, "promise_amount", "dos decimales"),
    ({**RESULT, "promise_amount": "mil"}, "promise_amount", "punto decimal"),
    ({**RESULT, "promise_date": "2026-11-01"}, "promise_date", "pasado"),
    ({**RESULT, "promise_date": "2027-03-01"}, "promise_date", "máximo"),
    ({**RESULT, "party": "vecino"}, "party", "quién atendió"),
    ({**RESULT, "party": "nadie"}, "outcome", "no corresponde"),
    ({**RESULT, "address_verified": "sí"}, "address_verified", "sí o no"),
    ({**RESULT, "new_phone": "123"}, "new_phone", "no es un número válido"),
    ({**RESULT, "notes": "x" * 2001}, "notes", "demasiado larga"),
    ({**RESULT, "reason_not_paying": "flojera"}, "reason_not_paying", "de la lista"),
    ({**RESULT, "notice_delivered": True}, "answers", "no hace"),
    ({**RESULT, "photo": "data:image/gif;base64,R0lGODlh"}, "photo", "JPEG o PNG"),
    ({**RESULT, "photo": "data:image/jpeg;base64,@@@@"}, "photo", "dañada"),
    ({**RESULT, "photo": "data:image/jpeg;base64," + base64.b64encode(b"GIF89a" + b"0" * 99).decode()},
     "photo", "no es la imagen"),
    ({**RESULT, "photo": "data:image/jpeg;base64,"
      + base64.b64encode(b"\xff\xd8\xff" + b"0" * MAX_PHOTO_BYTES).decode()}, "photo", "512 KB"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "field", "message"), BAD_ANSWERS)
def test_given_bad_answer_then_refused_naming_it_and_nothing_written(
    engine: Engine,
    seed: FieldSeed,
    planned: list[int],
    data: dict[str, object],
    field: str,
    message: str,
) -> None:
    checked_in(engine, seed, planned[0])
    answer = visits.record_result(engine, lucia(seed), planned[0], key(12), data, NOW)
    assert answer.status == 422
    assert message in answer.body["errors"][field], answer.body
    assert count(engine, Disposition) == 0 and count(engine, Promise) == 0
    with Session(engine) as s:
        visit = s.get(FieldVisit, planned[0])
        assert visit is not None and visit.status == "checked_in"


@pytest.mark.parametrize(
    ("day", "accepted"),
    [("2026-11-24", True), ("2026-12-09", True), ("2026-12-10", False), ("2026-11-23", False)],
)
def test_given_a_chihuahua_debtor_near_midnight_when_a_promise_is_recorded_then_bounds_from_the_zone_behind(
    engine: Engine, seed: FieldSeed, planned: list[int], day: str, accepted: bool
) -> None:
    """Region CHH: Chihuahua, Ciudad Juárez, Ojinaga. At 06:30 UTC of 25 Nov it is
    00:30 of the 25th in Chihuahua (the first zone) and 23:30 of the 24th in Ciudad
    Juárez: a promise for the 24th is the debtor's today, and the horizon (15 days)
    ends on 9 Dec, as the portal and the assistant count it."""
    checked_in(engine, seed, planned[0])
    with transaction(engine) as s:
        visit = s.get(FieldVisit, planned[0])
        assert visit is not None
        account = s.get(Account, visit.account_id)
        assert account is not None
        account.timezone, account.region = None, "CHH"
    late = datetime(2026, 11, 25, 6, 30, tzinfo=UTC)
    answer = visits.record_result(engine, lucia(seed), planned[0], key(30),
                                  {**RESULT, "promise_date": day}, late)  # fmt: skip
    assert (answer.status == 200) is accepted, answer.body


def test_given_answers_not_an_object_then_refused(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    checked_in(engine, seed, planned[0])
    answer = visits.record_result(engine, lucia(seed), planned[0], key(13), ["titular"], NOW)
    assert answer.status == 422 and "objeto" in answer.body["errors"]["answers"]


def test_given_skip_then_visit_off_and_rest_rerouted_from_here(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    here = address(engine, planned[2])
    answer = visits.skip(engine, lucia(seed), planned[1], key(14), "Calle cerrada", here, NOW)
    assert answer.status == 200
    assert sorted(answer.body["route"]) == sorted([planned[0], planned[2]])
    assert answer.body["route"][0] == planned[2]  # the agent stands at it
    with Session(engine) as s:
        rows = {v.id: v for v in s.scalars(select(FieldVisit))}
    assert rows[planned[1]].status == "skipped"
    assert (
        rows[planned[1]].route_position
        < rows[planned[2]].route_position
        < rows[planned[0]].route_position
    )
    again = visits.skip(engine, lucia(seed), planned[1], key(14), "Calle cerrada", here, NOW)
    assert again.replayed and again.body == answer.body


def test_given_fix_dated_another_day_then_conflict(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    point = address(engine, planned[0])
    fix = Fix(point[0], point[1], 5, NOW + timedelta(days=1))
    answer = visits.check_in(
        engine, lucia(seed), planned[0], key(15), fix, FakeCheck(), received_at=fix.at
    )
    assert answer.status == 409 and "otro día" in answer.body["reason"]


def test_given_a_checkin_on_another_day_when_the_result_recorded_there_syncs_then_kept_as_evidence(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    """A route cached offline past midnight: the agent went the next day. The check-in
    was a 409 written nowhere, and the result recorded at the door then a 409 too."""
    point = address(engine, planned[0])
    next_day = NOW + timedelta(days=1)
    fix = Fix(point[0], point[1], 5, next_day)
    refused = visits.check_in(engine, lucia(seed), planned[0], key(16), fix, FakeCheck(),
                              received_at=next_day)  # fmt: skip
    assert refused.status == 409 and refused.body["refusal"] == visits.OTHER_DAY
    stop = {"party": "titular", "outcome": "no_contactar", "address_verified": True}
    answer = visits.record_result(engine, lucia(seed), planned[0], key(17), stop, next_day)
    assert answer.status == 200 and answer.body["refused"] == [visits.OTHER_DAY], answer.body
    (kept,) = _ledger(engine, planned[0])
    assert kept.started_at.replace(tzinfo=None) == next_day.replace(tzinfo=None)
    assert (kept.details["lat"], kept.details["lon"]) == (fix.lat, fix.lon)  # type: ignore[index]
    with Session(engine) as s:
        assert s.get(Account, _account_of(engine, planned[0])).status == "cease_contact"  # type: ignore[union-attr]
        assert s.get(FieldVisit, planned[0]).status == "planned"  # type: ignore[union-attr]
    assert visits.refusal_words([visits.OTHER_DAY], {}) == (
        "La llegada se registró en otro día que el de la visita.")  # fmt: skip


def _lose_coordinates(engine: Engine, account_id: int) -> None:
    with transaction(engine) as s:
        s.execute(update(Account).where(Account.id == account_id).values(latitude=None,
                                                                          longitude=None))  # fmt: skip


def _lose_zone(engine: Engine, account_id: int) -> None:
    with transaction(engine) as s:  # an explicit zone nobody can read wins over the country's
        s.execute(update(Account).where(Account.id == account_id).values(timezone="Mars/Olympus"))


@pytest.mark.parametrize(
    ("lose", "refusal", "said", "words"),
    [
        (_lose_coordinates, visits.NO_COORDINATES, "La cuenta ya no tiene coordenadas.",
         "La cuenta ya no tenía coordenadas del domicilio: no se pudo comprobar el lugar de la "
         "llegada."),
        (_lose_zone, visits.ZONE_UNKNOWN, "No se conoce la zona horaria del deudor: no se puede "
         "confirmar el día ni la hora de la visita.",
         "No se conocía la zona horaria del deudor: no se pudo confirmar el día ni la hora de la "
         "visita."),
    ],
)  # fmt: skip
def test_given_an_account_that_lost_its_coordinates_or_zone_when_the_result_recorded_at_the_door_syncs_then_kept_as_evidence(
    engine: Engine,
    seed: FieldSeed,
    planned: list[int],
    lose: Callable[[Engine, int], None],
    refusal: str,
    said: str,
    words: str,
) -> None:
    """The account's coordinates, or its debtor's zone, went after the plan (a new
    import): the check-in was a 409 written nowhere ('La visita está planeada para otro
    día' for the zone), so the result recorded at the door was a 409 'Primero registre
    la llegada' and the contact was lost. The refusal is now audited with the fix and
    the result kept as evidence, the visit still planned, nothing set going."""
    visit_id = planned[0]
    fix = fix_near(address(engine, visit_id), 10)
    lose(engine, _account_of(engine, visit_id))
    refused = visits.check_in(engine, lucia(seed), visit_id, key(18), fix, FakeCheck(),
                              received_at=NOW)  # fmt: skip
    assert refused.status == 409 and refused.body["refusal"] == refusal, refused.body
    assert refused.body["reason"] == said and refused.facts["refused"] == [refusal]
    with Session(engine) as s:
        (entry,) = s.scalars(
            select(AuditEntry.payload).where(AuditEntry.kind == "visit_checkin_refused")
        ).all()
    assert json.loads(entry)["reason"] == refusal and json.loads(entry)["lat"] == fix.lat
    stop = {"party": "titular", "outcome": "no_contactar", "address_verified": True}
    answer = visits.record_result(engine, lucia(seed), visit_id, key(19), stop,
                                  NOW + timedelta(minutes=10))  # fmt: skip
    assert answer.status == 200, answer.body
    assert answer.body["evidence_only"] is True and answer.body["refused"] == [refusal]
    assert answer.body["notice"] == visits.REFUSED_RESULT_MESSAGE
    (kept,) = _ledger(engine, visit_id)
    assert (kept.result, kept.decision_id) == ("contact", None)
    assert kept.details["evidence_only"] == visits.EVIDENCE_REFUSED  # type: ignore[index]
    assert (kept.details["lat"], kept.details["lon"]) == (fix.lat, fix.lon)  # type: ignore[index]
    assert kept.started_at.replace(tzinfo=None) == NOW.replace(tzinfo=None)  # the arrival's
    with Session(engine) as s:
        assert s.get(Account, _account_of(engine, visit_id)).status == "cease_contact"  # type: ignore[union-attr]
        assert s.get(FieldVisit, visit_id).status == "planned"  # type: ignore[union-attr]
    assert visits.refusal_words([refusal], visits.refused_facts(kept.details or {})) == words
    again = visits.check_in(engine, lucia(seed), visit_id, key(18), fix, FakeCheck(),
                            received_at=NOW)  # fmt: skip
    assert again.replayed and again.body == refused.body
    assert verify(engine).ok


def test_helper_distance_of_fix_near_is_what_it_says() -> None:
    fix = fix_near((19.35, -99.16), 40)
    assert distance_m(19.35, -99.16, fix.lat, fix.lon) == pytest.approx(40, abs=0.5)


def test_given_promise_at_the_door_then_the_strategy_confirms_it_like_a_calls(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    """outreach's scheduler finds promises from any channel: the account is due for its
    strategy's promise_made step (the written confirmation)."""
    from outreach.step_store import mark_promise_accounts

    checked_in(engine, seed, planned[0])
    assert visits.record_result(engine, lucia(seed), planned[0], key(20), RESULT, NOW).status == 200
    later = NOW + timedelta(minutes=1)
    assert mark_promise_accounts(engine, later) == 1
    with Session(engine) as s:
        account = s.get(Account, _account_of(engine, planned[0]))
        assert account is not None and account.next_step_at == later


# The time a check-in is judged at (field/visit_time.py) ---------------------------------

# 23:00 in Mexico City on the visit's day; the phone's clock shows 10:00 (13 h behind).
LATE = NOW + timedelta(hours=13)
BEHIND = timedelta(hours=13)


def _refusals(engine: Engine) -> list[str]:
    with Session(engine) as s:
        return list(s.scalars(
            select(AuditEntry.payload).where(AuditEntry.kind == "visit_checkin_refused")
            .order_by(AuditEntry.id)))  # fmt: skip


def test_given_phone_clock_13h_behind_when_checking_in_online_at_23h_then_judged_at_receipt(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    point = address(engine, planned[0])
    fix = Fix(point[0], point[1], 5, LATE - BEHIND)  # the phone says 10:00
    check = FakeCheck()
    answer = visits.check_in(engine, lucia(seed), planned[0], key(30), fix, check,
                             received_at=LATE,
                             device=DeviceClock(sent_at=LATE - BEHIND + timedelta(seconds=3)))  # fmt: skip
    assert answer.status == 200, answer.body
    assert [at for _, at in check.asked] == [LATE]  # 23:00, not the phone's 10:00
    with Session(engine) as s:
        visit = s.get(FieldVisit, planned[0])
        attempt = s.scalars(select(CallAttempt)).one()
        assert visit is not None and visit.checked_in_at is not None
        assert visit.checked_in_at.replace(tzinfo=None) == LATE.replace(tzinfo=None)
        assert attempt.details["device_at"] == (LATE - BEHIND).isoformat()
        assert attempt.details["time_source"] == "receipt"


def test_given_offline_checkin_with_a_steady_wrong_clock_then_judged_at_the_corrected_act(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    point = address(engine, planned[0])
    acted = NOW + timedelta(hours=2)  # really 12:00 local, queued until 22:30
    received = NOW + timedelta(hours=12, minutes=30)
    fix = Fix(point[0], point[1], 5, acted - BEHIND)
    clock = DeviceClock(sent_at=received - BEHIND, synced_server_at=NOW + timedelta(hours=1),
                        synced_device_at=NOW + timedelta(hours=1) - BEHIND)  # fmt: skip
    check = FakeCheck()
    answer = visits.check_in(engine, lucia(seed), planned[0], key(31), fix, check,
                             received_at=received, device=clock)  # fmt: skip
    assert answer.status == 200, answer.body
    assert [at for _, at in check.asked] == [acted]


def test_given_offline_checkin_with_clock_set_back_after_the_sync_then_refused_with_both_times(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    point = address(engine, planned[0])
    # Synced at 09:00 with a right clock, set back 13 h, "checked in" at 23:00 as 10:00,
    # sent the next minute with the clock still set back.
    fix = Fix(point[0], point[1], 5, LATE - BEHIND)
    clock = DeviceClock(sent_at=LATE - BEHIND + timedelta(minutes=10), synced_server_at=NOW - timedelta(hours=1),
                        synced_device_at=NOW - timedelta(hours=1))  # fmt: skip
    check = FakeCheck()
    answer = visits.check_in(engine, lucia(seed), planned[0], key(32), fix, check,
                             received_at=LATE + timedelta(minutes=10), device=clock)  # fmt: skip
    assert answer.status == 422, answer.body
    assert answer.body["refusal"] == "clock_unsure" and answer.body["why"] == "clock_changed"
    assert "reloj del teléfono" in answer.body["reason"]
    assert check.asked == [] and count(engine, CallAttempt) == 0
    (payload,) = _refusals(engine)
    assert '"reason":"clock_unsure"' in payload and '"why":"clock_changed"' in payload
    assert (LATE - BEHIND).isoformat()[:19] in payload  # the phone's time
    assert (LATE + timedelta(minutes=10)).isoformat()[:19] in payload  # the receipt
    with Session(engine) as s:
        visit = s.get(FieldVisit, planned[0])
        assert visit is not None and visit.status == "planned"


def test_given_an_app_without_clock_report_and_an_old_fix_then_refused(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    point = address(engine, planned[0])
    fix = Fix(point[0], point[1], 5, LATE - BEHIND)
    answer = visits.check_in(engine, lucia(seed), planned[0], key(33), fix, FakeCheck(),
                             received_at=LATE)  # fmt: skip
    assert answer.status == 422 and answer.body["why"] == "no_clock_report"


@pytest.mark.parametrize(
    ("change", "barred"),
    [({"protection": "deceased"}, "deceased"), ({"status": "disputed"}, "disputed"),
     ({"status": "paid"}, "not_delinquent")],
)  # fmt: skip
def test_given_the_account_barred_after_the_checkin_when_a_promise_is_synced_then_kept_as_evidence_only(
    engine: Engine, seed: FieldSeed, planned: list[int], change: dict[str, str], barred: str
) -> None:
    # Checked in at 10:00, the result queued offline; meanwhile the account changed.
    checked_in(engine, seed, planned[0])
    account_id = _account_of(engine, planned[0])
    with transaction(engine) as s:
        s.execute(update(Account).where(Account.id == account_id).values(**change))
    later = NOW + timedelta(hours=3)
    answer = visits.record_result(engine, lucia(seed), planned[0], key(70), RESULT, later)
    assert answer.status == 200 and answer.body["barred"]
    assert any(barred in r for r in answer.body["barred"]) and answer.body["notice"]
    with Session(engine) as s:
        assert s.scalars(select(Promise)).all() == []  # nothing to chase
        disposition = s.scalars(select(Disposition)).one()  # what happened at the door: kept
        assert disposition.outcome == "promesa_pago"
        account = s.get(Account, account_id)
        assert account is not None and account.next_attempt_at is None
        entry = s.scalars(select(AuditEntry).where(AuditEntry.kind == "disposition")).one()
        payload = json.loads(entry.payload)
        assert payload["barred"] == answer.body["barred"]
        assert Decimal(str(payload["promise_not_recorded"]["amount"])) == Decimal("1500.00")
    # Sent again from the queue: the same answer, nothing more.
    again = visits.record_result(engine, lucia(seed), planned[0], key(70), RESULT, later)
    assert again.replayed and again.body == answer.body
    assert verify(engine).ok


def test_given_a_protected_person_on_another_debt_when_a_promise_is_synced_then_not_recorded(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    checked_in(engine, seed, planned[0])
    account_id = _account_of(engine, planned[0])
    with transaction(engine) as s:
        number = s.scalars(select(Phone.number_e164).where(Phone.account_id == account_id)).one()
        other = s.get(Account, seed.accounts["MX-5"])
        assert other is not None
        other.protection = "insolvency"
        other.phones.append(Phone(number_e164=number, consent=True, consent_ref="C", position=2))
    answer = visits.record_result(engine, lucia(seed), planned[0], key(71), RESULT, NOW)
    assert answer.status == 200 and answer.body["barred"]
    assert count(engine, Promise) == 0


def test_given_an_account_still_active_then_no_bar_in_the_answer(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    checked_in(engine, seed, planned[0])
    answer = visits.record_result(engine, lucia(seed), planned[0], key(72), RESULT, NOW)
    assert answer.status == 200 and "barred" not in answer.body and "notice" not in answer.body
    assert count(engine, Promise) == 1


def _result_audit(engine: Engine) -> dict[str, object]:
    with Session(engine) as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.kind == "disposition")).one()
        return dict(json.loads(entry.payload))


def test_given_a_result_queued_offline_on_a_phone_3h_fast_then_filed_at_the_act_with_both_times(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    checked_in(engine, seed, planned[0])  # 10:00, online
    fast = timedelta(hours=3)
    acted = NOW + timedelta(minutes=20)  # the result, typed offline at the door
    received = NOW + timedelta(hours=4)  # synced at 14:00
    clock = DeviceClock(sent_at=received + fast, synced_server_at=NOW + timedelta(minutes=5),
                        synced_device_at=NOW + timedelta(minutes=5) + fast)  # fmt: skip
    answer = visits.record_result(engine, lucia(seed), planned[0], key(80), RESULT, received,
                                  acted_at=acted + fast, device=clock)  # fmt: skip
    assert answer.status == 200
    with Session(engine) as s:
        visit = s.get(FieldVisit, planned[0])
        assert visit is not None and visit.ended_at is not None
        attempt = s.get(CallAttempt, visit.attempt_id)
        assert attempt is not None and attempt.ended_at is not None
        assert _utc(visit.ended_at) == _utc(attempt.ended_at) == acted
    payload = _result_audit(engine)
    assert payload["time_source"] == "device"
    assert datetime.fromisoformat(str(payload["device_at"])) == acted + fast
    assert datetime.fromisoformat(str(payload["received_at"])) == received
    assert datetime.fromisoformat(str(payload["at"])) == acted


@pytest.mark.parametrize(
    ("acted", "sync_device_offset", "why"),
    [(NOW + timedelta(days=3), timedelta(0), "clock_changed"),  # set days ahead offline
     (NOW - timedelta(days=2), timedelta(0), "clock_changed"),  # set days back offline
     (NOW + timedelta(minutes=20), None, "no_sync_before")],
)  # fmt: skip
def test_given_a_result_whose_phone_time_cannot_be_trusted_then_filed_at_the_receipt_never_lost(
    engine: Engine,
    seed: FieldSeed,
    planned: list[int],
    acted: datetime,
    sync_device_offset: timedelta | None,
    why: str,
) -> None:
    checked_in(engine, seed, planned[0])
    received = NOW + timedelta(hours=1)
    synced = NOW + timedelta(minutes=5)
    clock = DeviceClock(
        sent_at=received + (acted - NOW - timedelta(minutes=20)),
        synced_server_at=synced if sync_device_offset is not None else None,
        synced_device_at=synced + sync_device_offset if sync_device_offset is not None else None,
    )
    answer = visits.record_result(engine, lucia(seed), planned[0], key(81), RESULT, received,
                                  acted_at=acted, device=clock)  # fmt: skip
    assert answer.status == 200
    with Session(engine) as s:
        visit = s.get(FieldVisit, planned[0])
        assert visit is not None and visit.ended_at is not None
        assert _utc(visit.ended_at) == received  # neither in the future nor before the arrival
    payload = _result_audit(engine)
    assert (payload["time_source"], payload["why"]) == ("receipt", why)
    assert datetime.fromisoformat(str(payload["device_at"])) == acted


def test_given_an_app_without_the_acts_time_then_filed_at_the_receipt(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    checked_in(engine, seed, planned[0])
    received = NOW + timedelta(minutes=30)
    assert (
        visits.record_result(engine, lucia(seed), planned[0], key(82), RESULT, received).status
        == 200
    )
    payload = _result_audit(engine)
    assert (payload["time_source"], payload["device_at"]) == ("receipt", None)


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def test_given_a_visit_cancelled_while_the_agent_was_offline_at_the_door_when_it_syncs_then_kept_as_evidence_only(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    """Checked in and answered offline at 10:00; the supervisor cancelled the visit at
    10:05; the phone syncs at 13:00. The server answered 409 to both and the door
    contact existed only on the phone."""
    from compliance.ledger import load_history

    visit_id, account_id = planned[0], _account_of(engine, planned[0])
    plans.cancel(engine, "user:sofia", visit_id, NOW + timedelta(minutes=5))
    later = NOW + timedelta(hours=3)
    fix = fix_near(address(engine, visit_id), 20)
    clock = DeviceClock(sent_at=later, synced_server_at=NOW - timedelta(minutes=30),
                        synced_device_at=NOW - timedelta(minutes=30))  # fmt: skip
    arrived = visits.check_in(engine, lucia(seed), visit_id, key(80), fix, FakeCheck(),
                              received_at=later, device=clock)  # fmt: skip
    assert arrived.status == 200 and arrived.body["evidence_only"] is True
    assert arrived.body["notice"] == visits.CANCELLED_CHECKIN_MESSAGE
    answer = visits.record_result(engine, lucia(seed), visit_id, key(81), RESULT, later)
    assert answer.status == 200 and answer.body["evidence_only"] is True
    assert answer.body["notice"] == visits.CANCELLED_RESULT_MESSAGE
    with Session(engine) as s:
        visit = s.get(FieldVisit, visit_id)
        assert visit is not None and visit.status == "cancelled"  # still not the agent's
        assert visit.answers is not None and visit.photo == JPEG
        attempt = s.scalars(select(CallAttempt)).one()  # in the contact ledger
        assert (attempt.channel, attempt.result, attempt.right_party_contact) == (
            "visit", "contact", True)  # fmt: skip
        assert attempt.details["evidence_only"] == visits.EVIDENCE_ONLY  # type: ignore[index]
        assert attempt.id == visit.attempt_id and attempt.decision_id is not None
        disposition = s.scalars(select(Disposition)).one()  # what was said at the door
        assert (disposition.outcome, disposition.attempt_id) == ("promesa_pago", attempt.id)
        # Nothing set going from a visit that is not the agent's any more.
        assert s.scalars(select(Promise)).all() == []
        account = s.get(Account, account_id)
        assert account is not None and account.next_attempt_at is None
        assert account.status == "active"
        numbers = s.scalars(select(Phone.number_e164).where(Phone.account_id == account_id))
        assert "+525512349999" not in list(numbers)
        kinds = {e.kind: json.loads(e.payload) for e in s.scalars(select(AuditEntry))}
        assert kinds["attempt"]["evidence_only"] == visits.EVIDENCE_ONLY
        assert kinds["disposition"]["evidence_only"] == visits.EVIDENCE_ONLY
        assert Decimal(str(kinds["disposition"]["promise_not_recorded"]["amount"])) == Decimal(
            "1500.00"
        )
        assert kinds["disposition"]["new_phone"] == "not_added"
    # The caps count the contact that happened.
    history = load_history(engine, [account_id], NOW - timedelta(days=1))[account_id]
    assert len(history.attempts) == 1 and len(history.contacts) == 1
    # Sent again from the queue: the same answers, nothing more.
    again = visits.record_result(engine, lucia(seed), visit_id, key(81), RESULT, later)
    assert again.replayed and again.body == answer.body
    other = visits.record_result(engine, lucia(seed), visit_id, key(82), RESULT, later)
    assert other.status == 409 and count(engine, Disposition) == 1
    assert verify(engine).ok


@pytest.mark.parametrize(("outcome", "status"), [("no_contactar", "cease_contact"),
                                                 ("disputa", "disputed")])  # fmt: skip
def test_given_a_cancelled_visit_when_the_debtor_asked_at_the_door_to_stop_then_the_request_holds(
    engine: Engine, seed: FieldSeed, planned: list[int], outcome: str, status: str
) -> None:
    """Evidence only, except what restricts contact: a debtor's stop or dispute binds."""
    visit_id = planned[1]
    plans.cancel(engine, "user:sofia", visit_id, NOW)
    assert visits.check_in(engine, lucia(seed), visit_id, key(83),
                           fix_near(address(engine, visit_id), 10), FakeCheck(),
                           received_at=NOW).status == 200  # fmt: skip
    data = {"party": "titular", "outcome": outcome, "address_verified": True}
    assert visits.record_result(engine, lucia(seed), visit_id, key(84), data, NOW).status == 200
    with Session(engine) as s:
        assert s.get(Account, _account_of(engine, visit_id)).status == status  # type: ignore[union-attr]
        assert s.get(FieldVisit, visit_id).status == "cancelled"  # type: ignore[union-attr]


def test_given_a_cancelled_visit_when_a_checkin_is_far_then_refused_and_when_the_law_refuses_it_then_kept_with_the_refusal(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    """Far from the door is no evidence of a door contact: refused as a live one. The
    law's refusal now does not undo a contact made: kept, the refusal beside it."""
    visit_id = planned[2]
    plans.cancel(engine, "user:sofia", visit_id, NOW)
    far = visits.check_in(engine, lucia(seed), visit_id, key(85),
                          fix_near(address(engine, visit_id), 2000), FakeCheck(), received_at=NOW)  # fmt: skip
    assert far.status == 422
    refuse = FakeCheck()
    refuse.refuse[_account_of(engine, visit_id)] = ("outside_hours",)
    kept = visits.check_in(engine, lucia(seed), visit_id, key(86),
                           fix_near(address(engine, visit_id), 10), refuse, received_at=NOW)  # fmt: skip
    assert kept.status == 200 and kept.body["evidence_only"]
    assert kept.body["refused"] == ["outside_hours"]
    with Session(engine) as s:
        attempt = s.scalars(select(CallAttempt)).one()
        assert attempt.result is None and attempt.details["refused"] == ["outside_hours"]  # type: ignore[index]
        assert s.get(FieldVisit, visit_id).attempt_id == attempt.id  # type: ignore[union-attr]
    # Another agent's visit, cancelled or not, is still not found.
    mario = visits.Agent(seed.agents["mario"], "user:mario")
    assert visits.check_in(engine, mario, planned[0], key(87), fix_near(address(engine, planned[0]), 10),
                           FakeCheck(), received_at=NOW).status == 404  # fmt: skip


def test_given_a_visit_cancelled_and_given_to_another_agent_who_went_first_when_the_first_agent_syncs_then_her_contact_is_kept_as_evidence(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    """Lucía talked to the debtor at 10:00, offline; at 10:05 the visit was taken from
    her and given to Mario, who checked in at 11:00 online. At 13:00 her phone syncs:
    the day's visit cap (one a day in MX) now counts Mario's visit, so the law's check
    of her arrival refuses it; the contact still happened and is kept, the refusal
    recorded with it (it was 403, and her result then 409: lost)."""
    from compliance.profile import load_profiles
    from field.visit_rules import profile_visit_check

    check = profile_visit_check(load_profiles())
    account_id = _account_of(engine, planned[0])
    plans.cancel(engine, "user:sofia", planned[0], NOW + timedelta(minutes=5))
    mario = visits.Agent(seed.agents["mario"], "user:mario")
    given = plans.assign(engine, seed.supervisor_id, "user:sofia", mario.id, TODAY,
                         [account_id], FakeCheck(), NOW + timedelta(minutes=5)).planned  # fmt: skip
    door = address(engine, planned[0])
    at_eleven = NOW + timedelta(hours=1)
    assert visits.check_in(engine, mario, given[0], key(90), Fix(door[0], door[1], 5, at_eleven),
                           check, received_at=at_eleven).status == 200  # fmt: skip
    later = NOW + timedelta(hours=3)
    clock = DeviceClock(sent_at=later, synced_server_at=NOW - timedelta(minutes=30),
                        synced_device_at=NOW - timedelta(minutes=30))  # fmt: skip
    arrived = visits.check_in(engine, lucia(seed), planned[0], key(91), Fix(door[0], door[1], 5, NOW),
                              check, received_at=later, device=clock)  # fmt: skip
    assert arrived.status == 200 and arrived.body["evidence_only"], arrived.body
    assert arrived.body["refused"]  # what the law's check said, kept with it
    data = {"party": "titular", "outcome": "rehusa", "address_verified": True}
    answer = visits.record_result(engine, lucia(seed), planned[0], key(92), data, later)
    assert answer.status == 200 and answer.body["evidence_only"]
    with Session(engine) as s:
        attempts = s.scalars(select(CallAttempt).order_by(CallAttempt.started_at)).all()
        assert [(a.agent_id, a.result) for a in attempts] == [
            (seed.agents["lucia"], "contact"), (mario.id, None)]  # fmt: skip
        assert attempts[0].details["refused"] == arrived.body["refused"]  # type: ignore[index]
        assert s.scalars(select(Disposition.outcome)).all() == ["rehusa"]
    assert verify(engine).ok


# A result recorded offline after a check-in the server refused -----------------------


def _refused_by_the_law(engine: Engine, seed: FieldSeed, visit_id: int) -> None:
    check = FakeCheck({_account_of(engine, visit_id): ("attempt_cap_day",)})
    fix = fix_near(address(engine, visit_id), 5)
    answer = visits.check_in(engine, lucia(seed), visit_id, key(90), fix, check, received_at=NOW)
    assert answer.status == 403 and answer.body["reasons"] == ["attempt_cap_day"]


def _ledger(engine: Engine, visit_id: int) -> list[CallAttempt]:
    with Session(engine) as s:
        rows = s.scalars(select(CallAttempt).order_by(CallAttempt.id)).all()
        return [a for a in rows if (a.details or {}).get("visit_id") == visit_id]


def test_given_a_checkin_refused_by_the_law_when_its_result_syncs_then_kept_as_evidence_and_nothing_set_going(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    """The result queued after the check-in was answered 409 ('Primero registre la
    llegada'), and the door contact was lost: in no ledger, no disposition, no audit."""
    visit_id = planned[0]
    _refused_by_the_law(engine, seed, visit_id)
    answer = visits.record_result(engine, lucia(seed), visit_id, key(91), RESULT,
                                  NOW + timedelta(minutes=20))  # fmt: skip
    assert answer.status == 200, answer.body
    assert answer.body["evidence_only"] is True and answer.body["refused"] == ["attempt_cap_day"]
    assert answer.body["notice"] == visits.REFUSED_RESULT_MESSAGE
    blocked, kept = _ledger(engine, visit_id)
    assert blocked.result == "blocked"  # the refusal itself stays as it was written
    assert (kept.result, kept.channel, kept.agent_id) == ("contact", "visit", seed.agents["lucia"])
    assert kept.decision_id == blocked.decision_id and kept.right_party_contact
    assert kept.details["evidence_only"] == visits.EVIDENCE_REFUSED
    assert kept.details["refused"] == ["attempt_cap_day"]
    assert kept.started_at.replace(tzinfo=None) == NOW.replace(tzinfo=None)  # the arrival
    with Session(engine) as s:
        visit = s.get(FieldVisit, visit_id)
        assert visit is not None
        # The refusal forbids the visit: it stays planned, no promise, no number added.
        assert (visit.status, visit.attempt_id, visit.answers) == ("planned", None, None)
        assert visit.photo == JPEG  # the door's photo is evidence too
        assert s.scalars(select(Promise)).all() == []
        phones = s.scalars(select(Phone.number_e164).where(
            Phone.account_id == visit.account_id)).all()  # fmt: skip
        assert not any(p.endswith("5512349999") for p in phones)
        disposition = s.scalars(select(Disposition)).one()
        assert (disposition.attempt_id, disposition.outcome) == (kept.id, "promesa_pago")
        entries = {e.kind: json.loads(e.payload) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.kind.in_(["attempt", "disposition"])))}  # fmt: skip
    assert entries["attempt"]["evidence_only"] == "checkin_refused"
    assert entries["disposition"]["evidence_only"] == "checkin_refused"
    assert entries["disposition"]["refused"] == ["attempt_cap_day"]
    assert "promise_not_recorded" in entries["disposition"]
    assert entries["disposition"]["new_phone"] == "not_added"
    # A replay answers the same; another result for the same door is not a second contact.
    again = visits.record_result(engine, lucia(seed), visit_id, key(91), RESULT, NOW)
    assert again.replayed and again.body == answer.body
    other = visits.record_result(engine, lucia(seed), visit_id, key(92), RESULT, NOW)
    assert other.status == 409 and len(_ledger(engine, visit_id)) == 2
    # The console says it in the agent's language.
    activate("en")
    try:
        english = gettext_(visits.REFUSED_RESULT_MESSAGE)
    finally:
        activate("es")
    assert english.startswith("Your arrival was not accepted, but what you recorded")


def test_given_a_checkin_refused_for_an_untrusted_clock_when_its_result_syncs_then_kept_at_the_receipt(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    point = address(engine, planned[0])
    fix = Fix(point[0], point[1], 5, LATE - BEHIND)
    clock = DeviceClock(sent_at=LATE - BEHIND + timedelta(minutes=10),
                        synced_server_at=NOW - timedelta(hours=1),
                        synced_device_at=NOW - timedelta(hours=1))  # fmt: skip
    received = LATE + timedelta(minutes=10)
    refused = visits.check_in(engine, lucia(seed), planned[0], key(93), fix, FakeCheck(),
                              received_at=received, device=clock)  # fmt: skip
    assert refused.status == 422 and refused.body["refusal"] == "clock_unsure"
    stop = {"party": "titular", "outcome": "no_contactar", "address_verified": True}
    answer = visits.record_result(engine, lucia(seed), planned[0], key(94), stop, received)
    assert answer.status == 200, answer.body
    assert answer.body["refused"] == ["clock_unsure"] and answer.body["evidence_only"] is True
    (kept,) = _ledger(engine, planned[0])
    assert kept.result == "contact" and kept.decision_id is None
    assert kept.started_at.replace(tzinfo=None) == received.replace(tzinfo=None)  # no clock trusted
    with Session(engine) as s:
        visit = s.get(FieldVisit, planned[0])
        assert visit is not None and visit.status == "planned"
        account = s.get(Account, visit.account_id)
        # What the debtor asked at the door to restrict contact holds all the same.
        assert account is not None and account.status == "cease_contact"


def test_given_no_checkin_when_a_result_comes_then_still_first_the_arrival(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    answer = visits.record_result(engine, lucia(seed), planned[0], key(96), RESULT, NOW)
    assert answer.status == 409 and "Primero registre la llegada" in answer.body["reason"]
    assert count(engine, CallAttempt) == 0 and count(engine, Disposition) == 0


@pytest.mark.parametrize(
    ("metres", "accuracy", "refusal"), [(2000, 10.0, "too_far"), (60, 400.0, "inaccurate")]
)
def test_given_a_checkin_refused_as_far_when_its_result_syncs_then_kept_as_evidence_with_the_distance(
    engine: Engine,
    seed: FieldSeed,
    planned: list[int],
    metres: float,
    accuracy: float,
    refusal: str,
) -> None:
    """The geofence's refusal lost the door contact (the result was 409 'Primero registre
    la llegada'): the debtor's promise, stop or dispute existed nowhere and the caps did
    not count the visit. Kept as the law's and the clock's refusals are, the distance and
    where the phone was beside it; nothing set going, the visit still planned."""
    visit_id = planned[0]
    fix = fix_near(address(engine, visit_id), metres, accuracy)
    far = visits.check_in(engine, lucia(seed), visit_id, key(95), fix, FakeCheck(), received_at=NOW)
    assert far.status == 422 and far.body["refusal"] == refusal
    answer = visits.record_result(engine, lucia(seed), visit_id, key(96), RESULT,
                                  NOW + timedelta(minutes=15))  # fmt: skip
    assert answer.status == 200, answer.body
    assert answer.body["evidence_only"] is True and answer.body["refused"] == [refusal]
    assert answer.body["notice"] == visits.REFUSED_RESULT_MESSAGE
    assert answer.body["refused_facts"] == {
        "distance_m": far.body["distance_m"],
        "accuracy_m": accuracy,
    }
    (kept,) = _ledger(engine, visit_id)
    assert (kept.result, kept.agent_id, kept.decision_id) == ("contact", seed.agents["lucia"], None)
    assert kept.details["evidence_only"] == visits.EVIDENCE_REFUSED  # type: ignore[index]
    assert kept.details["refused"] == [refusal]  # type: ignore[index]
    assert kept.details["distance_m"] == far.body["distance_m"]  # type: ignore[index]
    assert (kept.details["lat"], kept.details["lon"]) == (fix.lat, fix.lon)  # type: ignore[index]
    # Sent as the agent acted, the arrival was judged at its receipt: the contact's time.
    assert kept.started_at.replace(tzinfo=None) == NOW.replace(tzinfo=None)
    with Session(engine) as s:
        visit = s.get(FieldVisit, visit_id)
        assert visit is not None
        assert (visit.status, visit.attempt_id, visit.answers) == ("planned", None, None)
        assert visit.photo == JPEG
        assert s.scalars(select(Promise)).all() == []
        phones = s.scalars(
            select(Phone.number_e164).where(Phone.account_id == visit.account_id)
        ).all()
        assert not any(p.endswith("5512349999") for p in phones)
        assert s.scalars(select(Disposition.outcome)).all() == ["promesa_pago"]
        disposition = json.loads(s.scalars(select(AuditEntry.payload).where(
            AuditEntry.kind == "disposition")).one())  # fmt: skip
    assert disposition["evidence_only"] == "checkin_refused" and disposition["refused"] == [refusal]
    assert "promise_not_recorded" in disposition and disposition["new_phone"] == "not_added"
    again = visits.record_result(engine, lucia(seed), visit_id, key(96), RESULT, NOW)
    assert again.replayed and again.body == answer.body
    other = visits.record_result(engine, lucia(seed), visit_id, key(97), RESULT, NOW)
    assert other.status == 409 and len(_ledger(engine, visit_id)) == 1
    assert verify(engine).ok


def test_given_a_far_checkin_when_the_debtor_asked_at_the_door_to_stop_then_the_stop_holds(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    visit_id = planned[1]
    far = fix_near(address(engine, visit_id), 900)
    assert visits.check_in(engine, lucia(seed), visit_id, key(98), far, FakeCheck(),
                           received_at=NOW).status == 422  # fmt: skip
    stop = {"party": "titular", "outcome": "no_contactar", "address_verified": False}
    assert visits.record_result(engine, lucia(seed), visit_id, key(99), stop, NOW).status == 200
    with Session(engine) as s:
        assert s.get(Account, _account_of(engine, visit_id)).status == "cease_contact"  # type: ignore[union-attr]


def test_given_a_far_checkin_then_told_in_the_agents_language_with_the_distance() -> None:
    """The geofence's refusal was an f-string: Spanish for an English agent too."""
    assert visits.far_message("too_far", 2345, 150) == (
        "Está a 2,3 km del domicilio; la llegada se registra a 150 m o menos.")  # fmt: skip
    assert visits.far_message("inaccurate", 80, 100) == (
        "La ubicación es poco precisa (más de 100 m); espere una mejor señal. "
        "Distancia estimada: 80 m.")  # fmt: skip
    activate("en")
    try:
        english = visits.far_message("too_far", 2345, 150, gettext_, "en")
        why = visits.refusal_words(["too_far"], {"distance_m": 2345}, gettext_, "en")
        rough = visits.refusal_words(["inaccurate"], {"accuracy_m": 412.4}, gettext_, "en")
    finally:
        activate("es")
    assert english == "You are 2.3 km from the address; an arrival is recorded within 150 m."
    assert why == "The arrival's location was 2.3 km from the address, too far."
    assert rough == "The arrival's location was too imprecise (±412 m)."
    assert visits.refusal_words(["too_far"], {"distance_m": 640}) == (
        "La ubicación de la llegada estaba a 640 m del domicilio, demasiado lejos.")  # fmt: skip


def test_given_a_visit_cancelled_meanwhile_when_its_far_arrival_and_result_sync_then_the_contact_is_kept(
    engine: Engine, seed: FieldSeed, planned: list[int]
) -> None:
    """Cancelled while the agent was at the door offline, her arrival refused as far:
    the result was 409 'El supervisor canceló esta visita' and the contact was lost.
    Kept as evidence, the visit still cancelled, its day and the map say so."""
    from field.day import MAP_EVIDENCE, agent_day, floor_day

    visit_id = planned[2]
    plans.cancel(engine, "user:sofia", visit_id, NOW - timedelta(minutes=5))
    far = visits.check_in(engine, lucia(seed), visit_id, key(100),
                          fix_near(address(engine, visit_id), 3000), FakeCheck(), received_at=NOW)  # fmt: skip
    assert far.status == 422 and far.body["refusal"] == "too_far"
    day = agent_day(engine, seed.agents["lucia"], TODAY)
    assert visit_id not in [v["id"] for v in day["visits"]]  # nothing kept yet
    dispute = {"party": "titular", "outcome": "disputa", "address_verified": True,
               "notes": "Dice que no reconoce la deuda."}  # fmt: skip
    answer = visits.record_result(engine, lucia(seed), visit_id, key(101), dispute, NOW)
    assert answer.status == 200, answer.body
    assert answer.body["evidence_only"] and answer.body["refused"] == ["too_far"]
    assert answer.body["notice"] == visits.CANCELLED_RESULT_MESSAGE
    (kept,) = _ledger(engine, visit_id)
    assert kept.result == "contact" and kept.details["evidence_only"] == visits.EVIDENCE_REFUSED  # type: ignore[index]
    with Session(engine) as s:
        visit = s.get(FieldVisit, visit_id)
        assert visit is not None and (visit.status, visit.attempt_id) == ("cancelled", None)
        assert s.get(Account, visit.account_id).status == "disputed"  # type: ignore[union-attr]
        entry = json.loads(s.scalars(select(AuditEntry.payload).where(
            AuditEntry.kind == "attempt")).one())  # fmt: skip
    assert entry["cancelled_at"] and entry["refused"] == ["too_far"]
    day = agent_day(engine, seed.agents["lucia"], TODAY)
    (shown,) = [v for v in day["visits"] if v["id"] == visit_id]
    assert (shown["status"], shown["evidence"], shown["outcome"]) == (
        "cancelled",
        "recorded",
        "disputa",
    )
    assert shown["leg_m"] is None
    (mapped,) = [v for v in floor_day(engine, TODAY)["visits"] if v["id"] == visit_id]
    assert (mapped["status"], mapped["evidence"], mapped["outcome"]) == (
        MAP_EVIDENCE,
        "recorded",
        "disputa",
    )
    other = visits.record_result(engine, lucia(seed), visit_id, key(102), dispute, NOW)
    assert other.status == 409 and len(_ledger(engine, visit_id)) == 1


@pytest.mark.parametrize("cancelled", [False, True])
def test_given_a_door_contact_kept_after_a_refused_arrival_when_the_agent_checks_in_again_then_refused_and_replays_unchanged(
    engine: Engine, seed: FieldSeed, planned: list[int], cancelled: bool
) -> None:
    """She was told 'No repita la visita' once her result was kept, and the app offers no
    check-in for it; the server accepted one all the same (a second arrival, attempt and
    decision on a visit made, then a result applied as if none were kept: a promise and
    its hold from a visit whose contact is evidence only). Refused now with the same
    advice; the keys already used still replay their first answers."""
    visit_id = planned[1]
    if cancelled:
        plans.cancel(engine, "user:sofia", visit_id, NOW - timedelta(minutes=5))
    door = address(engine, visit_id)
    far = visits.check_in(engine, lucia(seed), visit_id, key(110), fix_near(door, 3000),
                          FakeCheck(), received_at=NOW)  # fmt: skip
    assert far.status == 422
    kept = visits.record_result(engine, lucia(seed), visit_id, key(111), RESULT, NOW)
    assert kept.status == 200 and kept.body["evidence_only"], kept.body
    later = NOW + timedelta(minutes=20)
    again = visits.check_in(engine, lucia(seed), visit_id, key(112),
                            Fix(door[0], door[1], 5.0, later), FakeCheck(), received_at=later)  # fmt: skip
    assert again.status == 409, again.body
    assert again.body["reason"] == visits.KEPT_CHECKIN_MESSAGE
    assert again.body["evidence"] == "recorded"
    activate("en")
    try:
        english = gettext_(again.body["reason"])
    finally:
        activate("es")
    assert english.startswith("What you recorded at this visit's door is already kept")
    assert len(_ledger(engine, visit_id)) == 1
    with Session(engine) as s:
        visit = s.get(FieldVisit, visit_id)
        assert visit is not None and visit.attempt_id is None and visit.checked_in_at is None
        assert visit.status == ("cancelled" if cancelled else "planned")
        assert s.scalars(select(Promise)).all() == []
    result = visits.record_result(engine, lucia(seed), visit_id, key(113), RESULT, later)
    assert result.status == 409 and len(_ledger(engine, visit_id)) == 1
    replay = visits.check_in(engine, lucia(seed), visit_id, key(110), fix_near(door, 3000),
                             FakeCheck(), received_at=later)  # fmt: skip
    assert replay.replayed and replay.body == far.body
    assert visits.check_in(engine, lucia(seed), visit_id, key(112),
                           Fix(door[0], door[1], 5.0, later), FakeCheck(),
                           received_at=later).body == again.body  # fmt: skip
    # Another visit of hers is untouched by it.
    other = visits.check_in(engine, lucia(seed), planned[0], key(114),
                            fix_near(address(engine, planned[0]), 10), FakeCheck(), received_at=NOW)  # fmt: skip
    assert other.status == 200
