"""`cobrador check --channel`: every channel through the same check, per country —
hours, days, holidays, consent per channel, the CO day/week rules across channels,
Reg F's calls-only cap, REUS on SMS, visits — recorded as decisions with their
channel and audited, counted never; and every bad input refused with exit 2."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from compliance_helpers import make_account
from sqlalchemy import Engine, select, update

from cobrador.cli import main
from compliance.registry_import import import_registry
from compliance.transparency.verify import verify
from store.db import transaction
from store.models import Account, AuditEntry, CallAttempt, Decision

TUESDAY_NOON_MX = "2026-01-13T18:00:00Z"
TUESDAY_NOON_CO = "2026-01-13T17:00:00Z"  # Bogotá and Lima
CO_PHONE = "+573001234567"
ALL = "call,sms,whatsapp"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, redis_url: str, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("COBRADOR_DATA_DIR", str(tmp_path / "data"))


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["check", *args])
    out = capsys.readouterr().out
    return code, (json.loads(out) if out.strip() else {})


def _reus(engine: Engine, redis_url: str, tmp_path: Path, numbers: str) -> None:
    path = tmp_path / "reus.txt"
    path.write_text(numbers)
    client = redis.Redis.from_url(redis_url)
    import_registry(engine, client, name="reus", path=path, country="MX",
                    now=datetime(2026, 1, 12, tzinfo=UTC))  # fmt: skip
    client.close()


def _co(engine: Engine, channels: str = ALL, **fields: Any) -> int:
    return make_account(engine, "CO-1", country="CO", region="DC",
                        phones=[{"number_e164": CO_PHONE, "channels": channels}],
                        email="juana@example.com", email_consent=True,
                        email_consent_ref="form-email-1", **fields)  # fmt: skip


def _attempt(engine: Engine, account_id: int, channel: str, at: str, **values: Any) -> None:
    with transaction(engine) as s:
        started = datetime.fromisoformat(at.replace("Z", "+00:00"))
        s.add(CallAttempt(account_id=account_id, phone_e164=CO_PHONE, channel=channel,
                          started_at=started, **values))  # fmt: skip


def test_given_mx_debtor_when_sms_checked_then_allowed_recorded_with_channel_and_audited(
    engine: Engine, env: None, redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_account(engine, phones=[{"number_e164": "+525512345678", "channels": ALL}])
    _reus(engine, redis_url, tmp_path, "+525599999999\n")
    code, out = _run(capsys, "--account", "ACC-1", "--channel", "sms", "--phone",
                     "55 1234 5678", "--at", TUESDAY_NOON_MX)  # fmt: skip
    assert code == 0, out
    assert out["channel"] == "sms" and out["allowed"] is True and out["reasons"] == []
    assert out["phone"] == "+52******5678" and out["profile"] == "MX"
    assert set(out["registry_versions"]) == {"reus"}
    with transaction(engine) as session:
        row = session.execute(select(Decision)).scalar_one()
        assert (row.channel, row.phone_e164, row.address, row.stage) == (
            "sms",
            "+525512345678",
            None,
            "check",
        )
        entry = session.execute(
            select(AuditEntry).where(AuditEntry.kind == "decision")
        ).scalar_one()
        payload = json.loads(entry.payload)
        assert payload["channel"] == "sms" and payload["decision_id"] == row.id
    assert verify(engine).ok
    # A check counts nothing: the SMS cap (1 a day) still lets the next one through.
    assert _run(capsys, "--account", "ACC-1", "--channel", "sms", "--phone", "+525512345678",
                "--at", TUESDAY_NOON_MX)[0] == 0  # fmt: skip


def test_given_number_in_reus_when_sms_or_whatsapp_checked_then_registry_listed(
    engine: Engine, env: None, redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_account(engine, phones=[{"number_e164": "+525512345678", "channels": ALL}],
                 email="juana@example.com", email_consent=True, email_consent_ref="f-1")  # fmt: skip
    _reus(engine, redis_url, tmp_path, "+525512345678\n")
    for channel in ("sms", "whatsapp", "call"):
        code, out = _run(capsys, "--account", "ACC-1", "--channel", channel, "--phone",
                         "+525512345678", "--at", TUESDAY_NOON_MX)  # fmt: skip
        assert code == 1 and out["reasons"] == ["registry_listed"], channel
    # E-mail reaches no number: REUS does not decide it.
    code, out = _run(capsys, "--account", "ACC-1", "--channel", "email", "--at", TUESDAY_NOON_MX)
    assert code == 0 and out["email"] == "j***@example.com"


@pytest.mark.parametrize(
    ("channel", "at", "reason"),
    [
        ("sms", "2026-01-14T00:30:00Z", "outside_hours"),  # Tuesday 19:30 Bogotá
        ("whatsapp", "2026-01-18T17:00:00Z", "day_not_allowed"),  # Sunday
        ("email", "2026-01-17T20:30:00Z", "outside_hours"),  # Saturday 15:30
        ("call", "2026-01-12T17:00:00Z", "holiday"),  # Reyes Magos (observed)
        ("sms", "2026-01-12T17:00:00Z", "holiday"),
    ],
)
def test_given_co_debtor_when_channel_outside_law_hours_then_time_reason(
    engine: Engine,
    env: None,
    capsys: pytest.CaptureFixture[str],
    channel: str,
    at: str,
    reason: str,
) -> None:
    _co(engine)
    phone = ["--phone", CO_PHONE] if channel in ("call", "sms", "whatsapp") else []
    code, out = _run(capsys, "--account", "CO-1", "--channel", channel, *phone, "--at", at)
    assert code == 1 and out["reasons"] == [reason] and out["profile"] == "CO"


def test_given_co_number_authorised_for_calls_only_when_sms_then_channel_not_authorised(
    engine: Engine, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # A consented number imported without its channels is authorised for calls only.
    make_account(engine, "CO-1", country="CO", region="DC", phones=[{"number_e164": CO_PHONE}])
    sms = ["--account", "CO-1", "--phone", CO_PHONE, "--at", TUESDAY_NOON_CO]
    code, out = _run(capsys, "--channel", "sms", *sms)
    assert code == 1 and out["reasons"] == ["channel_not_authorised"]
    assert _run(capsys, "--channel", "call", *sms)[0] == 0
    # No e-mail consent on the account: no e-mail.
    code, out = _run(capsys, "--account", "CO-1", "--channel", "email", "--at", TUESDAY_NOON_CO)
    assert code == 1 and out["reasons"] == ["invalid_address"]


def test_given_co_direct_contact_by_call_when_other_channels_same_week_then_refused(
    engine: Engine, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    account_id = _co(engine)
    # Sunday-safe: a right-party call on Monday 2026-01-12 10:00 Bogotá (a holiday, but
    # it is in the ledger as imported history), checked on Tuesday noon.
    _attempt(engine, account_id, "call", "2026-01-12T15:00:00Z", result="contact",
             right_party_contact=True)  # fmt: skip
    base = ["--account", "CO-1", "--at", TUESDAY_NOON_CO]
    code, out = _run(capsys, *base, "--channel", "sms", "--phone", CO_PHONE)
    assert code == 1 and out["reasons"] == ["channel_cap_week"]
    code, out = _run(capsys, *base, "--channel", "email")
    assert code == 1 and out["reasons"] == ["channel_cap_week"]
    code, out = _run(capsys, *base, "--channel", "call", "--phone", CO_PHONE)
    assert code == 1 and set(out["reasons"]) == {"contact_cap_week"}
    # Eight days later, every channel is free again.
    later = ["--account", "CO-1", "--at", "2026-01-20T17:00:00Z"]
    assert _run(capsys, *later, "--channel", "sms", "--phone", CO_PHONE)[0] == 0


def test_given_co_sms_sent_today_when_call_or_email_then_contact_cap_day(
    engine: Engine, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    account_id = _co(engine)
    _attempt(engine, account_id, "sms", "2026-01-13T14:00:00Z", result="delivered")
    base = ["--account", "CO-1", "--at", TUESDAY_NOON_CO]
    for channel, phone in (("call", ["--phone", CO_PHONE]), ("email", []),
                           ("sms", ["--phone", CO_PHONE])):  # fmt: skip
        code, out = _run(capsys, *base, "--channel", channel, *phone)
        assert code == 1 and out["reasons"] == ["contact_cap_day"], channel


def test_given_co_sms_blocked_today_when_call_then_allowed(
    engine: Engine, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # A message that was never sent (blocked at its final check) is no contact.
    account_id = _co(engine)
    _attempt(engine, account_id, "sms", "2026-01-13T14:00:00Z", result="blocked")
    base = ["--account", "CO-1", "--at", TUESDAY_NOON_CO]
    assert _run(capsys, *base, "--channel", "call", "--phone", CO_PHONE)[0] == 0


def test_given_co_visit_when_account_has_no_authorisation_then_refused_else_allowed(
    engine: Engine, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _co(engine)
    code, out = _run(capsys, "--account", "CO-1", "--channel", "visit", "--at", TUESDAY_NOON_CO)
    assert code == 1 and out["reasons"] == ["visit_not_authorised"] and out["phone"] is None
    with transaction(engine) as s:  # the account gains its signed authorisation
        s.execute(update(Account).values(visit_authorisation_ref="microcredito-77"))
    code, out = _run(capsys, "--account", "CO-1", "--channel", "visit", "--at", TUESDAY_NOON_CO)
    assert code == 0 and out["channel"] == "visit"


@pytest.mark.parametrize(
    ("at", "code", "reasons"),
    [
        ("2026-01-13T17:00:00Z", 0, []),  # Tuesday 12:00 Lima
        ("2026-01-14T01:30:00Z", 1, ["outside_hours"]),  # Tuesday 20:30
        ("2026-01-13T11:30:00Z", 1, ["outside_hours"]),  # Tuesday 06:30
        ("2026-01-17T17:00:00Z", 1, ["day_not_allowed"]),  # Saturday
        ("2026-07-29T17:00:00Z", 1, ["holiday"]),  # Fiestas Patrias (Wednesday)
    ],
)
def test_given_pe_debtor_when_visit_checked_then_art_62_hours(
    engine: Engine, env: None, capsys: pytest.CaptureFixture[str], at: str, code: int,
    reasons: list[str],
) -> None:  # fmt: skip
    make_account(engine, "PE-1", country="PE", region=None,
                 phones=[{"number_e164": "+51912345678"}])  # fmt: skip
    got, out = _run(capsys, "--account", "PE-1", "--channel", "visit", "--at", at)
    assert (got, out["reasons"]) == (code, reasons)


def test_given_seven_us_calls_in_seven_days_when_checked_then_call_blocked_sms_allowed(
    engine: Engine, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    account_id = make_account(engine, "US-1", country="US", region="NY",
                              phones=[{"number_e164": "+12125550100", "channels": ALL}])  # fmt: skip
    for day in range(7):
        _attempt(engine, account_id, "call", f"2026-01-{7 + day:02d}T15:00:00Z", result="no_answer")
    base = ["--account", "US-1", "--phone", "+12125550100", "--at", "2026-01-13T17:00:00Z"]
    code, out = _run(capsys, *base, "--channel", "call")
    assert code == 1 and out["reasons"] == ["attempt_cap_week"] and out["profile"] == "US"
    code, out = _run(capsys, *base, "--channel", "sms")
    assert code == 0 and out["reasons"] == []


def test_given_email_not_on_the_account_when_checked_then_third_party(
    engine: Engine, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _co(engine)
    base = ["--account", "CO-1", "--channel", "email", "--at", TUESDAY_NOON_CO]
    code, out = _run(capsys, *base, "--email", "otra@example.com")
    assert code == 1 and out["reasons"] == ["third_party", "no_consent"]
    code, out = _run(capsys, *base, "--email", "JUANA@example.com")  # same mailbox
    assert code == 0, out
    with transaction(engine) as s:
        rows = s.execute(select(Decision.channel, Decision.address, Decision.phone_e164)).all()
    assert set(rows) == {("email", "otra@example.com", None), ("email", "juana@example.com", None)}


@pytest.mark.parametrize(
    "args",
    [
        ["--channel", "sms"],  # no number
        ["--channel", "whatsapp", "--email", "juana@example.com"],
        ["--channel", "sms", "--phone", CO_PHONE, "--email", "juana@example.com"],
        ["--channel", "email", "--phone", CO_PHONE],
        ["--channel", "email", "--email", "juana.example.com"],
        ["--channel", "email", "--email", "a@b@example.com"],
        ["--channel", "visit", "--phone", CO_PHONE],
        ["--channel", "visit", "--email", "juana@example.com"],
        ["--channel", "letter", "--phone", CO_PHONE],
        ["--channel", "letter", "--email", "juana@example.com"],
        ["--channel", "sms", "--phone", "hola"],
        ["--channel", "email", "--at", "mañana"],
        ["--channel", "email", "--account", "NOPE"],
    ],
)
def test_given_bad_channel_input_when_checked_then_exit_2_with_message(
    engine: Engine, env: None, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    _co(engine)
    account = [] if "--account" in args else ["--account", "CO-1"]
    assert main(["check", *account, *args]) == 2
    assert "error" in capsys.readouterr().err
    with transaction(engine) as s:
        assert s.execute(select(Decision)).first() is None


@pytest.mark.parametrize("channel", ["fax", "chat", "SMS", "Letter", "carta", "portal"])
def test_given_unknown_channel_when_checked_then_usage_error(
    engine: Engine, env: None, channel: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["check", "--account", "CO-1", "--channel", channel, "--phone", CO_PHONE])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err


COUNTRIES = {
    # profile: (country, region, number, a Tuesday noon there, campaign profile)
    "MX": ("MX", "CMX", "+525512345678", "2026-01-13T18:00:00Z", None),
    "MX-PROFECO": ("MX", "CMX", "+525512345678", "2026-01-13T18:00:00Z", "MX-PROFECO"),
    "CO": ("CO", "DC", CO_PHONE, "2026-01-13T17:00:00Z", None),
    "PE": ("PE", "LIM", "+51912345678", "2026-01-13T17:00:00Z", None),
    "US": ("US", "NY", "+12125550100", "2026-01-13T17:00:00Z", None),
}
# Per profile and channel, an instant outside that channel's days or hours and the reason.
OUTSIDE = {
    "MX": ("2026-01-14T04:30:00Z", "outside_hours"),  # 22:30 Mexico City
    "MX-PROFECO": ("2026-01-17T18:00:00Z", "day_not_allowed"),  # Saturday
    "CO": ("2026-01-18T17:00:00Z", "day_not_allowed"),  # Sunday
    "PE": ("2026-01-14T01:30:00Z", "outside_hours"),  # 20:30 Lima
    "US": ("2026-01-14T02:30:00Z", "outside_hours"),  # 21:30 New York
}
VISITS = {"MX", "MX-PROFECO", "CO", "PE"}
LETTERS = {"MX", "MX-PROFECO", "PE"}  # CO and US do not list letters


@pytest.mark.parametrize("profile", sorted(COUNTRIES))
@pytest.mark.parametrize("channel", ["call", "sms", "whatsapp", "email", "visit", "letter"])
def test_given_each_country_and_channel_when_checked_at_noon_and_outside_then_law_applies(
    engine: Engine, env: None, redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    profile: str, channel: str,
) -> None:  # fmt: skip
    country, region, number, noon, campaign_profile = COUNTRIES[profile]
    campaign = {"profile": campaign_profile, "country": country} if campaign_profile else None
    make_account(engine, "X-1", country=country, region=region, campaign=campaign,
                 phones=[{"number_e164": number, "channels": ALL}],
                 email="deudor@example.com", email_consent=True, email_consent_ref="F-1",
                 visit_authorisation_ref="AUT-1", address="Calle Falsa 123, Centro")  # fmt: skip
    if country == "MX":
        _reus(engine, redis_url, tmp_path, "+525599999999\n")
    phone = ["--phone", number] if channel in ("call", "sms", "whatsapp") else []
    args = ["--account", "X-1", "--channel", channel, *phone]
    code, out = _run(capsys, *args, "--at", noon)
    if (channel == "visit" and profile not in VISITS) or (
        channel == "letter" and profile not in LETTERS
    ):
        assert code == 1 and out["reasons"][0] == "channel_not_allowed"
        return
    assert (code, out["reasons"], out["channel"]) == (0, [], channel)
    assert out["profile"] == profile
    at, reason = OUTSIDE[profile]
    code, out = _run(capsys, *args, "--at", at)
    assert (code, out["reasons"]) == (1, [reason])


def test_given_a_letter_when_the_account_has_no_postal_address_then_no_address(
    engine: Engine, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    make_account(engine, "MX-1", phones=[{"number_e164": "+525512345678"}])
    make_account(engine, "MX-2", phones=[{"number_e164": "+525512345679"}], address="   ")
    make_account(engine, "MX-3", phones=[{"number_e164": "+525512345670"}], address="Calle 5")
    make_account(engine, "MX-4", phones=[{"number_e164": "+525512345671"}],
                 address="Calle 5, Centro, Toluca")  # fmt: skip
    base = ["--channel", "letter", "--at", TUESDAY_NOON_MX]
    for ref in ("MX-1", "MX-2"):
        code, out = _run(capsys, "--account", ref, *base)
        assert (code, out["reasons"], out["channel"], out["phone"], out["postal"]) == (
            1, ["no_address"], "letter", None, "")  # fmt: skip
    code, out = _run(capsys, "--account", "MX-3", *base)
    assert (code, out["reasons"], out["postal"]) == (0, [], "*******")  # one part: hidden whole
    # Where the letter goes, as the operator reads it: the town, never the door.
    assert _run(capsys, "--account", "MX-4", *base)[1]["postal"] == "***, Centro, Toluca"
    with transaction(engine) as s:
        assert set(s.scalars(select(Decision.channel))) == {"letter"}
        # Where each letter was checked to go: nowhere, or the account's postal address.
        assert sorted(s.execute(select(Account.external_ref, Decision.address)
                                .join(Account, Account.id == Decision.account_id))
                      .tuples()) == [("MX-1", None), ("MX-2", None), ("MX-3", "Calle 5"),
                                     ("MX-4", "Calle 5, Centro, Toluca")]  # fmt: skip


def test_given_a_letter_opt_out_by_the_operator_then_the_letter_check_says_opted_out(
    engine: Engine, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    make_account(engine, "PE-1", country="PE", region=None,
                 phones=[{"number_e164": "+51912345678"}], address="Jr. Lampa 123")  # fmt: skip
    check = ["--account", "PE-1", "--channel", "letter", "--at", TUESDAY_NOON_CO]
    assert _run(capsys, *check)[0] == 0
    optout = ["optout", "add", "--account", "PE-1", "--channel", "letter"]
    assert main([*optout, "--phone", "+51912345678", "--evidence", "F-1"]) == 2
    assert "not for a number" in capsys.readouterr().err
    assert main([*optout, "--evidence", "carta-firmada-7"]) == 0
    capsys.readouterr()
    code, out = _run(capsys, *check)
    assert (code, out["reasons"]) == (1, ["opted_out"])
    assert [o["source"] for o in out["opted_out"]] == ["operator"]
    # Other channels are not stopped by it.
    code, out = _run(capsys, "--account", "PE-1", "--channel", "visit", "--at", TUESDAY_NOON_CO)
    assert code == 0
    assert main(["optout", "lift", "--account", "PE-1", "--channel", "letter",
                 "--evidence", "reautoriza-8"]) == 0  # fmt: skip
    capsys.readouterr()
    assert _run(capsys, *check)[0] == 0
