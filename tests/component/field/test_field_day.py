"""The agent's day as the app downloads it: a visit compliance forbids since it was
planned (the account became protected, disputed or paid) is flagged and off the route."""

from __future__ import annotations

from datetime import timedelta

import pytest
from field_fixtures import NOW, TODAY, FakeCheck, FieldSeed, seed_field
from sqlalchemy import Engine, event, select, update

from compliance.profile import load_profiles
from field import plans, visits
from field.checkin import Fix
from field.day import MAP_EVIDENCE, MAP_REFUSED_EVIDENCE, MAP_STATUSES, agent_day, floor_day
from field.visit_rules import profile_visit_check
from store.db import transaction
from store.models import Account, CallAttempt, FieldVisit, Phone

CHECK = profile_visit_check(load_profiles())


@pytest.fixture
def seed(engine: Engine) -> FieldSeed:
    return seed_field(engine)


def plan(engine: Engine, seed: FieldSeed, refs: list[str]) -> None:
    ids = [seed.accounts[r] for r in refs]
    out = plans.assign(engine, seed.supervisor_id, "user:sofia", seed.agents["lucia"], TODAY,
                       ids, FakeCheck(), NOW)  # fmt: skip
    assert len(out.planned) == len(ids)


@pytest.mark.parametrize(
    "change",
    [{"protection": "deceased"}, {"protection": "minor"}, {"protection": "insolvency"},
     {"status": "disputed"}, {"status": "paid"}, {"status": "cease_contact"}],
)  # fmt: skip
def test_given_an_account_changed_after_the_plan_when_the_day_is_downloaded_then_flagged_and_off_the_route(
    engine: Engine, seed: FieldSeed, change: dict[str, str]
) -> None:
    plan(engine, seed, ["MX-0", "MX-4", "MX-2"])
    before = agent_day(engine, seed.agents["lucia"], TODAY, CHECK)
    assert [v["blocked"] for v in before["visits"]] == [[], [], []]
    with transaction(engine) as s:
        s.execute(update(Account).where(Account.id == seed.accounts["MX-4"]).values(**change))
    after = agent_day(engine, seed.agents["lucia"], TODAY, CHECK)
    flagged = {v["account_ref"]: v["blocked"] for v in after["visits"]}
    assert flagged["MX-4"] and not flagged["MX-0"] and not flagged["MX-2"]
    # The route skips it: no leg to it, the length is the legs of the two left.
    legs = {v["account_ref"]: v["leg_m"] for v in after["visits"]}
    assert legs["MX-4"] is None and [legs["MX-0"], legs["MX-2"]].count(None) == 1
    assert after["route_m"] == pytest.approx(sum(leg for leg in legs.values() if leg), abs=2)
    assert 0 < after["route_m"] < before["route_m"]


def test_given_visits_cancelled_then_only_those_the_agent_reached_stay_on_her_day_as_evidence(
    engine: Engine, seed: FieldSeed
) -> None:
    """A visit cancelled after the agent arrived offline stays on her day (cancelled,
    its result still to give as evidence, then recorded); one cancelled before she
    went is gone, as before."""
    plan(engine, seed, ["MX-0", "MX-4", "MX-2"])
    day = agent_day(engine, seed.agents["lucia"], TODAY)
    by_ref = {v["account_ref"]: v["id"] for v in day["visits"]}
    assert {v["evidence"] for v in day["visits"]} == {None}
    for ref in ("MX-0", "MX-4"):
        plans.cancel(engine, "user:sofia", by_ref[ref], NOW)
    with transaction(engine) as s:
        account = s.get(Account, seed.accounts["MX-0"])
        assert (
            account is not None and account.latitude is not None and account.longitude is not None
        )
        door = Fix(account.latitude, account.longitude, 5, NOW)
    agent = visits.Agent(seed.agents["lucia"], "user:lucia")
    assert visits.check_in(engine, agent, by_ref["MX-0"], "k-" + "0" * 20, door, FakeCheck(),
                           received_at=NOW).status == 200  # fmt: skip
    day = agent_day(engine, seed.agents["lucia"], TODAY, CHECK)
    shown = {v["account_ref"]: (v["status"], v["evidence"]) for v in day["visits"]}
    assert shown == {"MX-0": ("cancelled", "arrived"), "MX-2": ("planned", None)}
    answers = {"party": "nadie", "outcome": "sin_contacto", "address_verified": True}
    assert visits.record_result(engine, agent, by_ref["MX-0"], "k-" + "1" * 20, answers,
                                NOW).status == 200  # fmt: skip
    day = agent_day(engine, seed.agents["lucia"], TODAY, CHECK)
    shown = {v["account_ref"]: (v["status"], v["evidence"]) for v in day["visits"]}
    assert shown == {"MX-0": ("cancelled", "recorded"), "MX-2": ("planned", None)}
    with transaction(engine) as s:
        assert s.get(FieldVisit, by_ref["MX-4"]).status == "cancelled"  # type: ignore[union-attr]


