"""The check-in rule and the fix it reads; the questionnaires and their outcome codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from console.dispositions import OUTCOMES as CALL_OUTCOMES
from console.dispositions import Party
from field.checkin import CheckinRules, Fix, judge, parse_fix
from field.questionnaire import OUTCOMES, PARTIES, STAGE_QUESTIONS, questionnaire
from store.geo import CoordinateError

NOW = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
HOME = (19.35, -99.16)


def north(metres: float, accuracy: float = 10) -> Fix:
    return Fix(HOME[0] + metres / 111_195.0, HOME[1], accuracy, NOW)


@pytest.mark.parametrize(
    ("metres", "accuracy", "accepted", "reason"),
    [(0, 5, True, None), (40, 10, True, None), (149.5, 0, True, None), (160, 0, False, "too_far"),
     (160, 20, True, None), (199, 60, True, None), (201, 60, False, "too_far"),
     (2000, 10, False, "too_far"), (10, 101, False, "inaccurate")],
)  # fmt: skip
def test_given_fix_then_judged_by_distance_widened_by_accuracy(
    metres: float, accuracy: float, accepted: bool, reason: str | None
) -> None:
    verdict = judge(HOME, north(metres, accuracy))
    assert (verdict.accepted, verdict.reason) == (accepted, reason)
    assert verdict.distance_m == pytest.approx(metres, abs=0.5)


def test_given_tighter_rules_then_applied() -> None:
    assert not judge(HOME, north(100), CheckinRules(radius_m=50, accuracy_allowance_m=0)).accepted


GOOD = {"lat": 19.35, "lon": -99.16, "accuracy": 12, "at": "2026-11-24T15:58:00Z"}


def test_given_good_fix_then_parsed() -> None:
    fix = parse_fix(GOOD, NOW)
    assert (fix.lat, fix.lon, fix.accuracy_m) == (19.35, -99.16, 12.0)
    assert fix.at == NOW - timedelta(minutes=2)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("19.35,-99.16", "an object"),
        ({**GOOD, "lat": "norte"}, "must be numbers"),
        ({**GOOD, "lat": None}, "must be numbers"),
        ({k: v for k, v in GOOD.items() if k != "accuracy"}, "must be numbers"),
        ({**GOOD, "lat": float("nan")}, "finite"),
        ({**GOOD, "lon": 1e400}, "finite"),
        ({**GOOD, "lat": 10**400}, "finite"),  # JSON's integer no float holds: OverflowError
        ({**GOOD, "lat": 91}, "not a point"),
        ({**GOOD, "lon": -181}, "not a point"),
        ({**GOOD, "accuracy": -1}, "negative"),
        ({**GOOD, "lat": 0, "lon": 0}, "no reading"),
        ({**GOOD, "lat": 0.0, "lon": -0.0}, "no reading"),
        ({**GOOD, "at": "ayer"}, "ISO 8601"),
        ({**GOOD, "at": "2026-11-24T15:58:00"}, "UTC offset"),
        ({**GOOD, "at": 1764000000}, "ISO 8601"),
        ({**GOOD, "at": "2" * 100}, "ISO 8601"),
        ({**GOOD, "at": "0001-01-01T00:00:00Z"}, "between the years"),
        ({**GOOD, "at": "9999-12-31T23:59:59Z"}, "between the years"),
    ],
)
def test_given_bad_fix_then_refused_saying_why(data: object, message: str) -> None:
    for now in (NOW, None):
        with pytest.raises(CoordinateError, match=message):
            parse_fix(data, now)


@pytest.mark.parametrize(
    ("at", "message"),
    [("2026-11-24T16:10:00Z", "future"), ("2026-11-23T01:00:00Z", "too old")],
)
def test_given_a_fix_off_the_servers_clock_when_filed_at_its_time_then_refused_else_kept(
    at: str, message: str
) -> None:
    """A position is filed at the phone's time: bounded by the server's clock. A check-in's
    time is judged from the phone's own clock report (field/visit_time.py): the fix is
    kept as the phone dated it, however wrong its clock."""
    with pytest.raises(CoordinateError, match=message):
        parse_fix({**GOOD, "at": at}, NOW)
    assert parse_fix({**GOOD, "at": at}).at == datetime.fromisoformat(at)
    assert parse_fix({**GOOD, "at": "1970-01-01T00:00:00Z"}).at.year == 1970


def test_given_visit_outcomes_then_call_codes_mean_the_same_and_parties_match() -> None:
    assert set(PARTIES) == {p.value for p in Party}
    for code, outcome in OUTCOMES.items():
        if code == "domicilio_incorrecto":
            continue  # the visit's own
        call = CALL_OUTCOMES[code]
        assert outcome.right_party_contact == call.right_party_contact, code
        assert outcome.parties <= {p.value for p in call.parties}, code
        assert outcome.account_status == call.account_status, code


def test_given_each_stage_then_questionnaire_asks_its_questions_in_order() -> None:
    for stage, keys in STAGE_QUESTIONS.items():
        assert [q["key"] for q in questionnaire(stage)] == list(keys)
    assert "notice_delivered" in STAGE_QUESTIONS["prelegal"]
    assert "reason_not_paying" not in STAGE_QUESTIONS["friendly"]
