"""Profile files: shipped ones load with sources; bad ones and loosening campaigns are refused."""

from __future__ import annotations

import tomllib
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest

from compliance.profile import PROFILES_DIR, Profile, ProfileError, parse_profile, tighten


def _raw(name: str = "mx.toml") -> dict[str, Any]:
    return tomllib.loads((PROFILES_DIR / name).read_text())


def test_given_shipped_profiles_when_loaded_then_all_countries_with_sources(
    profiles: dict[str, Profile],
) -> None:
    assert set(profiles) == {"MX", "MX-PROFECO", "CO", "PE", "US"}
    for profile in profiles.values():
        assert set(profile.sources) == {
            "hours",
            "holidays",
            "consent",
            "parties",
            "abandon",
            "inbound",
            "recording",
            "opening",
            *(f"channels.{c.name}" for c in profile.channels),
            # Mexico's election days (LFT art. 74 fr. IX), each with its source.
            *(["holidays.extra"] if profile.country == "MX" else []),
        }
        assert all(c.source for c in profile.channels)
        assert all(c.source for c in profile.caps)
        assert all(r.source for r in profile.registries)
    assert [r.name for r in profiles["MX"].registries] == ["reus"]
    assert profiles["MX"].registries[0].max_age_days == 31


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["hours"].pop("source"), "source"),
        (lambda d: d["hours"].pop("sun"), "every weekday"),
        (lambda d: d["hours"].__setitem__("mon", [["22:00", "07:00"]]), "ends before"),
        (lambda d: d["hours"].__setitem__("mon", [["7:00", "22:00"]]), "HH:MM"),
        (lambda d: d["hours"].__setitem__("mon", [["07:00", "25:00"]]), "not a time"),
        (
            lambda d: d["hours"].__setitem__("mon", [["07:00", "12:00"], ["11:00", "13:00"]]),
            "overlap",
        ),
        (lambda d: d["caps"][0].__setitem__("kind", "visits"), "kind"),
        (lambda d: d["caps"][0].pop("source"), "source"),
        (lambda d: d["caps"][0].__setitem__("max", -1), "integer"),
        (lambda d: d["caps"][0].__setitem__("window_hours", 24 * 30), "counters keep"),
        (lambda d: d["abandon"].__setitem__("cooldown_hours", 24 * 9), "counters keep"),
        (lambda d: d["consent"].__setitem__("required", "yes"), "true or false"),
        (lambda d: d["parties"].__setitem__("allowed", ["debtor", "cousin"]), "parties"),
        (lambda d: d.__setitem__("surprise", {}), "unknown keys"),
        (lambda d: d["registries"][0].__setitem__("name", "REUS list"), "lower-case"),
        (lambda d: d["profile"].__setitem__("country", "mex"), "alpha-2"),
        (lambda d: d["recording"].__setitem__("notice", "beep"), "recording.notice"),
        (lambda d: d["recording"].pop("source"), "source"),
        (lambda d: d["caps"][0].__setitem__("channels", ["call", "fax"]), "non-empty list"),
        (lambda d: d["caps"][0].__setitem__("channels", []), "non-empty list"),
        (lambda d: d["caps"][0].__setitem__("applies_to", "sms"), "non-empty list"),
        (lambda d: d["caps"][0].__setitem__("reason", "too_many"), "reason"),
        (lambda d: d["channels"].__setitem__("fax", {"source": "x"}), "unknown channel"),
        (lambda d: d["channels"]["sms"].pop("source"), "source"),
        (lambda d: d["channels"]["sms"].__setitem__("visit_authorisation", True), "only the visit"),
        (
            lambda d: d["channels"]["visit"].__setitem__("visit_authorisation", "yes"),
            "true or false",
        ),
        (lambda d: d["channels"]["sms"].__setitem__("hours", {"mon": []}), "every weekday"),
        (lambda d: d["channels"]["sms"].__setitem__("consent", 1), "true or false"),
        (lambda d: d["channels"]["sms"].__setitem__("colour", "red"), "unknown keys"),
        (lambda d: d["channels"].__setitem__("sms", "yes"), "expected a table"),
        (lambda d: d.__setitem__("channels", {}), "table of channels"),
    ],
)
def test_given_malformed_profile_when_parsed_then_clear_error(mutate: Any, message: str) -> None:
    data = deepcopy(_raw())
    mutate(data)
    with pytest.raises(ProfileError, match=message):
        parse_profile(data)


def test_given_profile_without_channels_when_parsed_then_calls_only() -> None:
    data = deepcopy(_raw())
    data.pop("channels")
    profile = parse_profile(data)
    assert [c.name for c in profile.channels] == ["call"]
    assert profile.channel_rule("sms") is None


def test_given_channel_overrides_when_parsed_then_channel_rules_follow_them() -> None:
    data = deepcopy(_raw())
    week = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    data["channels"]["email"].update(hours=week, holidays=False, consent=False)
    profile = parse_profile(data)
    assert str(profile.hours_for("email")[0][0]) == "09:00-17:00"
    assert str(profile.hours_for("sms")[0][0]) == "07:00-22:00"
    assert not profile.holidays_closed_for("email") and profile.holidays_closed_for("sms")
    assert not profile.consent_required_for("email") and profile.consent_required_for("sms")
    assert profile.channel_rule("visit") is not None