def test_given_a_result_kept_after_a_refused_arrival_then_her_day_says_so_and_routes_around_it(
    engine: Engine, seed: FieldSeed
) -> None:
    """The visit stays planned: the day showed it as if nothing had happened there, and a
    phone wiped at a logout (its own answers gone) offered the check-in again."""
    plan(engine, seed, ["MX-0", "MX-4", "MX-2"])
    before = agent_day(engine, seed.agents["lucia"], TODAY, CHECK)
    by_ref = {v["account_ref"]: v["id"] for v in before["visits"]}
    with transaction(engine) as s:
        account = s.get(Account, seed.accounts["MX-4"])
        assert account is not None and account.latitude is not None and account.longitude
        door = Fix(account.latitude, account.longitude, 5, NOW)
    agent = visits.Agent(seed.agents["lucia"], "user:lucia")
    refuse = FakeCheck({seed.accounts["MX-4"]: ("attempt_cap_day",)})
    assert visits.check_in(engine, agent, by_ref["MX-4"], "k-" + "2" * 20, door, refuse,
                           received_at=NOW).status == 403  # fmt: skip
    refused_only = agent_day(engine, seed.agents["lucia"], TODAY, CHECK)
    assert {v["evidence"] for v in refused_only["visits"]} == {None}  # nothing kept yet
    answers = {"party": "titular", "outcome": "rehusa", "address_verified": True}
    assert visits.record_result(engine, agent, by_ref["MX-4"], "k-" + "3" * 20, answers,
                                NOW).status == 200  # fmt: skip
    day = agent_day(engine, seed.agents["lucia"], TODAY, CHECK)
    shown = {v["account_ref"]: v for v in day["visits"]}
    kept = shown["MX-4"]
    assert (kept["status"], kept["evidence"], kept["outcome"]) == ("planned", "recorded", "rehusa")
    assert kept["refused"] == ["attempt_cap_day"] and kept["leg_m"] is None
    for ref in ("MX-0", "MX-2"):
        assert (shown[ref]["evidence"], shown[ref]["refused"], shown[ref]["outcome"]) == (
            None,
            [],
            None,
        )
    assert day["route_m"] == pytest.approx(sum(v["leg_m"] or 0 for v in day["visits"]), abs=2)
    assert day["route_m"] < before["route_m"]


def _statements(engine: Engine, agent_id: int) -> tuple[int, dict[str, object]]:
    seen: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        day = agent_day(engine, agent_id, TODAY, CHECK)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen), day


def test_given_a_longer_route_when_the_app_reloads_its_day_then_the_compliance_recheck_reads_sql_a_bounded_number_of_times(
    engine: Engine,
) -> None:
    """The app reloads its day every 30 s and each visit still to make is checked again:
    that read the debtor's phones, linked accounts (twice), their protections and the
    contact ledger once per visit, five to six statements each. Now the checks of one
    day read each of those once for every visit together; the decisions are the same."""
    seed = seed_field(engine, n_mx=9)
    plan(engine, seed, ["MX-0", "MX-5"])
    with transaction(engine) as s:  # a debtor's other debt, protected: still seen
        s.execute(update(Account).where(Account.id == seed.accounts["MX-8"])
                  .values(protection="deceased"))  # fmt: skip
        number = s.scalars(
            select(Phone.number_e164).where(Phone.account_id == seed.accounts["MX-8"])
        ).first()
        s.add(Phone(account_id=seed.accounts["MX-5"], number_e164=number, position=2, consent=True))
    short, _ = _statements(engine, seed.agents["lucia"])
    plan(engine, seed, ["MX-1", "MX-2", "MX-3", "MX-4", "MX-6"])
    long, day = _statements(engine, seed.agents["lucia"])
    assert long == short, (short, long)
    flagged = {v["account_ref"]: v["blocked"] for v in day["visits"]}
    assert flagged["MX-5"] and not any(flagged[f"MX-{i}"] for i in (0, 1, 2, 3, 4, 6))


