"""One test per rule: each reason code appears exactly when its rule fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from compliance_builders import FRESH_IMPORT, make_request

from compliance.engine import REASONS, CounterSnapshot, Engine, RegistryAnswer, StaticRegistries
from compliance.profile import Profile

# Tuesday 2026-01-13 12:00 in Mexico City (UTC-6): inside every MX window.
NOON_MX = datetime(2026, 1, 13, 18, 0, tzinfo=UTC)
engine = Engine()


def test_given_callable_debtor_when_evaluated_then_allowed_with_versions(
    profiles: dict[str, Profile],
) -> None:
    decision = engine.evaluate(make_request(profiles["MX"]), NOON_MX)
    assert decision.allowed and decision.reasons == ()
    assert decision.profile_version.startswith("MX@2026.4#")
    assert decision.registry_versions == {"reus": "v1"}
    assert decision.timezone == "America/Mexico_City"
    assert decision.local_time == "2026-01-13T12:00:00-06:00"


@pytest.mark.parametrize(
    ("account", "phone", "reason"),
    [
        ({"status": "paid"}, {}, "not_delinquent"),
        ({"status": "settled"}, {}, "not_delinquent"),
        ({"status": "closed"}, {}, "not_delinquent"),
        ({"status": "mystery"}, {}, "not_delinquent"),
        ({"balance": 0}, {}, "not_delinquent"),
        ({"status": "disputed"}, {}, "disputed"),
        ({"status": "cease_contact"}, {}, "cease_contact"),
        ({"stage": "legal"}, {}, "legal_stage"),
        ({}, {"status": "stopped"}, "cease_contact"),
        ({}, {"status": "invalid"}, "invalid_number"),
        ({}, {"status": "wrong_number"}, "invalid_number"),
        ({"timezone": "America/Mexico_City"}, {"e164": "+5212345"}, "invalid_number"),
        ({}, {"phone_type": "reference"}, "third_party"),
        ({}, {"phone_type": "unknown-type"}, "third_party"),
        ({}, {"consent": False}, "no_consent"),
        ({}, {"consent_ref": None}, "no_consent"),
        ({"timezone": "Mars/Olympus"}, {}, "timezone_unknown"),
        ({"timezone": "Etc/GMT+6"}, {}, "timezone_unknown"),
    ],
)
def test_given_one_failing_fact_when_evaluated_then_its_reason_alone(
    profiles: dict[str, Profile], account: dict, phone: dict, reason: str
) -> None:
    decision = engine.evaluate(make_request(profiles["MX"], account=account, phone=phone), NOON_MX)
    assert not decision.allowed
    assert decision.reasons == (reason,)


def test_given_guarantor_when_profile_allows_only_debtor_then_third_party(
    profiles: dict[str, Profile],
) -> None:
    tuesday_noon_lima = datetime(2026, 1, 13, 17, 0, tzinfo=UTC)
    pe = make_request(profiles["PE"], phone={"phone_type": "guarantor"})
    mx = make_request(profiles["MX"], phone={"phone_type": "guarantor"})
    assert engine.evaluate(pe, tuesday_noon_lima).reasons == ("third_party",)
    assert engine.evaluate(mx, NOON_MX).allowed


def test_given_no_consent_when_profile_does_not_require_it_then_allowed(
    profiles: dict[str, Profile],
) -> None:
    tuesday_noon_lima = datetime(2026, 1, 13, 17, 0, tzinfo=UTC)
    request = make_request(profiles["PE"], phone={"consent": False, "consent_ref": None})
    assert engine.evaluate(request, tuesday_noon_lima).allowed


def test_given_listed_number_when_evaluated_then_registry_listed(
    profiles: dict[str, Profile],
) -> None:
    regs = StaticRegistries({"reus": ("v7", FRESH_IMPORT, frozenset({"+525512345678"}))})
    decision = engine.evaluate(make_request(profiles["MX"], registries=regs), NOON_MX)
    assert decision.reasons == ("registry_listed",)
    assert decision.registry_versions == {"reus": "v7"}


def test_given_missing_registry_when_evaluated_then_unavailable(
    profiles: dict[str, Profile],
) -> None:
    decision = engine.evaluate(make_request(profiles["MX"], registries=StaticRegistries()), NOON_MX)
    assert decision.reasons == ("registry_unavailable",)


def test_given_registry_older_than_max_age_when_evaluated_then_stale(
    profiles: dict[str, Profile],
) -> None:
    old = NOON_MX - timedelta(days=31, seconds=1)
    barely = NOON_MX - timedelta(days=31)
    stale = StaticRegistries({"reus": ("v1", old, frozenset())})
    fresh = StaticRegistries({"reus": ("v1", barely, frozenset())})
    assert engine.evaluate(make_request(profiles["MX"], registries=stale), NOON_MX).reasons == (
        "registry_stale",
    )
    assert engine.evaluate(make_request(profiles["MX"], registries=fresh), NOON_MX).allowed


class _BrokenLookup:
    def answer(self, name: str, e164: str) -> RegistryAnswer:
        raise ConnectionError("redis is down")


def test_given_lookup_that_raises_when_evaluated_then_unavailable_never_allowed(
    profiles: dict[str, Profile],
) -> None:
    request = make_request(profiles["MX"], registries=_BrokenLookup())  # type: ignore[arg-type]
    assert engine.evaluate(request, NOON_MX).reasons == ("registry_unavailable",)


def test_given_naive_clock_when_evaluated_then_refused(profiles: dict[str, Profile]) -> None:
    decision = engine.evaluate(make_request(profiles["MX"]), datetime(2026, 1, 13, 12, 0))
    assert not decision.allowed and decision.reasons == ("timezone_unknown",)


def test_given_number_without_zone_data_when_no_region_then_timezone_unknown(
    profiles: dict[str, Profile],
) -> None:
    # A valid number whose prefix carries no zone (international freephone), no region,
    # and a country of several zones.
    request = make_request(profiles["MX"], phone={"e164": "+80012345678"})
    decision = engine.evaluate(request, NOON_MX)
    assert decision.reasons == ("timezone_unknown",)


def _ts(*deltas: timedelta) -> tuple[float, ...]:
    return tuple((NOON_MX - d).timestamp() for d in deltas)


def test_given_attempt_within_the_hour_when_evaluated_then_attempt_cap_day(
    profiles: dict[str, Profile],
) -> None:
    recent = CounterSnapshot(attempts=_ts(timedelta(minutes=59)))
    older = CounterSnapshot(attempts=_ts(timedelta(minutes=60)))
    assert engine.evaluate(make_request(profiles["MX"], counters=recent), NOON_MX).reasons == (
        "attempt_cap_day",
    )
    assert engine.evaluate(make_request(profiles["MX"], counters=older), NOON_MX).allowed


def test_given_three_attempts_in_24h_when_evaluated_then_attempt_cap_day(
    profiles: dict[str, Profile],
) -> None:
    three = CounterSnapshot(attempts=_ts(*(timedelta(hours=h) for h in (2, 5, 23))))
    aged = CounterSnapshot(attempts=_ts(*(timedelta(hours=h) for h in (2, 5, 24))))
    assert engine.evaluate(make_request(profiles["MX"], counters=three), NOON_MX).reasons == (
        "attempt_cap_day",
    )
    assert engine.evaluate(make_request(profiles["MX"], counters=aged), NOON_MX).allowed


def test_given_contact_today_when_evaluated_then_contact_cap_week(
    profiles: dict[str, Profile],
) -> None:
    counters = CounterSnapshot(attempts=_ts(timedelta(hours=3)), contacts=_ts(timedelta(hours=3)))
    decision = engine.evaluate(make_request(profiles["MX"], counters=counters), NOON_MX)
    assert decision.reasons == ("contact_cap_week",)


def test_given_seven_attempts_in_seven_days_when_us_then_attempt_cap_week(
    profiles: dict[str, Profile],
) -> None:
    now = datetime(2026, 1, 13, 17, 0, tzinfo=UTC)  # 12:00 New York
    seven = CounterSnapshot(
        attempts=tuple((now - timedelta(hours=20 * i + 1)).timestamp() for i in range(7))
    )
    six = CounterSnapshot(attempts=seven.attempts[:6])
    assert engine.evaluate(make_request(profiles["US"], counters=seven), now).reasons == (
        "attempt_cap_week",
    )
    assert engine.evaluate(make_request(profiles["US"], counters=six), now).allowed


def test_given_conversation_six_days_ago_when_us_then_contact_cap_week(
    profiles: dict[str, Profile],
) -> None:
    now = datetime(2026, 1, 13, 17, 0, tzinfo=UTC)
    talked = (now - timedelta(days=6, hours=23)).timestamp()
    counters = CounterSnapshot(attempts=(talked,), contacts=(talked,))
    assert engine.evaluate(make_request(profiles["US"], counters=counters), now).reasons == (
        "contact_cap_week",
    )
    old = (now - timedelta(days=7)).timestamp()
    assert engine.evaluate(
        make_request(profiles["US"], counters=CounterSnapshot(attempts=(old,), contacts=(old,))),
        now,
    ).allowed


def test_given_abandoned_call_within_cooldown_when_us_then_recent_abandon(
    profiles: dict[str, Profile],
) -> None:
    now = datetime(2026, 1, 13, 17, 0, tzinfo=UTC)
    t = (now - timedelta(hours=23, minutes=59)).timestamp()
    counters = CounterSnapshot(attempts=(t,), abandons=(t,))
    assert engine.evaluate(make_request(profiles["US"], counters=counters), now).reasons == (
        "recent_abandon",
    )
    t2 = (now - timedelta(hours=24)).timestamp()
    later = CounterSnapshot(attempts=(t2,), abandons=(t2,))
    assert engine.evaluate(make_request(profiles["US"], counters=later), now).allowed


def test_given_counters_unreadable_when_evaluated_then_every_cap_fails(
    profiles: dict[str, Profile],
) -> None:
    down = CounterSnapshot(available=False)
    decision = engine.evaluate(
        make_request(profiles["US"], counters=down), datetime(2026, 1, 13, 17, tzinfo=UTC)
    )
    assert set(decision.reasons) == {"attempt_cap_week", "contact_cap_week", "recent_abandon"}


def test_given_many_failures_when_evaluated_then_all_reported_in_rule_order(
    profiles: dict[str, Profile],
) -> None:
    regs = StaticRegistries({"reus": ("v1", FRESH_IMPORT, frozenset({"+525512345678"}))})
    request = make_request(
        profiles["MX"],
        account={"status": "disputed", "stage": "legal"},
        phone={"consent": False, "phone_type": "reference"},
        registries=regs,
        counters=CounterSnapshot(attempts=_ts(timedelta(minutes=1))),
    )
    at_night = datetime(2026, 1, 14, 5, 0, tzinfo=UTC)  # 23:00 Tuesday in Mexico City
    decision = engine.evaluate(request, at_night)
    assert decision.reasons == (
        "disputed",
        "legal_stage",
        "third_party",
        "no_consent",
        "registry_listed",
        "outside_hours",
    )
    assert set(decision.reasons) <= set(REASONS)


def test_given_every_reason_code_when_listed_then_matches_design() -> None:
    assert len(REASONS) == 31 and len(set(REASONS)) == 31
