"""Every channel through the one engine: per-channel hours, days and holidays from
the profiles, per-channel consent, visits, opt-outs, registries on every number
channel, and the caps across channels (CO day/week, Reg F calls only, per-channel
caps elsewhere)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from compliance_builders import NUMBERS, make_request

from compliance.engine import CounterSnapshot, EmailFacts, Engine, StaticRegistries
from compliance.profile import Profile

engine = Engine()
# Tuesday 2026-01-13: noon in Mexico City (UTC-6), Bogotá and Lima (UTC-5), New York (UTC-5).
NOON = {
    "MX": datetime(2026, 1, 13, 18, 0, tzinfo=UTC),
    "MX-PROFECO": datetime(2026, 1, 13, 18, 0, tzinfo=UTC),
    "CO": datetime(2026, 1, 13, 17, 0, tzinfo=UTC),
    "PE": datetime(2026, 1, 13, 17, 0, tzinfo=UTC),
    "US": datetime(2026, 1, 13, 17, 0, tzinfo=UTC),
}
US_NY = {"region": "NY"}
EMAIL = EmailFacts("juana@example.com", consent=True, consent_ref="form-9")
ALL_PHONE = frozenset({"call", "sms", "whatsapp"})


def _decide(
    profile: Profile, channel: str, at: datetime | None = None, *,
    account: dict[str, Any] | None = None, phone: dict[str, Any] | None = None,
    email: EmailFacts | None = EMAIL, counters: CounterSnapshot | None = None,
    registries: StaticRegistries | None = None,
) -> tuple[str, ...]:  # fmt: skip
    at = at or NOON[profile.id]
    base_account = {**(US_NY if profile.id == "US" else {}), "numbers": (NUMBERS[profile.id],)}
    request = make_request(
        profile, account={**base_account, **(account or {})},
        phone={"channels": ALL_PHONE, **(phone or {})}, counters=counters,
        registries=registries, now=at,
    )  # fmt: skip
    from dataclasses import replace

    request = replace(request, channel=channel, email=email if channel == "email" else None,
                      phone=request.phone if channel in ALL_PHONE else None)  # fmt: skip
    decision = engine.evaluate(request, at)
    assert decision.channel == channel
    return decision.reasons


@pytest.mark.parametrize("pid", ["MX", "MX-PROFECO", "CO", "PE"])
@pytest.mark.parametrize("channel", ["call", "sms", "whatsapp", "email"])
def test_given_callable_debtor_at_noon_when_any_channel_then_allowed(
    profiles: dict[str, Profile], pid: str, channel: str
) -> None:
    assert _decide(profiles[pid], channel) == ()


# Hours and days per country and channel (local time of the debtor).
@pytest.mark.parametrize(
    ("pid", "channel", "at", "reason"),
    [
        # MX: 07:00-22:00 for every collection contact; 22:30 CDMX is outside.
        ("MX", "sms", datetime(2026, 1, 14, 4, 30, tzinfo=UTC), "outside_hours"),
        ("MX", "email", datetime(2026, 1, 13, 12, 59, tzinfo=UTC), "outside_hours"),  # 06:59
        ("MX", "visit", datetime(2026, 1, 14, 4, 0, tzinfo=UTC), "outside_hours"),  # 22:00
        # MX-PROFECO: Monday to Friday only, on every channel.
        ("MX-PROFECO", "whatsapp", datetime(2026, 1, 17, 18, 0, tzinfo=UTC), "day_not_allowed"),
        # MX holidays (best practice): 2 Feb 2026, Día de la Constitución (observed).
        ("MX", "email", datetime(2026, 2, 2, 18, 0, tzinfo=UTC), "holiday"),
        # CO: Mon-Fri 07-19, Sat 08-15, never Sundays or holidays.
        ("CO", "whatsapp", datetime(2026, 1, 18, 17, 0, tzinfo=UTC), "day_not_allowed"),  # Sun
        ("CO", "sms", datetime(2026, 1, 17, 20, 30, tzinfo=UTC), "outside_hours"),  # Sat 15:30
        ("CO", "email", datetime(2026, 1, 14, 0, 1, tzinfo=UTC), "outside_hours"),  # 19:01
        ("CO", "sms", datetime(2026, 1, 12, 17, 0, tzinfo=UTC), "holiday"),  # Reyes (observed)
        # PE: art. 62 no calls or visits 20:00-07:00, weekends or holidays; messages too.
        ("PE", "visit", datetime(2026, 1, 14, 1, 30, tzinfo=UTC), "outside_hours"),  # 20:30
        ("PE", "visit", datetime(2026, 1, 13, 11, 59, tzinfo=UTC), "outside_hours"),  # 06:59
        ("PE", "visit", datetime(2026, 1, 17, 17, 0, tzinfo=UTC), "day_not_allowed"),  # Sat
        ("PE", "sms", datetime(2026, 1, 18, 17, 0, tzinfo=UTC), "day_not_allowed"),  # Sun
        ("PE", "visit", datetime(2026, 7, 29, 17, 0, tzinfo=UTC), "holiday"),  # Fiestas Patrias
        ("PE", "email", datetime(2026, 1, 1, 17, 0, tzinfo=UTC), "holiday"),
        # US: 08:00-21:00 for any communication, e-mail and texts included.
        ("US", "email", datetime(2026, 1, 14, 2, 30, tzinfo=UTC), "outside_hours"),  # 21:30 NY
        ("US", "sms", datetime(2026, 1, 13, 12, 59, tzinfo=UTC), "outside_hours"),  # 07:59
    ],
)
def test_given_channel_outside_its_window_when_evaluated_then_time_reason(
    profiles: dict[str, Profile], pid: str, channel: str, at: datetime, reason: str
) -> None:
    account = {"visit_authorisation_ref": "auth-1"}
    assert reason in _decide(profiles[pid], channel, at, account=account)


def test_given_channel_with_hours_of_its_own_when_evaluated_then_those_apply(
    profiles: dict[str, Profile],
) -> None:
    from dataclasses import replace

    from compliance.profile import ChannelRule, Window

    mx = profiles["MX"]
    short = tuple((Window(9 * 60, 17 * 60),) for _ in range(7))
    channels = tuple(replace(c, hours=short) if c.name == "email" else c for c in mx.channels)
    narrow = replace(mx, channels=channels)
    assert _decide(narrow, "email", datetime(2026, 1, 14, 0, 0, tzinfo=UTC)) == ("outside_hours",)
    assert _decide(narrow, "sms", datetime(2026, 1, 14, 0, 0, tzinfo=UTC)) == ()  # 18:00
    assert isinstance(narrow.channel_rule("email"), ChannelRule)


def test_given_no_zone_region_or_number_when_email_then_timezone_unknown(
    profiles: dict[str, Profile],
) -> None:
    # Mexico has several zones: without a zone, a region or a number, no local time.
    assert _decide(profiles["MX"], "email", account={"numbers": ()}) == ("timezone_unknown",)
    assert _decide(profiles["MX"], "email", account={"region": "CMX", "numbers": ()}) == ()
    # Numbers in two zones (Mexico City and Tijuana): 21:30 in CDMX is 19:30 in Tijuana,
    # 07:30 in CDMX is 05:30 in Tijuana: outside there, so refused.
    two = {"numbers": ("+525512345678", "+526641234567")}
    assert _decide(profiles["MX"], "visit", datetime(2026, 1, 13, 13, 30, tzinfo=UTC),
                   account=two) == ("outside_hours",)  # fmt: skip


# Consent and authorisation per channel.
def test_given_consented_number_authorised_for_calls_only_when_sms_then_channel_not_authorised(
    profiles: dict[str, Profile],
) -> None:
    for pid in ("CO", "MX", "US"):
        calls_only = {"channels": frozenset({"call"})}
        assert _decide(profiles[pid], "sms", phone=calls_only) == ("channel_not_authorised",)
        assert _decide(profiles[pid], "whatsapp", phone=calls_only) == ("channel_not_authorised",)
        assert _decide(profiles[pid], "call", phone=calls_only) == ()


def test_given_number_without_consent_when_sms_then_no_consent_not_channel(
    profiles: dict[str, Profile],
) -> None:
    phone = {"consent": False, "consent_ref": None}
    assert _decide(profiles["CO"], "sms", phone=phone) == ("no_consent",)


def test_given_profile_without_consent_when_sms_on_calls_only_number_then_allowed(
    profiles: dict[str, Profile],
) -> None:
    # PE: no consent rule for pure collection (Ley 29571), so no channel authorisation either.
    pe = profiles["PE"]
    assert _decide(pe, "sms", phone={"channels": frozenset({"call"}), "consent": False}) == ()


@pytest.mark.parametrize(
    ("email", "reasons"),
    [
        (EmailFacts("juana@example.com"), ("no_consent",)),
        (EmailFacts("juana@example.com", consent=True), ("no_consent",)),
        (EmailFacts("juana@example", consent=True, consent_ref="f"), ("invalid_address",)),
        (EmailFacts("juana example.com", consent=True, consent_ref="f"), ("invalid_address",)),
        (EmailFacts("", consent=True, consent_ref="f"), ("invalid_address",)),
        (EmailFacts("", on_account=False), ("invalid_address",)),
        (EmailFacts("j@example.com", status="bounced", consent=True, consent_ref="f"),
         ("invalid_address",)),
        (EmailFacts("otra@example.com", on_account=False), ("third_party", "no_consent")),
        (EmailFacts("j@example.com", consent=True, consent_ref="f", opted_out=True),
         ("opted_out",)),
        (None, ("invalid_address",)),
    ],
)  # fmt: skip
def test_given_email_fact_when_email_channel_then_its_reason(
    profiles: dict[str, Profile], email: EmailFacts | None, reasons: tuple[str, ...]
) -> None:
    assert _decide(profiles["CO"], "email", email=email) == reasons


# Visits.
def test_given_co_account_without_visit_authorisation_when_visit_then_refused(
    profiles: dict[str, Profile],
) -> None:
    co = profiles["CO"]
    assert _decide(co, "visit") == ("visit_not_authorised",)
    assert _decide(co, "visit", account={"visit_authorisation_ref": "  "}) == (
        "visit_not_authorised",
    )
    assert _decide(co, "visit", account={"visit_authorisation_ref": "microcredito-77"}) == ()


def test_given_mx_and_pe_when_visit_in_hours_then_allowed_without_consent(
    profiles: dict[str, Profile],
) -> None:
    no_consent = {"consent": False, "consent_ref": None}
    assert _decide(profiles["MX"], "visit", phone=no_consent) == ()
    assert _decide(profiles["PE"], "visit", phone=no_consent) == ()


def test_given_channel_the_profile_does_not_list_when_evaluated_then_channel_not_allowed(
    profiles: dict[str, Profile],
) -> None:
    assert _decide(profiles["US"], "visit") == ("channel_not_allowed",)
    assert "channel_not_allowed" in _decide(profiles["MX"], "chat")


# Opt-outs.
def test_given_number_opted_out_of_sms_when_checked_then_sms_refused_call_allowed(
    profiles: dict[str, Profile],
) -> None:
    mx = profiles["MX"]
    opted = {"opted_out": frozenset({"sms"})}
    assert _decide(mx, "sms", phone=opted) == ("opted_out",)
    assert _decide(mx, "whatsapp", phone=opted) == ()
    assert _decide(mx, "call", phone=opted) == ()
    assert _decide(mx, "visit", account={"opted_out": frozenset({"visit"})}) == ("opted_out",)


# Registries bind every channel that reaches a listed number.
def test_given_number_in_reus_when_any_number_channel_then_registry_listed(
    profiles: dict[str, Profile],
) -> None:
    mx = profiles["MX"]
    at = NOON["MX"]
    listed = StaticRegistries(
        {"reus": ("v7", at - timedelta(days=1), frozenset({"+525512345678"}))}
    )
    for channel in ("call", "sms", "whatsapp"):
        assert _decide(mx, channel, registries=listed) == ("registry_listed",)
    # An e-mail or a visit reaches no number: the number registries do not decide them.
    assert _decide(mx, "email", registries=listed) == ()
    assert _decide(mx, "visit", registries=listed) == ()
    missing = StaticRegistries({})
    assert _decide(mx, "sms", registries=missing) == ("registry_unavailable",)


# Caps across channels.
def _ago(at: datetime, **delta: float) -> float:
    return (at - timedelta(**delta)).timestamp()


def test_given_co_direct_contact_by_call_when_other_channel_same_week_then_channel_cap_week(
    profiles: dict[str, Profile],
) -> None:
    co, at = profiles["CO"], NOON["CO"]
    contact = CounterSnapshot(attempts=(_ago(at, days=2),), contacts=(_ago(at, days=2),))
    assert _decide(co, "sms", counters=contact) == ("channel_cap_week",)
    assert _decide(co, "email", counters=contact) == ("channel_cap_week",)
    # The same channel: the profile's own call cap (one contact a week, stricter reading).
    assert _decide(co, "call", counters=contact) == ("contact_cap_week",)
    week_later = CounterSnapshot(attempts=(_ago(at, days=8),), contacts=(_ago(at, days=8),))
    assert _decide(co, "sms", counters=week_later) == ()


def test_given_co_reply_to_an_sms_when_same_channel_later_in_week_then_allowed_not_others(
    profiles: dict[str, Profile],
) -> None:
    co, at = profiles["CO"], NOON["CO"]
    replied = CounterSnapshot(
        other_attempts=(("sms", _ago(at, days=2)),), other_contacts=(("sms", _ago(at, days=2)),)
    )
    assert _decide(co, "sms", counters=replied) == ()
    assert _decide(co, "call", counters=replied) == ("channel_cap_week",)
    assert _decide(co, "whatsapp", counters=replied) == ("channel_cap_week",)


def test_given_co_direct_contact_today_when_same_channel_then_contact_cap_day(
    profiles: dict[str, Profile],
) -> None:
    co, at = profiles["CO"], NOON["CO"]
    replied = CounterSnapshot(
        other_attempts=(("whatsapp", _ago(at, hours=3)),),
        other_contacts=(("whatsapp", _ago(at, hours=3)),),
    )
    assert _decide(co, "whatsapp", counters=replied) == ("contact_cap_day",)
    assert set(_decide(co, "call", counters=replied)) == {"contact_cap_day", "channel_cap_week"}


def test_given_co_message_sent_today_when_any_channel_then_contact_cap_day(
    profiles: dict[str, Profile],
) -> None:
    co, at = profiles["CO"], NOON["CO"]
    sent = CounterSnapshot(other_attempts=(("email", _ago(at, hours=5)),))
    for channel in ("call", "sms", "whatsapp", "email"):
        assert _decide(co, channel, counters=sent) == ("contact_cap_day",)
    tomorrow = CounterSnapshot(other_attempts=(("email", _ago(at, hours=25)),))
    assert _decide(co, "call", counters=tomorrow) == ()


def test_given_co_unanswered_calls_today_when_sms_then_allowed(
    profiles: dict[str, Profile],
) -> None:
    co, at = profiles["CO"], NOON["CO"]
    calls = CounterSnapshot(attempts=(_ago(at, hours=1), _ago(at, hours=2), _ago(at, hours=3)))
    assert _decide(co, "sms", counters=calls) == ()
    assert _decide(co, "call", counters=calls) == ("attempt_cap_day",)


def test_given_seven_calls_in_seven_days_when_us_then_calls_blocked_messages_not(
    profiles: dict[str, Profile],
) -> None:
    us, at = profiles["US"], NOON["US"]
    calls = CounterSnapshot(attempts=tuple(_ago(at, days=d, hours=1) for d in range(7)))
    assert _decide(us, "call", counters=calls) == ("attempt_cap_week",)
    assert _decide(us, "sms", counters=calls) == ()
    assert _decide(us, "email", counters=calls) == ()
    # Reg F counts calls only: seven texts do not stop a call.
    texts = CounterSnapshot(
        other_attempts=tuple(("sms", _ago(at, days=d, hours=1)) for d in range(7))
    )
    assert _decide(us, "call", counters=texts) == ()
    # After a telephone conversation no call for 7 days; a text is another matter.
    talked = CounterSnapshot(attempts=(_ago(at, days=3),), contacts=(_ago(at, days=3),))
    assert _decide(us, "call", counters=talked) == ("contact_cap_week",)
    assert _decide(us, "sms", counters=talked) == ()


def test_given_us_abandoned_call_when_sms_then_cooldown_binds_calls_only(
    profiles: dict[str, Profile],
) -> None:
    us, at = profiles["US"], NOON["US"]
    abandoned = CounterSnapshot(attempts=(_ago(at, hours=1),), abandons=(_ago(at, hours=1),))
    assert _decide(us, "call", counters=abandoned) == ("recent_abandon",)
    assert _decide(us, "sms", counters=abandoned) == ()


@pytest.mark.parametrize("pid", ["MX", "PE", "US"])
def test_given_two_messages_today_when_same_channel_then_per_channel_cap_others_free(
    profiles: dict[str, Profile], pid: str
) -> None:
    profile, at = profiles[pid], NOON[pid]
    one = CounterSnapshot(other_attempts=(("sms", _ago(at, hours=2)),))
    assert _decide(profile, "sms", counters=one) == ()  # a reminder, then a confirmation
    sent = CounterSnapshot(other_attempts=(("sms", _ago(at, hours=2)), ("sms", _ago(at, hours=1))))
    assert _decide(profile, "sms", counters=sent) == ("attempt_cap_day",)
    assert _decide(profile, "email", counters=sent) == ()
    assert _decide(profile, "call", counters=sent) == ()


def test_given_mx_direct_contact_by_whatsapp_today_when_call_then_contact_cap(
    profiles: dict[str, Profile],
) -> None:
    mx, at = profiles["MX"], NOON["MX"]
    replied = CounterSnapshot(other_contacts=(("whatsapp", _ago(at, hours=2)),))
    assert _decide(mx, "call", counters=replied) == ("contact_cap_week",)
    assert _decide(mx, "visit", counters=replied) == ("contact_cap_week",)
    # A message after a conversation (the written confirmation of a promise) is not held.
    talked = CounterSnapshot(attempts=(_ago(at, hours=1),), contacts=(_ago(at, hours=1),))
    assert _decide(mx, "sms", counters=talked) == ()
    assert _decide(profiles["PE"], "email", NOON["PE"], counters=talked) == ()


def test_given_counters_unavailable_when_message_then_every_cap_of_the_channel_fails(
    profiles: dict[str, Profile],
) -> None:
    reasons = _decide(profiles["CO"], "sms", counters=CounterSnapshot(available=False))
    assert set(reasons) == {"contact_cap_day", "channel_cap_week"}
    us = _decide(profiles["US"], "sms", counters=CounterSnapshot(available=False))
    assert us == ("attempt_cap_day",)


# Letters: the postal address the creditor gave, the channel table of the country.
POSTAL = {"postal_address": "Av. Reforma 222, Col. Juárez, 06600 CDMX"}


@pytest.mark.parametrize("pid", ["MX", "MX-PROFECO", "PE"])
def test_given_a_postal_address_at_noon_when_a_letter_then_allowed(
    profiles: dict[str, Profile], pid: str
) -> None:
    assert _decide(profiles[pid], "letter", account=POSTAL) == ()


@pytest.mark.parametrize("address", [None, "", "   "])
def test_given_no_postal_address_when_a_letter_then_no_address_alone(
    profiles: dict[str, Profile], address: str | None
) -> None:
    assert _decide(profiles["MX"], "letter", account={"postal_address": address}) == ("no_address",)


def test_given_a_letter_when_opted_out_or_late_or_colombia_then_refused(
    profiles: dict[str, Profile],
) -> None:
    late = NOON["MX"] + timedelta(hours=11)  # 23:00 in Mexico City
    assert _decide(profiles["MX"], "letter", late, account=POSTAL) == ("outside_hours",)
    opted = {**POSTAL, "opted_out": frozenset({"letter"})}
    assert _decide(profiles["MX"], "letter", account=opted) == ("opted_out",)
    # CO: only channels the debtor authorised; no evidence exists for a postal one.
    assert "channel_not_allowed" in _decide(profiles["CO"], "letter", account=POSTAL)


def test_given_a_profile_that_requires_consent_for_letters_then_no_consent(
    profiles: dict[str, Profile],
) -> None:
    from dataclasses import replace

    mx = profiles["MX"]
    strict = replace(mx, channels=tuple(replace(c, consent_required=True) if c.name == "letter"
                                        else c for c in mx.channels))  # fmt: skip
    assert _decide(strict, "letter", account=POSTAL) == ("no_consent",)
