"""The dial loop's reconciliation closes the calls a dead dialer left open, and only
calls: a message attempt (SMS, e-mail, WhatsApp) open at the same moment belongs to
the outreach scheduler and its channel, which write its result from the provider's
report; the dialer has no Asterisk record of it and would close it as `lost`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from dialer import attempt_store as store
from store.models import CallAttempt, Decision


def open_attempt(session: Session, account_id: int, campaign_id: int, channel: str,
                 started: datetime, **where: Any) -> int:  # fmt: skip
    decision = Decision(account_id=account_id, campaign_id=campaign_id, allowed=True)
    session.add(decision)
    session.flush()
    row = CallAttempt(account_id=account_id, campaign_id=campaign_id, decision_id=decision.id,
                      direction="outbound", channel=channel, started_at=started, **where)  # fmt: skip
    session.add(row)
    session.flush()
    return int(row.id)


async def test_given_an_open_call_and_open_messages_when_lost_attempts_close_then_only_the_call(
    make_floor: Any,
) -> None:
    floor = await make_floor(accounts=1, agents=1)
    (account_id,) = floor.numbers
    campaign_id = floor.dialer.campaign.id
    started = datetime.fromtimestamp(floor.clock(), UTC) - timedelta(minutes=10)
    with Session(floor.engine) as s, s.begin():
        call = open_attempt(s, account_id, campaign_id, "call", started,
                            phone_e164=floor.numbers[account_id])  # fmt: skip
        sms = open_attempt(s, account_id, campaign_id, "sms", started,
                           phone_e164=floor.numbers[account_id], source="strategy")  # fmt: skip
        email = open_attempt(s, account_id, campaign_id, "email", started,
                             address="ana@example.mx", source="strategy")  # fmt: skip
    closed = store.close_lost_attempts(floor.engine, campaign_id, live=set(), mine=set(),
                                       before=started + timedelta(minutes=1), actor="test")  # fmt: skip
    assert [a.id for a in closed] == [call]
    with Session(floor.engine) as s:
        results = {i: s.get_one(CallAttempt, i).result for i in (call, sms, email)}
    assert results == {call: "lost", sms: None, email: None}


async def test_given_a_held_account_when_its_lost_call_is_closed_then_it_gets_its_recycle_date(
    make_floor: Any,
) -> None:
    from sqlalchemy import update

    from store.models import Account

    floor = await make_floor(accounts=1, agents=1)
    (account_id,) = floor.numbers
    campaign_id = floor.dialer.campaign.id
    started = datetime.fromtimestamp(floor.clock(), UTC) - timedelta(minutes=10)
    hold_until = started + timedelta(days=1)  # the hopper's hold on the dead dialer's account
    with Session(floor.engine) as s, s.begin():
        s.execute(update(Account).where(Account.id == account_id)
                  .values(next_attempt_at=hold_until, hopper_since=started))  # fmt: skip
        call = open_attempt(s, account_id, campaign_id, "call", started,
                            phone_e164=floor.numbers[account_id])  # fmt: skip
    seen: list[tuple[str, int]] = []

    def recycle(result: str, in_a_row: int, ended: datetime) -> datetime:
        seen.append((result, in_a_row))
        return ended + timedelta(hours=2)

    closed = store.close_lost_attempts(floor.engine, campaign_id, live=set(), mine=set(),
                                       before=started + timedelta(minutes=1), actor="test",
                                       next_attempt=recycle)  # fmt: skip
    assert [a.id for a in closed] == [call] and seen == [("lost", 1)]
    with Session(floor.engine) as s:
        account = s.get_one(Account, account_id)
        due = account.next_attempt_at
        assert due is not None and account.hopper_since is None
        # Two hours after the call's end (its start: Asterisk reported nothing), not at
        # once when the lease runs out, nor the hopper's day-long hold.
        assert due.replace(tzinfo=UTC) == started + timedelta(hours=2)