def test_given_the_day_reloaded_when_a_linked_debt_is_protected_or_a_visit_made_elsewhere_then_the_next_reload_forbids_it(
    engine: Engine, seed: FieldSeed
) -> None:
    """Nothing is kept between reloads: what changes in another account or in the
    contact ledger after a reload is seen by the next one (never shown allowed)."""
    plan(engine, seed, ["MX-0", "MX-1", "MX-2"])
    first = agent_day(engine, seed.agents["lucia"], TODAY, CHECK)
    assert [v["blocked"] for v in first["visits"]] == [[], [], []]
    with transaction(engine) as s:
        # MX-0's debtor is the debtor of MX-4, now reported deceased.
        number = s.scalars(
            select(Phone.number_e164).where(Phone.account_id == seed.accounts["MX-0"])
        ).first()
        s.add(Phone(account_id=seed.accounts["MX-4"], number_e164=number, position=2, consent=True))
        s.execute(update(Account).where(Account.id == seed.accounts["MX-4"])
                  .values(protection="deceased"))  # fmt: skip
        # MX-1's debtor was visited this morning by someone else (a visit a day in MX).
        s.add(CallAttempt(account_id=seed.accounts["MX-1"], channel="visit", source="field",
                          started_at=NOW, answered_at=NOW, ended_at=NOW, result="contact",
                          right_party_contact=True))  # fmt: skip
    second = agent_day(engine, seed.agents["lucia"], TODAY, CHECK)
    flagged = {v["account_ref"]: v["blocked"] for v in second["visits"]}
    assert flagged["MX-0"] and flagged["MX-1"] and not flagged["MX-2"], flagged


def test_given_a_visit_cancelled_after_the_arrival_then_the_supervisors_map_shows_it_as_evidence(
    engine: Engine, seed: FieldSeed
) -> None:
    """The map left out every cancelled visit, so the supervisor who cancelled a visit
    its agent had already reached (offline) never learnt a contact happened there."""
    plan(engine, seed, ["MX-0", "MX-4", "MX-2"])
    day = agent_day(engine, seed.agents["lucia"], TODAY)
    by_ref = {v["account_ref"]: v["id"] for v in day["visits"]}
    for ref in ("MX-0", "MX-4"):
        plans.cancel(engine, "user:sofia", by_ref[ref], NOW)
    with transaction(engine) as s:
        account = s.get(Account, seed.accounts["MX-0"])
        assert account is not None and account.latitude is not None
        door = Fix(account.latitude, account.longitude or 0.0, 5, NOW)
    agent = visits.Agent(seed.agents["lucia"], "user:lucia")
    assert visits.check_in(engine, agent, by_ref["MX-0"], "k-" + "0" * 20, door, FakeCheck(),
                           received_at=NOW).status == 200  # fmt: skip
    floor = floor_day(engine, TODAY)
    shown = {v["account_ref"]: (v["status"], v["evidence"], v["outcome"]) for v in floor["visits"]}
    assert shown == {"MX-0": ("evidence", "arrived", None), "MX-2": ("planned", None, None)}
    answers = {"party": "tercero", "outcome": "recado", "address_verified": True}
    later = NOW + timedelta(minutes=5)
    assert visits.record_result(engine, agent, by_ref["MX-0"], "k-" + "1" * 20, answers,
                                later).status == 200  # fmt: skip
    floor = floor_day(engine, TODAY, since=NOW)
    shown = {v["account_ref"]: (v["status"], v["evidence"], v["outcome"]) for v in floor["visits"]}
    assert shown == {"MX-0": ("evidence", "recorded", "recado"), "MX-2": ("planned", None, None)}
    # The supervisor is told, as of any visit that ended since she last looked.
    assert [v["account_ref"] for v in floor["ended"]] == ["MX-0"]
    assert MAP_EVIDENCE in MAP_STATUSES


