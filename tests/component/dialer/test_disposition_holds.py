"""A disposition's effect on dialing holds whether or not a dial loop of the campaign runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.agent_service import save_disposition
from console.users import CurrentUser
from store.models import Account, CallAttempt, Role

DAY = 86400.0


def outbound(floor) -> list[CallAttempt]:  # type: ignore[no-untyped-def]
    with Session(floor.engine) as s:
        return list(s.scalars(select(CallAttempt).order_by(CallAttempt.id)))


async def test_given_promise_saved_while_no_loop_dials_when_loop_runs_then_not_dialed_before_promise_date(
    make_floor,
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    now = datetime.fromtimestamp(floor.clock(), UTC)  # Wednesday 2026-11-25, 11:00 in CDMX
    agent_id = floor.agent_ids[0]
    with Session(floor.engine) as s, s.begin():
        account = s.scalars(select(Account)).one()
        # The agent's call of a moment ago (the loop has never ticked: no dial loop ran);
        # the account is due now, as a recycled account would be.
        call = CallAttempt(account_id=account.id, phone_id=account.phones[0].id,
                           phone_e164=account.phones[0].number_e164,
                           campaign_id=account.campaign_id, agent_id=agent_id, direction="outbound",
                           started_at=now - timedelta(minutes=3), answered_at=now - timedelta(minutes=2),
                           ended_at=now - timedelta(minutes=1), result="contact")  # fmt: skip
        s.add(call)
        s.flush()
        attempt_id, campaign_id = call.id, account.campaign_id
    agent = CurrentUser(agent_id, "agente1", "agente1", Role.agent, campaign_id)
    form = {"party": "titular", "outcome": "promesa_pago", "promise_amount": "100.00",
            "promise_confirm": "100.00", "promise_date": "2026-11-27"}  # fmt: skip
    result = save_disposition(floor.engine, agent, attempt_id, form, now, lambda _t, _w: [],
                              verified_party="titular")  # fmt: skip
    # Nothing the dialer must hear for the promise to hold: no command at all.
    assert result.commands == []
    # The loop runs: Wednesday, Thursday, and Friday (the promise date) until 17:59 in CDMX.
    for jump in (0.0, DAY, DAY + 6 * 3600 + 59 * 60):
        floor.clock.jump(jump)
        for _ in range(5):
            assert await floor.dialer.tick() == 0
    assert [a.id for a in outbound(floor)] == [attempt_id]
    # The day after the promise date (Saturday 11:00 in CDMX): dialed again.
    floor.clock.jump(17 * 3600 + 60)
    await floor.run_until(lambda: len(outbound(floor)) > 1)
    again = outbound(floor)[1]
    assert again.started_at >= datetime(2026, 11, 28, tzinfo=UTC)


async def test_given_promise_saved_after_the_account_was_queued_when_claimed_then_not_dialed(
    make_floor,
) -> None:  # type: ignore[no-untyped-def]
    from dialer.hopper import HopperEntry
    from store.models import Promise

    floor = await make_floor(accounts=1, agents=1)
    now = datetime.fromtimestamp(floor.clock(), UTC)
    with Session(floor.engine) as s, s.begin():
        account = s.scalars(select(Account)).one()
        account_id, phone = account.id, account.phones[0].number_e164
        # A refill admitted the account a moment before a promise was saved (say on an
        # inbound call), and the hopper kept it: Redis is a cache, SQL has the promise.
        s.add(Promise(account_id=account.id, amount=100, currency="MXN",
                      due_date=datetime(2026, 11, 27).date()))  # fmt: skip
        account.next_attempt_at = now + timedelta(hours=2)
    entry = HopperEntry(account_id, 1, now.timestamp(), {"phone": phone, "reason": "fresh"})
    await floor.dialer.hopper.add([entry], now.timestamp())
    for _ in range(5):
        assert await floor.dialer.tick() == 0
    assert outbound(floor) == []
    assert await floor.dialer.hopper.contains([account_id]) == set()
    with Session(floor.engine) as s:
        held = s.get(Account, account_id).next_attempt_at  # type: ignore[union-attr]
    # The day after the promise, begun where the debtor is (Mexico City: 06:00 UTC).
    assert held == datetime(2026, 11, 28, 6, tzinfo=UTC)
