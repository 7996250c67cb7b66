"""Planning visits: compliance checked for each account (decision + audit), refusals
said, the day ordered as a route, bad plans refused with a reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from field_fixtures import NOW, TODAY, FakeCheck, FieldSeed, seed_field
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from compliance.transparency.verify import verify
from field import plans
from store.models import AuditEntry, Decision, FieldVisit


@pytest.fixture
def seed(engine: Engine) -> FieldSeed:
    return seed_field(engine)


def visits(engine: Engine) -> list[FieldVisit]:
    with Session(engine) as s:
        return list(s.scalars(select(FieldVisit).order_by(FieldVisit.route_position)))


def test_given_accounts_when_assigned_then_planned_in_route_order_with_decisions(
    engine: Engine, seed: FieldSeed
) -> None:
    check = FakeCheck()
    ids = [seed.accounts[f"MX-{i}"] for i in (5, 0, 3, 1, 4, 2)]
    out = plans.assign(
        engine, seed.supervisor_id, "user:sofia", seed.agents["lucia"], TODAY, ids, check, NOW
    )
    assert len(out.planned) == 6 and out.refused == []
    assert out.route_m > 0
    planned = visits(engine)
    assert [v.route_position for v in planned] == [1, 2, 3, 4, 5, 6]
    assert {v.account_id for v in planned} == set(ids)
    # Checked at noon of the day in the debtor's time.
    assert {at.isoformat() for _, at in check.asked} == {"2026-11-24T12:00:00-06:00"}
    with Session(engine) as s:
        decisions = list(s.scalars(select(Decision).order_by(Decision.id)))
        assert len(decisions) == 6 and all(d.stage == "visit_plan" and d.allowed for d in decisions)
        assert {v.plan_decision_id for v in planned} == {d.id for d in decisions}
        kinds = [e.kind for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert kinds == ["decision"] * 6 + ["field_plan"]
    assert verify(engine).ok


def test_given_refused_accounts_when_assigned_then_not_planned_and_reasons_given(
    engine: Engine, seed: FieldSeed
) -> None:
    co, pe = seed.accounts["CO-1"], seed.accounts["PE-1"]
    check = FakeCheck({co: ("visit_not_authorised",), pe: ("day_not_allowed",)})
    ids = [seed.accounts["MX-0"], co, pe, seed.accounts["MX-nocoords"], 999_999]
    out = plans.assign(
        engine, seed.supervisor_id, "user:sofia", seed.agents["lucia"], TODAY, ids, check, NOW
    )
    assert len(out.planned) == 1
    refused = {r["account_id"]: r["reasons"] for r in out.refused}
    assert refused == {
        co: ["visit_not_authorised"],
        pe: ["day_not_allowed"],
        seed.accounts["MX-nocoords"]: ["no_coordinates"],
        999_999: ["no_account"],
    }
    with Session(engine) as s:
        blocked = list(s.scalars(select(Decision).where(Decision.allowed.is_(False))))
    assert {d.account_id for d in blocked} == {co, pe}  # refusals are evidence too


def test_given_account_planned_for_the_day_when_assigned_again_then_refused(
    engine: Engine, seed: FieldSeed
) -> None:
    account = seed.accounts["MX-1"]
    plans.assign(
        engine, seed.supervisor_id, "a", seed.agents["lucia"], TODAY, [account], FakeCheck(), NOW
    )
    out = plans.assign(
        engine, seed.supervisor_id, "a", seed.agents["mario"], TODAY, [account], FakeCheck(), NOW
    )
    assert out.planned == [] and out.refused[0]["reasons"] == ["already_planned"]
    tomorrow = plans.assign(
        engine,
        seed.supervisor_id,
        "a",
        seed.agents["mario"],
        TODAY + timedelta(days=1),
        [account],
        FakeCheck(),
        NOW,
    )
    assert len(tomorrow.planned) == 1


@pytest.mark.parametrize(
    ("agent", "day", "accounts", "message"),
    [
        ("ana", TODAY, ["MX-0"], "no es un gestor de campo"),
        ("sofia", TODAY, ["MX-0"], "no es un gestor de campo"),
        ("lucia", TODAY - timedelta(days=1), ["MX-0"], "día pasado"),
        ("lucia", TODAY + timedelta(days=40), ["MX-0"], "máximo a 31 días"),
        ("lucia", TODAY, [], "al menos una cuenta"),
    ],
)
def test_given_bad_plan_then_refused_and_nothing_written(
    engine: Engine, seed: FieldSeed, agent: str, day: object, accounts: list[str], message: str
) -> None:
    ids = [seed.accounts[a] for a in accounts]
    with pytest.raises(plans.PlanError, match=message):
        plans.assign(
            engine, seed.supervisor_id, "a", seed.agents[agent], day, ids, FakeCheck(), NOW
        )  # type: ignore[arg-type]
    assert visits(engine) == []


def test_given_too_many_accounts_then_refused(engine: Engine, seed: FieldSeed) -> None:
    with pytest.raises(plans.PlanError, match="hasta 300"):
        plans.assign(
            engine, 1, "a", seed.agents["lucia"], TODAY, list(range(1, 302)), FakeCheck(), NOW
        )


def test_given_planned_visit_when_cancelled_then_off_the_route(
    engine: Engine, seed: FieldSeed
) -> None:
    ids = [seed.accounts[f"MX-{i}"] for i in range(4)]
    out = plans.assign(
        engine, seed.supervisor_id, "a", seed.agents["lucia"], TODAY, ids, FakeCheck(), NOW
    )
    plans.cancel(engine, "user:sofia", out.planned[0], NOW)
    statuses = {v.id: v.status for v in visits(engine)}
    assert statuses[out.planned[0]] == "cancelled"
    with pytest.raises(plans.PlanError, match="Solo se cancela"):
        plans.cancel(engine, "user:sofia", out.planned[0], NOW)