def test_given_campaign_channel_overrides_when_applied_then_channels_narrow(
    profiles: dict[str, Profile],
) -> None:
    mx = profiles["MX"]
    tight = tighten(
        mx,
        {"channels": {"visit": {"allowed": False}, "sms": {"hours": {"mon": [["09:00", "18:00"]]}},
                      "email": {"consent": True}}},
        campaign="tarjetas",
    )  # fmt: skip
    assert tight.channel_rule("visit") is None
    assert str(tight.hours_for("sms")[0][0]) == "09:00-18:00"
    assert str(tight.hours_for("sms")[1][0]) == "07:00-22:00"
    assert str(tight.hours_for("call")[0][0]) == "07:00-22:00"
    assert tight.digest != mx.digest
    # The campaign's own hours narrow every channel, those with hours of their own too.
    narrow = tighten(tight, {"hours": {"mon": [["10:00", "12:00"]]}}, campaign="tarjetas")
    assert str(narrow.hours_for("sms")[0][0]) == "10:00-12:00"
    assert str(narrow.hours_for("email")[0][0]) == "10:00-12:00"


def test_given_unreadable_file_when_loaded_then_profile_error(tmp_path: Path) -> None:
    from compliance.profile import load_profile_file

    bad = tmp_path / "bad.toml"
    bad.write_text("[profile\n")
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_profile_file(bad)
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile_file(tmp_path / "missing.toml")


def test_given_extra_dir_when_loading_then_its_profiles_are_added(tmp_path: Path) -> None:
    from compliance.profile import load_profiles

    data = (PROFILES_DIR / "pe.toml").read_text().replace('id = "PE"', 'id = "PE-STRICT"')
    (tmp_path / "pe-strict.toml").write_text(data)
    assert "PE-STRICT" in load_profiles(tmp_path)


def test_given_tightening_campaign_when_applied_then_rules_narrow_and_version_names_it(
    profiles: dict[str, Profile],
) -> None:
    mx = profiles["MX"]
    tight = tighten(
        mx,
        {
            "hours": {"sat": [["09:00", "14:00"]], "sun": []},
            "caps": [{"kind": "attempts", "window_hours": 24, "max": 2}],
            "abandon": {"cooldown_hours": 4},
            "registries": [
                {"name": "repep", "max_age_days": 15},
                {"name": "reus", "max_age_days": 7},
            ],
            "parties": {"allowed": ["debtor"]},
        },
        campaign="tarjetas",
    )
    assert str(tight.hours[5][0]) == "09:00-14:00" and tight.hours[6] == ()
    assert len(tight.caps) == len(mx.caps) + 1
    assert {r.name: r.max_age_days for r in tight.registries} == {"reus": 7, "repep": 15}
    assert tight.full_version.startswith("MX@2026.4+tarjetas#")
    assert tight.digest != mx.digest


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"hours": {"mon": [["06:00", "12:00"]]}}, "outside"),
        ({"hours": {"mon": [["07:00", "22:30"]]}}, "outside"),
        ({"holidays": {"closed": False}}, "holidays"),
        ({"consent": {"required": False}}, "consent"),
        ({"parties": {"allowed": ["debtor", "third_party"]}}, "third_party"),
        ({"caps": [{"kind": "attempts", "window_hours": 24, "max": 5}]}, "loosens"),
        ({"registries": [{"name": "reus", "max_age_days": 60}]}, "max age"),
        ({"abandon": {"cooldown_hours": -1}}, "integer"),
        ({"caps": [{"kind": "attempts", "window_hours": 720, "max": 9}]}, "counters keep"),
        (
            {"caps": [{"kind": "attempts", "channels": ["sms"], "window_hours": 24, "max": 3}]},
            "loosens",
        ),
        ({"channels": {"chat": {}}}, "does not allow"),
        ({"channels": {"sms": {"hours": {"mon": [["06:00", "12:00"]]}}}}, "outside"),
        ({"channels": {"sms": {"consent": False}}}, "consent"),
        ({"channels": {"sms": {"allowed": "no"}}}, "true or false"),
        ({"channels": {"sms": {"colour": "red"}}}, "unknown keys"),
        ({"channels": {"sms": []}}, "expected a table"),
        ({"channels": ["sms"]}, "table of channels"),
        ({"channels": {"sms": {"hours": ["mon"]}}}, "table of weekdays"),
        ({"sometimes_call_at_night": True}, "unknown keys"),
    ],
)
def test_given_loosening_campaign_when_applied_then_error(
    profiles: dict[str, Profile], overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProfileError, match=message):
        tighten(profiles["MX"], overrides, campaign="loose")


def test_given_shorter_abandon_cooldown_when_us_then_error(profiles: dict[str, Profile]) -> None:
    with pytest.raises(ProfileError, match="cool-down"):
        tighten(profiles["US"], {"abandon": {"cooldown_hours": 2}}, campaign="x")


def test_given_closed_day_when_campaign_opens_it_then_error(profiles: dict[str, Profile]) -> None:
    with pytest.raises(ProfileError, match="closed day"):
        tighten(profiles["PE"], {"hours": {"sat": [["09:00", "12:00"]]}}, campaign="x")
