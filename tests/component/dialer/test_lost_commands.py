"""Pub/sub keeps nothing (dialer/messages.py): a change to what may be dialed must
hold when its message to the dial loop is lost, because SQL carries it."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from store.models import Account, CallAttempt, Campaign


def placed(floor) -> int:  # type: ignore[no-untyped-def]
    with Session(floor.engine) as s:
        return s.scalar(select(func.count(CallAttempt.id))) or 0


async def test_given_a_campaign_stopped_in_sql_when_its_message_is_lost_then_the_loop_stops_dialing(
    make_floor,
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=30)
    dialer = floor.dialer
    await floor.run_until(lambda: placed(floor) >= 1)
    with Session(floor.engine) as s, s.begin():
        s.execute(update(Campaign).where(Campaign.name == "mx-test").values(status="stopped"))
    # No CampaignChange is sent: the loop learns it from SQL at its next reload.
    await floor.run_until(lambda: dialer.campaign.status == "stopped")
    before = placed(floor)
    for _ in range(40):
        await dialer.tick()
    assert placed(floor) == before < 30


async def test_given_an_account_paid_in_sql_when_no_stop_message_arrives_then_it_is_never_dialed(
    make_floor,
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=8, agents=1)
    dialer = floor.dialer
    await dialer.tick()  # the hopper is filled with every account
    with Session(floor.engine) as s, s.begin():
        target = s.scalars(select(Account.id).order_by(Account.id.desc())).first()
        s.execute(update(Account).where(Account.id == target).values(status="paid"))
    # No StopAccount: the account may still sit in the hopper; the final check reads SQL.
    # Once the Finisher owes nothing: a call leaves `calls` before its row is closed in SQL.
    await floor.run_until(lambda: placed(floor) >= 7 and not dialer.calls
                          and not dialer.finisher.owed)  # fmt: skip
    with Session(floor.engine) as s:
        dialed = s.scalars(select(CallAttempt).where(CallAttempt.account_id == target)).all()
    # Blocked at the final check when it was claimed from the hopper (or never claimed).
    assert {a.result for a in dialed} <= {"blocked", "not_placed"}
