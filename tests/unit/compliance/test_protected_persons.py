"""Protected persons (compliance/protection.py): a deceased debtor, a minor, a debtor in
an insolvency proceeding is never contacted on any channel, in any country; a number
that reaches someone else (status third_party) is never contacted either."""

from __future__ import annotations

import pytest
from test_channel_rules import _decide

from compliance.engine import REASONS
from compliance.profile import Profile, load_profiles
from compliance.protection import (
    PROTECTIONS,
    REASON_BY_PROTECTION,
    SOURCES,
    protection_reason,
    source_for,
)

CHANNELS = ("call", "sms", "whatsapp", "email", "visit")
VISIT_OK = {"visit_authorisation_ref": "microcredito-77"}
# Every channel each profile uses (US has no field visits): a case per pair, none skipped.
USED = [(pid, channel) for pid, profile in sorted(load_profiles().items())
        if pid in ("MX", "MX-PROFECO", "CO", "PE", "US")
        for channel in CHANNELS if profile.channel_rule(channel) is not None]  # fmt: skip


@pytest.mark.parametrize(("pid", "channel"), USED)
@pytest.mark.parametrize("protection", PROTECTIONS)
def test_given_protected_debtor_when_any_channel_then_blocked_with_its_reason(
    profiles: dict[str, Profile], pid: str, channel: str, protection: str
) -> None:
    profile = profiles[pid]
    assert _decide(profile, channel, account=VISIT_OK) == ()  # callable without it
    reasons = _decide(profile, channel, account={**VISIT_OK, "protection": protection})
    assert reasons == (REASON_BY_PROTECTION[protection],)


def test_given_protection_nobody_defined_when_evaluated_then_blocked_all_the_same(
    profiles: dict[str, Profile],
) -> None:
    assert _decide(profiles["MX"], "call", account={"protection": "bankrupt?"}) == (
        "protected_person",
    )
    assert _decide(profiles["MX"], "call", account={"protection": "  "}) == ()


@pytest.mark.parametrize("pid", ["MX", "CO", "PE", "US"])
@pytest.mark.parametrize("channel", ["call", "sms", "whatsapp"])
def test_given_number_of_a_third_party_when_contacted_then_third_party(
    profiles: dict[str, Profile], pid: str, channel: str
) -> None:
    profile = profiles[pid]
    if profile.channel_rule(channel) is None:
        pytest.skip(f"{pid} does not use {channel}")
    assert _decide(profile, channel, phone={"status": "third_party"}) == ("third_party",)


def test_every_protection_reason_is_a_stable_reason_with_a_source_per_country() -> None:
    for protection in PROTECTIONS:
        assert protection_reason(protection) in REASONS
        for country in ("MX", "CO", "PE", "US"):
            assert source_for(protection, country)
    assert protection_reason(None) is None and "protected_person" in REASONS
    # Insolvency rests on each country's own law, never on a default.
    assert set(SOURCES["insolvency"]) == {"MX", "CO", "PE", "US"}
    assert "Ley 1116" in source_for("insolvency", "CO") and "art. 545" in source_for(
        "insolvency", "CO"
    )
    assert "Concursos Mercantiles" in source_for("insolvency", "mx")
    assert "27809" in source_for("insolvency", "PE")