def test_given_a_result_kept_after_a_refused_arrival_then_the_supervisors_map_shows_the_contact(
    engine: Engine, seed: FieldSeed
) -> None:
    """The agent is told not to repeat the visit, her supervisor planning it again if it
    must be made; the map showed it as a plain planned visit, nothing happened there."""
    plan(engine, seed, ["MX-0", "MX-2"])
    by_ref = {
        v["account_ref"]: v["id"] for v in agent_day(engine, seed.agents["lucia"], TODAY)["visits"]
    }
    with transaction(engine) as s:
        account = s.get(Account, seed.accounts["MX-0"])
        assert account is not None and account.latitude is not None and account.longitude
        far = Fix(account.latitude + 0.02, account.longitude, 5, NOW)  # about 2.2 km north
    agent = visits.Agent(seed.agents["lucia"], "user:lucia")
    assert visits.check_in(engine, agent, by_ref["MX-0"], "k-" + "4" * 20, far, FakeCheck(),
                           received_at=NOW).status == 422  # fmt: skip
    floor = floor_day(engine, TODAY)
    shown = {v["account_ref"]: (v["status"], v["evidence"], v["outcome"]) for v in floor["visits"]}
    assert shown == {"MX-0": ("planned", None, None), "MX-2": ("planned", None, None)}
    answers = {"party": "titular", "outcome": "disputa", "address_verified": False}
    assert visits.record_result(engine, agent, by_ref["MX-0"], "k-" + "5" * 20, answers,
                                NOW).status == 200  # fmt: skip
    floor = floor_day(engine, TODAY)
    shown = {v["account_ref"]: (v["status"], v["evidence"], v["outcome"]) for v in floor["visits"]}
    assert shown == {"MX-0": (MAP_REFUSED_EVIDENCE, "recorded", "disputa"),
                     "MX-2": ("planned", None, None)}  # fmt: skip
    (kept,) = [v for v in floor["visits"] if v["account_ref"] == "MX-0"]
    assert kept["refused"] == ["too_far"]
    # Scoped to another campaign, the supervisor sees neither.
    assert floor_day(engine, TODAY, campaigns={-1})["visits"] == []
    assert MAP_REFUSED_EVIDENCE in MAP_STATUSES


def test_given_a_visit_recorded_offline_when_it_syncs_after_the_supervisors_last_look_then_she_is_told(
    engine: Engine, seed: FieldSeed
) -> None:
    """A result queued offline is filed at the door's time (its phone's clock trusted),
    hours before the sync: the map told only visits whose end came after its last look,
    so the supervisor never heard of the field app's offline visits, nor of a contact
    kept after a refused arrival (planned, no end at all)."""
    from field.visit_time import DeviceClock

    plan(engine, seed, ["MX-0", "MX-2"])
    by_ref = {
        v["account_ref"]: v["id"] for v in agent_day(engine, seed.agents["lucia"], TODAY)["visits"]
    }
    doors = {}
    with transaction(engine) as s:
        for ref in ("MX-0", "MX-2"):
            account = s.get(Account, seed.accounts[ref])
            assert account is not None and account.latitude is not None and account.longitude
            doors[ref] = (account.latitude, account.longitude)
    agent = visits.Agent(seed.agents["lucia"], "user:lucia")
    at_door = Fix(*doors["MX-0"], 5, NOW)
    assert visits.check_in(engine, agent, by_ref["MX-0"], "k-" + "6" * 20, at_door, FakeCheck(),
                           received_at=NOW).status == 200  # fmt: skip
    far = Fix(doors["MX-2"][0] + 0.02, doors["MX-2"][1], 5, NOW)
    assert visits.check_in(engine, agent, by_ref["MX-2"], "k-" + "7" * 20, far, FakeCheck(),
                           received_at=NOW).status == 422  # fmt: skip
    synced = NOW + timedelta(hours=3)
    clock = DeviceClock(sent_at=synced, synced_server_at=NOW - timedelta(minutes=1),
                        synced_device_at=NOW - timedelta(minutes=1))  # fmt: skip
    answers = {"party": "titular", "outcome": "rehusa", "address_verified": True}
    for ref, n in (("MX-0", "8"), ("MX-2", "9")):
        assert visits.record_result(engine, agent, by_ref[ref], "k-" + n * 20, answers, synced,
                                    acted_at=NOW + timedelta(minutes=10),
                                    device=clock).status == 200  # fmt: skip
    looked = NOW + timedelta(hours=1)  # the page's last look: after the door, before the sync
    floor = floor_day(engine, TODAY, since=looked)
    assert sorted(v["account_ref"] for v in floor["ended"]) == ["MX-0", "MX-2"]
    told = {v["account_ref"]: v["status"] for v in floor["ended"]}
    assert told == {"MX-0": "done", "MX-2": MAP_REFUSED_EVIDENCE}
    with transaction(engine) as s:  # filed at the door's time, as before
        visit = s.get(FieldVisit, by_ref["MX-0"])
        assert visit is not None and visit.ended_at is not None
        assert visit.ended_at.replace(tzinfo=None) == (NOW + timedelta(minutes=10)).replace(
            tzinfo=None
        )
    # Told once: the next look after the sync has nothing new.
    assert floor_day(engine, TODAY, since=synced + timedelta(seconds=1))["ended"] == []
