"""The strategy table and the pure plan: what is due for one account at one instant."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.strategy import (
    AUTOMATIC_STAGES,
    AccountState,
    Event,
    PromiseFacts,
    Strategy,
    StrategyError,
    broken_key,
    cadence_key,
    event_key,
    plan,
    strategy_for,
    strategy_from,
)

RULES = """
[strategy.stages.friendly]
steps = [
  { day = 0, channel = "sms", template = "recordatorio" },
  { day = 3, channel = "email", template = "recordatorio" },
  { day = 5, channel = "call" },
  { event = "promise_made", channel = "sms", template = "confirmacion_promesa" },
  { event = "promise_due", days_before = 2, channel = "sms", template = "recordatorio_promesa" },
  { event = "promise_broken", channel = "sms", template = "promesa_incumplida" },
]

[strategy.stages.firm]
enter_days_past_due = 30
enter_after_days = 21
steps = [{ day = 0, channel = "whatsapp", template = "aviso_firme" }]

[strategy.stages.prelegal]
enter_days_past_due = 90
steps = [{ day = 0, channel = "email", template = "aviso_prejudicial" }]
"""

T0 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def strategy() -> Strategy:
    return strategy_for(tomllib.loads(RULES))


def state(**kw: Any) -> AccountState:
    values: dict[str, Any] = dict(
        account_id=1, status="active", stage="friendly", stage_entered_at=T0,
        due_date=date(2026, 11, 25), promises=(), done=frozenset(),
    )  # fmt: skip
    values.update(kw)
    return AccountState(**values)


def keys(p: Any) -> list[str]:
    return [d.key for d in p.due]


# ---------------------------------------------------------------- the rules file


def test_given_the_documented_table_when_read_then_each_stage_has_its_steps() -> None:
    s = strategy()
    assert [st.channel for st in s.rules("friendly").steps][:3] == ["sms", "email", "call"]
    assert s.rules("firm").enter_days_past_due == 30
    assert s.rules("firm").enter_after_days == 21
    assert ("friendly", "confirmacion_promesa") in s.templates()


def test_given_no_strategy_table_when_read_then_the_campaign_only_dials() -> None:
    assert strategy_for({}).empty
    assert plan(strategy_for({}), state(), T0).due == ()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"stages": {"legal": {"steps": []}}}, "legal account is never contacted"),
        ({"stages": {"late": {}}}, "unknown stage"),
        ({"cadence": []}, "unknown key(s) cadence"),
        ({"stages": []}, "must be a table"),
        ({"stages": {"friendly": []}}, "must be a table"),
        ({"stages": {"friendly": {"steps": {}}}}, "must be a list"),
        ({"stages": {"friendly": {"steps": [1]}}}, "must be a table like"),
        ({"stages": {"friendly": {"when": 1}}}, "unknown key(s) when"),
        ({"stages": {"friendly": {"steps": [{"day": 0, "channel": "fax", "template": "x"}]}}},
         "channel must be one of"),
        ({"stages": {"friendly": {"steps": [{"channel": "sms", "template": "x"}]}}},
         "either day"),
        ({"stages": {"friendly": {"steps": [{"day": 1, "event": "promise_made",
                                             "channel": "sms", "template": "x"}]}}}, "either day"),
        ({"stages": {"friendly": {"steps": [{"day": -1, "channel": "sms", "template": "x"}]}}},
         "day must be"),
        ({"stages": {"friendly": {"steps": [{"day": True, "channel": "sms", "template": "x"}]}}},
         "day must be"),
        ({"stages": {"friendly": {"steps": [{"day": 0, "channel": "sms"}]}}}, "template must name"),
        ({"stages": {"friendly": {"steps": [{"day": 0, "channel": "sms", "template": "../x"}]}}},
         "template must name"),
        ({"stages": {"friendly": {"steps": [{"day": 0, "channel": "call", "template": "x"}]}}},
         "a call has no template"),
        ({"stages": {"friendly": {"steps": [{"event": "payday", "channel": "sms",
                                             "template": "x"}]}}}, "event must be one of"),
        ({"stages": {"friendly": {"steps": [{"event": "promise_made", "channel": "call"}]}}},
         "written message"),
        ({"stages": {"friendly": {"steps": [{"event": "promise_due", "days_before": 99,
                                             "channel": "sms", "template": "x"}]}}}, "days_before"),
        ({"stages": {"friendly": {"steps": [{"event": "promise_made", "days_before": 1,
                                             "channel": "sms", "template": "x"}]}}}, "days_before"),
        ({"stages": {"friendly": {"steps": [{"day": 1, "days_before": 1,
                                             "channel": "sms", "template": "x"}]}}}, "days_before"),
        ({"stages": {"friendly": {"enter_days_past_due": 5}}}, "first stage"),
        ({"stages": {"firm": {"enter_after_days": 0}}}, "enter_after_days"),
        ({"stages": {"firm": {"enter_days_past_due": 60}, "prelegal": {"enter_days_past_due": 30}}},
         "only move forward"),
    ],
)  # fmt: skip
def test_given_a_bad_strategy_when_read_then_the_error_names_it(table: Any, message: str) -> None:
    with pytest.raises(StrategyError) as err:
        strategy_from(table)
    assert message in str(err.value)


# ---------------------------------------------------------------- the cadence


def test_given_day_steps_when_time_passes_then_each_runs_on_its_day_once() -> None:
    s = strategy()
    first = plan(s, state(), T0)
    assert keys(first) == [cadence_key("friendly", T0, 0)]
    assert first.next_at == T0 + timedelta(days=3)
    done = frozenset(keys(first))
    assert plan(s, state(done=done), T0 + timedelta(days=1)).due == ()
    day3 = plan(s, state(done=done), T0 + timedelta(days=3))
    assert [d.step.channel for d in day3.due] == ["email"]
    done |= frozenset(keys(day3))
    day5 = plan(s, state(done=done), T0 + timedelta(days=5, hours=1))
    assert [d.step.channel for d in day5.due] == ["call"]


def test_given_several_overdue_steps_when_planned_then_only_the_latest_runs() -> None:
    p = plan(strategy(), state(), T0 + timedelta(days=4))
    assert [d.step.channel for d in p.due] == ["email"]
    assert [d.key for d in p.passed_over] == [cadence_key("friendly", T0, 0)]


def test_given_an_open_promise_when_planned_then_the_cadence_waits() -> None:
    promise = PromiseFacts(7, T0 + timedelta(hours=1), date(2026, 12, 10), "open")
    p = plan(strategy(), state(promises=(promise,), done=frozenset({cadence_key("friendly", T0, 0),
                                                                    event_key(Event.promise_made, 7, 3)})),
             T0 + timedelta(days=4))  # fmt: skip
    assert p.due == ()
    # The reminder two days before the promise is the next thing planned.
    assert p.next_at == datetime(2026, 12, 8, tzinfo=UTC)


def test_given_a_promise_made_when_planned_then_a_written_confirmation_is_due() -> None:
    promise = PromiseFacts(7, T0 + timedelta(hours=1), date(2026, 12, 10), "open")
    p = plan(strategy(), state(promises=(promise,), done=frozenset({cadence_key("friendly", T0, 0)})),
             T0 + timedelta(hours=1, minutes=1))  # fmt: skip
    assert [(d.key, d.step.template, d.promise_id) for d in p.due] == [
        (event_key(Event.promise_made, 7, 3), "confirmacion_promesa", 7)
    ]


def test_given_a_promise_due_in_two_days_when_planned_then_the_reminder_is_due() -> None:
    promise = PromiseFacts(7, T0, date(2026, 12, 10), "open")
    done = frozenset({cadence_key("friendly", T0, 0), event_key(Event.promise_made, 7, 3)})
    p = plan(
        strategy(), state(promises=(promise,), done=done), datetime(2026, 12, 8, 9, tzinfo=UTC)
    )
    assert [d.step.template for d in p.due] == ["recordatorio_promesa"]
    # After its date a reminder is pointless.
    late = plan(
        strategy(), state(promises=(promise,), done=done), datetime(2026, 12, 11, 1, tzinfo=UTC)
    )
    assert late.due == ()


def test_given_a_broken_promise_when_planned_then_the_next_step_runs_at_once() -> None:
    broken_at = T0 + timedelta(days=1)
    promise = PromiseFacts(7, T0 + timedelta(hours=1), date(2026, 12, 2), "broken", broken_at)
    done = frozenset({cadence_key("friendly", T0, 0), event_key(Event.promise_made, 7, 3)})
    p = plan(strategy(), state(promises=(promise,), done=done), broken_at + timedelta(minutes=5))
    by_channel = {d.step.channel: d for d in p.due}
    assert set(by_channel) == {"sms", "email"}  # the "broken" message and the next step
    assert by_channel["sms"].step.template == "promesa_incumplida"
    assert by_channel["email"].due_at == broken_at
    assert by_channel["email"].marks == (broken_key(7),)
    # Once it ran, the following step keeps its own day.
    done |= {d.key for d in p.due} | {broken_key(7)}
    after = plan(strategy(), state(promises=(promise,), done=done), broken_at + timedelta(hours=1))
    assert after.due == ()
    assert after.next_at == T0 + timedelta(days=5)


def test_given_a_kept_promise_when_planned_then_the_steps_it_covered_are_passed_over() -> None:
    kept_at = T0 + timedelta(days=4)
    promise = PromiseFacts(7, T0 + timedelta(hours=1), date(2026, 12, 4), "kept", kept_at)
    done = frozenset({cadence_key("friendly", T0, 0), event_key(Event.promise_made, 7, 3)})
    p = plan(strategy(), state(promises=(promise,), done=done), kept_at + timedelta(hours=1))
    assert p.due == ()
    assert [d.step.channel for d in p.passed_over] == ["email"]


def test_given_an_old_promise_when_first_seen_then_no_confirmation_is_sent() -> None:
    promise = PromiseFacts(7, T0 - timedelta(days=10), date(2026, 12, 30), "open")
    p = plan(
        strategy(), state(promises=(promise,), done=frozenset({cadence_key("friendly", T0, 0)})), T0
    )
    assert p.due == ()


# ---------------------------------------------------------------- stages


def test_given_a_debt_past_its_threshold_when_planned_then_the_stage_moves_and_starts_its_cadence() -> (
    None
):
    p = plan(strategy(), state(due_date=date(2026, 10, 31)), T0)  # 31 days past due
    assert p.stage_change is not None and p.stage_change.stage == "firm"
    assert p.stage_change.reason == "days_past_due"
    assert [(d.stage, d.step.channel) for d in p.due] == [("firm", "whatsapp")]


def test_given_a_very_old_debt_when_planned_then_it_jumps_to_the_furthest_stage_but_not_legal() -> (
    None
):
    p = plan(strategy(), state(due_date=date(2024, 1, 1)), T0)
    assert p.stage_change is not None and p.stage_change.stage == "prelegal"


def test_given_time_in_stage_without_a_kept_promise_when_planned_then_it_moves_one_stage() -> None:
    entered = T0 - timedelta(days=21)
    p = plan(strategy(), state(stage_entered_at=entered, due_date=date(2026, 11, 20)), T0)
    assert p.stage_change is not None
    assert (p.stage_change.stage, p.stage_change.reason) == ("firm", "time_in_stage")


def test_given_a_promise_kept_in_the_stage_when_planned_then_the_stage_clock_restarts() -> None:
    entered = T0 - timedelta(days=21)
    kept = PromiseFacts(
        7, entered + timedelta(days=1), date(2026, 11, 20), "kept", T0 - timedelta(days=5)
    )
    p = plan(
        strategy(),
        state(stage_entered_at=entered, due_date=date(2026, 11, 20), promises=(kept,)),
        T0,
    )
    assert p.stage_change is None
    assert p.next_at is not None and p.next_at <= T0 + timedelta(days=16)


def test_given_an_open_promise_when_planned_then_the_stage_does_not_move() -> None:
    promise = PromiseFacts(7, T0, date(2026, 12, 20), "open")
    p = plan(strategy(), state(due_date=date(2026, 1, 1), promises=(promise,)), T0)
    assert p.stage_change is None


@pytest.mark.parametrize("status", ["paid", "settled", "disputed", "cease_contact", "closed"])
def test_given_an_account_not_active_when_planned_then_nothing_is_due(status: str) -> None:
    assert plan(strategy(), state(status=status), T0) == plan(Strategy(), state(), T0)


def test_given_a_legal_account_when_planned_then_nothing_is_ever_due() -> None:
    p = plan(strategy(), state(stage="legal", due_date=date(2020, 1, 1)), T0 + timedelta(days=9))
    assert p.due == () and p.stage_change is None and p.next_at is None


def test_given_a_naive_clock_when_planned_then_it_refuses() -> None:
    with pytest.raises(ValueError):
        plan(strategy(), state(), T0.replace(tzinfo=None))


# ---------------------------------------------------------------- the debtor's date

MEXICO_CITY = (ZoneInfo("America/Mexico_City"),)  # UTC-6 in December
TIJUANA_CANCUN = (ZoneInfo("America/Tijuana"), ZoneInfo("America/Cancun"))  # UTC-8, UTC-5
REMINDER = event_key(Event.promise_due, 7, 4)


def reminder_state(zones: tuple[ZoneInfo, ...]) -> AccountState:
    promise = PromiseFacts(7, T0, date(2026, 12, 10), "open")
    done = frozenset({cadence_key("friendly", T0, 0), event_key(Event.promise_made, 7, 3)})
    return state(promises=(promise,), done=done, zones=zones)


def test_given_a_mexico_city_debtor_at_19_30_local_when_planned_then_tomorrows_reminder_waits() -> (
    None
):
    # 01:30 UTC of the 8th is 19:30 of the 7th in Mexico City: the reminder two days
    # before the 10th is not due until the 8th has begun there (06:00 UTC).
    at = datetime(2026, 12, 8, 1, 30, tzinfo=UTC)
    p = plan(strategy(), reminder_state(MEXICO_CITY), at)
    assert p.due == ()
    assert p.next_at == datetime(2026, 12, 8, 6, 0, tzinfo=UTC)
    due = plan(strategy(), reminder_state(MEXICO_CITY), datetime(2026, 12, 8, 6, 0, tzinfo=UTC))
    assert [d.key for d in due.due] == [REMINDER]
    assert due.due[0].due_at == datetime(2026, 12, 8, 6, 0, tzinfo=UTC)


def test_given_a_debtor_in_two_zones_when_planned_then_the_reminder_waits_for_the_zone_behind() -> (
    None
):
    # 07:30 UTC: 02:30 of the 8th in Cancún, 23:30 of the 7th in Tijuana.
    p = plan(strategy(), reminder_state(TIJUANA_CANCUN), datetime(2026, 12, 8, 7, 30, tzinfo=UTC))
    assert p.due == ()
    assert p.next_at == datetime(2026, 12, 8, 8, 0, tzinfo=UTC)  # Tijuana's midnight


def test_given_the_promise_day_over_in_one_zone_when_planned_then_the_reminder_is_not_sent() -> (
    None
):
    # 05:30 UTC of the 11th: still the 10th in Tijuana (21:30) but the 11th in Cancún.
    late = datetime(2026, 12, 11, 5, 30, tzinfo=UTC)
    assert plan(strategy(), reminder_state(TIJUANA_CANCUN), late).due == ()
    assert [d.key for d in plan(strategy(), reminder_state((TIJUANA_CANCUN[0],)), late).due] == [
        REMINDER
    ]


def test_given_a_mexico_city_debtor_in_the_evening_when_planned_then_the_stage_moves_on_their_day() -> (
    None
):
    # Due on 7 Nov: the 7th of December is day 30 (firm). At 01:30 UTC of the 7th it
    # is still the 6th (day 29) in Mexico City.
    evening = datetime(2026, 12, 7, 1, 30, tzinfo=UTC)
    s = state(due_date=date(2026, 11, 7), stage_entered_at=evening - timedelta(days=2),
              zones=MEXICO_CITY)  # fmt: skip
    p = plan(strategy(), s, evening)
    assert p.stage_change is None
    assert p.next_at == datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    moved = plan(strategy(), s, datetime(2026, 12, 7, 6, 0, tzinfo=UTC))
    assert moved.stage_change is not None and moved.stage_change.stage == "firm"
    # Two zones: the move waits for the zone furthest behind (Tijuana, 08:00 UTC).
    both = replace(s, zones=TIJUANA_CANCUN)
    assert plan(strategy(), both, datetime(2026, 12, 7, 7, 30, tzinfo=UTC)).stage_change is None
    assert plan(strategy(), both, datetime(2026, 12, 7, 8, 0, tzinfo=UTC)).stage_change is not None


# ---------------------------------------------------------------- properties

promises = st.lists(
    st.builds(
        PromiseFacts,
        id=st.integers(1, 5),
        created_at=st.datetimes(datetime(2026, 10, 1), datetime(2026, 12, 20), timezones=st.just(UTC)),
        due_date=st.dates(date(2026, 10, 1), date(2027, 1, 30)),
        status=st.sampled_from(["open", "kept", "broken", "cancelled"]),
        resolved_at=st.none() | st.datetimes(datetime(2026, 10, 1), datetime(2026, 12, 30),
                                             timezones=st.just(UTC)),
    ),
    max_size=3,
    unique_by=lambda p: p.id,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    stage=st.sampled_from([*AUTOMATIC_STAGES, "legal"]),
    entered=st.datetimes(datetime(2026, 9, 1), datetime(2026, 12, 20), timezones=st.just(UTC)),
    due=st.none() | st.dates(date(2025, 1, 1), date(2027, 1, 1)),
    ps=promises,
    offset=st.integers(0, 60 * 24 * 90),
)
def test_plan_properties(stage: str, entered: datetime, due: date | None,
                         ps: list[PromiseFacts], offset: int) -> None:  # fmt: skip
    now = entered + timedelta(minutes=offset)
    s = state(stage=stage, stage_entered_at=entered, due_date=due, promises=tuple(ps))
    p = plan(strategy(), s, now)
    if stage == "legal":
        assert p.due == () and p.stage_change is None
        return
    if p.stage_change is not None:
        # Only forward, never into legal.
        assert p.stage_change.stage != "legal"
        assert AUTOMATIC_STAGES.index(p.stage_change.stage) > AUTOMATIC_STAGES.index(stage)
    assert all(d.due_at <= now for d in p.due)
    assert len({d.key for d in p.due}) == len(p.due)
    assert p.next_at is None or p.next_at > now
    if any(x.status == "open" for x in ps):
        assert all(d.step.day is None for d in p.due)  # the cadence waits for a promise
        assert p.stage_change is None
    assert sum(1 for d in p.due if d.step.day is not None) <= 1  # never a burst
    # What is due now and marked done is never due again at the same instant.
    done = frozenset(k for d in (*p.due, *p.passed_over) for k in (d.key, *d.marks))
    if p.stage_change is None:
        again = plan(strategy(), s.__class__(**{**s.__dict__, "done": done}), now)
        assert not {d.key for d in again.due} & done
