"""Pure inbound logic: the caller's number, opening hours, routing order, callback time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from compliance.callback_window import CallbackTarget, compliance_callback_checker
from compliance.profile import ProfileError, load_profiles, parse_profile
from dialer.inbound.ani import AniStatus, normalise_ani
from dialer.inbound.callbacks import callback_due
from dialer.inbound.routing import QueueRule, ReadyAgent, callers_for, candidates, owes_inbound
from dialer.inbound.settings import InboundSettingsError, inbound_settings, parse_hours

CENTER = ZoneInfo("America/Mexico_City")


@pytest.mark.parametrize(
    ("raw", "status", "e164"),
    [
        ("+525512345678", AniStatus.ok, "+525512345678"),
        ("5215512345678", AniStatus.ok, "+525512345678"),  # old mobile "1"
        ("5512345678", AniStatus.ok, "+525512345678"),  # national
        ("55 1234-5678", AniStatus.ok, "+525512345678"),
        ("+14155550100", AniStatus.foreign, "+14155550100"),
        ("00573001234567", AniStatus.foreign, "+573001234567"),
        ("anonymous", AniStatus.withheld, None),
        ("", AniStatus.withheld, None),
        (None, AniStatus.withheld, None),
        ("Restricted", AniStatus.withheld, None),
        ("abc#123", AniStatus.invalid, None),
        ("12", AniStatus.invalid, None),
        ("1" * 30, AniStatus.invalid, None),
        ("５５１２３４５６７８", AniStatus.invalid, None),  # full-width digits
    ],
)
def test_given_ani_text_when_normalised_then_status_and_e164(raw, status, e164) -> None:  # type: ignore[no-untyped-def]
    ani = normalise_ani(raw, "MX")
    assert (ani.status, ani.e164) == (status, e164)


def test_given_default_hours_when_asked_then_open_on_weekdays_and_next_opening_after_close() -> (
    None
):
    hours = inbound_settings({}, "MX").hours
    wednesday_11 = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
    assert hours.is_open(wednesday_11)
    wednesday_23 = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
    assert not hours.is_open(wednesday_23)
    assert hours.next_opening(wednesday_23) == datetime(2026, 11, 26, 8, 0, tzinfo=CENTER)
    sunday = datetime(2026, 11, 29, 18, 0, tzinfo=UTC)
    assert hours.next_opening(sunday) == datetime(2026, 11, 30, 8, 0, tzinfo=CENTER)


def test_given_center_never_open_then_no_next_opening() -> None:
    hours = parse_hours({}, CENTER)
    assert hours.next_opening(datetime(2026, 11, 25, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    "config",
    [
        {"inbound": []},
        {"inbound": {"timezone": "Mars/Olympus"}},
        {"inbound": {"hours": {"mon": [["20:00", "08:00"]]}}},
        {"inbound": {"verification": ["mother_maiden_name"]}},
        {"inbound": {"overflow_after_seconds": -1}},
    ],
)
def test_given_bad_inbound_settings_then_error_names_the_key(config) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InboundSettingsError, match="inbound"):
        inbound_settings(config, "MX")


def test_given_ready_agents_then_own_campaign_longest_idle_first_and_others_only_after_limit() -> (
    None
):
    agents = [
        ReadyAgent(1, "mora", 50.0),
        ReadyAgent(2, "mora", 10.0),
        ReadyAgent(3, "castigo", 5.0),
    ]
    assert candidates(agents, "mora", None, waited=10, overflow_after=60) == [2, 1]
    assert candidates(agents, "mora", None, waited=60, overflow_after=60) == [2, 1, 3]


def test_given_skill_group_then_its_agents_across_campaigns_take_the_call() -> None:
    agents = [
        ReadyAgent(1, "mora", 50.0),
        ReadyAgent(3, "castigo", 5.0, frozenset({"vip"})),
    ]
    assert candidates(agents, "mora", "vip", waited=0, overflow_after=60) == [3]


RULES = {
    "mora": QueueRule("mora", None, 60.0),
    "vip": QueueRule("vip", "especial", 60.0),
    "castigo": QueueRule("castigo", None, 30.0),
}


@pytest.mark.parametrize(
    ("campaign", "skills", "oldest", "owed"),
    [
        ("mora", frozenset(), {}, False),
        ("mora", frozenset(), {"mora": 0.0}, True),  # its own callers
        ("mora", frozenset(), {"vip": 0.0}, False),  # not in the group, vip under its limit
        ("mora", frozenset({"especial"}), {"vip": 0.0}, True),  # in vip's group
        ("mora", frozenset(), {"castigo": 29.9}, False),
        ("mora", frozenset(), {"castigo": 30.0}, True),  # past castigo's limit: anyone
        ("mora", frozenset(), {"desconocida": 999.0}, False),  # no routing known for it
    ],
)
def test_given_callers_queued_then_a_ready_agent_is_owed_to_those_it_may_take(
    campaign: str, skills: frozenset[str], oldest: dict[str, float], owed: bool
) -> None:
    assert owes_inbound(campaign, skills, oldest, RULES) is owed


def test_given_callers_of_other_campaigns_then_pacing_counts_those_its_agents_may_take() -> None:
    waits = {"mora": (1.0,), "vip": (2.0, 70.0), "castigo": (5.0, 31.0)}
    # mora's own caller, castigo's overflowed one, vip's overflowed one.
    assert sorted(callers_for("mora", frozenset(), waits, RULES)) == [1.0, 31.0, 70.0]
    # With an agent in vip's group logged in: every vip caller.
    assert sorted(callers_for("mora", frozenset({"especial"}), waits, RULES)) == [
        1.0, 2.0, 31.0, 70.0
    ]  # fmt: skip


def test_given_debtor_west_of_center_when_callback_due_then_first_time_inside_debtor_window() -> (
    None
):
    hours = inbound_settings({}, "MX").hours
    checker = compliance_callback_checker(load_profiles())
    tijuana = CallbackTarget("MX", "America/Tijuana", "+526641234567", profile="MX")
    closed = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
    # Opens 08:00 Mexico City = 06:00 Tijuana (MX window from 07:00): 07:00 Tijuana.
    assert callback_due(closed, hours, tijuana, checker) == datetime(
        2026, 11, 26, 15, 0, tzinfo=UTC
    )
    cdmx = CallbackTarget("MX", "America/Mexico_City", "+525512345678", profile="MX")
    assert callback_due(closed, hours, cdmx, checker) == datetime(2026, 11, 26, 14, 0, tzinfo=UTC)


def test_given_debtor_never_callable_during_opening_hours_then_no_callback_time() -> None:
    hours = parse_hours({"sun": [["08:00", "12:00"]]}, CENTER)
    target = CallbackTarget("PE", "America/Lima", "+51912345678", profile="PE")  # never Sunday
    checker = compliance_callback_checker(load_profiles())
    assert callback_due(datetime(2026, 11, 25, tzinfo=UTC), hours, target, checker) is None


def test_given_shipped_profiles_then_each_states_its_inbound_reading_with_a_source() -> None:
    for profile in load_profiles().values():
        assert len(profile.sources["inbound"]) > 40


def test_given_profile_that_would_not_count_inbound_contacts_then_refused() -> None:
    import tomllib
    from pathlib import Path

    import compliance.profiles as shipped

    data = tomllib.loads((Path(shipped.__file__).parent / "mx.toml").read_text())
    data["inbound"] = {"contact_counts": False, "source": "a reading"}
    with pytest.raises(ProfileError, match="contact_counts"):
        parse_profile(data)
