"""The dialer's /metrics move with the real dial loop, not only on the synthetic floor:
the pacing dial level at each decision, calls placed and answered by a person by the
debtor's local hour and region (the contact-by-hour dashboard reads these)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.definitions import REGISTRY
from metrics.roles import DIALER, registry_for
from store.models import CallAttempt

# conftest.seed_campaign: debtors in Mexico City (MX-CMX), the shift at 11:00 there.
CMX_AT_11 = {"country": "MX", "region": "MX-CMX", "hour": "11"}


def value(name: str, labels: dict[str, str]) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def ended(floor) -> list[CallAttempt]:  # type: ignore[no-untyped-def]
    with Session(floor.engine) as s:
        return list(s.scalars(select(CallAttempt).where(CallAttempt.ended_at.is_not(None))))


async def test_given_a_floor_dialing_then_dial_level_and_local_hour_counts_follow_the_calls(
    make_floor,
) -> None:  # type: ignore[no-untyped-def]
    attempts_before = value("cobrador_local_hour_attempts_total", CMX_AT_11) or 0.0
    contacts_before = value("cobrador_local_hour_contacts_total", CMX_AT_11) or 0.0
    floor = await make_floor(accounts=12)
    dialer = floor.dialer
    await floor.run_until(lambda: len(dialer.calls) == 0 and len(ended(floor)) >= 12)
    rows = ended(floor)
    dialed = [a for a in rows if a.result != "blocked"]
    assert dialed and all(a.debtor_local_time.startswith("2026-11-25T11") for a in dialed)
    attempts = (value("cobrador_local_hour_attempts_total", CMX_AT_11) or 0.0) - attempts_before
    contacts = (value("cobrador_local_hour_contacts_total", CMX_AT_11) or 0.0) - contacts_before
    # Every call handed to Asterisk, once; a person answered every contact and abandon,
    # a machine none (an early hang-up may come before or after the screening's verdict).
    assert attempts == len(dialed)
    results = [a.result for a in dialed]
    answered = results.count("contact") + results.count("abandoned")
    assert results.count("contact") > 0
    assert answered <= contacts <= answered + results.count("early_hangup")
    # The pacing decision sets the dial level (its value: tests/unit/dialer/test_dial_level.py;
    # here it may be anything an agent pausing mid-ring makes it).
    level = value("cobrador_pacing_dial_level", {"campaign": "mx-test", "mode": "progressive"})
    assert level is not None and level >= 0.0
    served = {metric.name for metric in registry_for(DIALER).collect()}
    assert {"cobrador_pacing_dial_level", "cobrador_local_hour_attempts",
            "cobrador_local_hour_contacts"} <= served  # fmt: skip


def answered_by(result: str) -> float:
    return value("cobrador_calls_answered_total", {"campaign": "mx-test", "result": result}) or 0.0


async def test_given_a_floor_dialing_then_each_answered_call_is_counted_once_by_what_answered(
    make_floor,
) -> None:  # type: ignore[no-untyped-def]
    kinds = ("human", "machine", "unscreened", "answered")
    before = {kind: answered_by(kind) for kind in kinds}
    floor = await make_floor(accounts=16)
    dialer = floor.dialer
    await floor.run_until(lambda: len(dialer.calls) == 0 and len(ended(floor)) >= 16)
    counted = {kind: answered_by(kind) - before[kind] for kind in kinds}
    rows = ended(floor)
    answered = [a for a in rows if a.answered_at is not None]
    results = [a.result for a in answered]
    # Once per answered call, by what answered; the bare 'answered' of the AMI event
    # (before: every answered call, whatever it was) no longer counts.
    assert counted["answered"] == 0
    assert counted["human"] + counted["machine"] + counted["unscreened"] == len(answered)
    assert counted["machine"] == results.count("machine") > 0
    # A person answered every contact and abandon; an early hang-up either way.
    people = results.count("contact") + results.count("abandoned")
    assert people <= counted["human"] <= people + results.count("early_hangup")
