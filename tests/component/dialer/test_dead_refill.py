"""A dialer killed in the middle of its refill: the accounts it held in SQL for hopper
entries it never added to Redis come back as soon as a peer finds it dead, not at the
next periodic check of the holds (CHECK_EVERY_SECONDS, five minutes)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from support.polling import until

from dialer.campaign_dialer import DialerOptions
from dialer.liveness import alive_key, members_key
from store.models import Account

TTL = 0.3  # the heartbeat's: this dialer's verdict is trusted after beating that long


def held(floor: Any) -> set[int]:
    with Session(floor.engine) as s:
        return set(s.scalars(select(Account.id).where(Account.hopper_since.is_not(None))))


async def test_given_a_peer_killed_between_its_refills_sql_and_redis_then_its_accounts_come_back_once_it_is_found_dead(
    make_floor: Any,
) -> None:
    """The multi-dialer test's victim is frozen and killed at any moment: between the
    refill's commit (holds in SQL) and its hopper add, up to a batch of accounts stayed
    held for entries no hopper had, and 'every account dialed' waited five minutes."""
    floor = await make_floor(accounts=12, agents=0,
                             options=DialerOptions(owner="d1", alive_seconds=TTL,
                                                 refill_every_seconds=0.5))  # fmt: skip
    dialer = floor.dialer
    await dialer.tick()
    assert held(floor) == set(floor.numbers)
    # d0, on the same Asterisk, wrote the holds of these and was killed before adding them.
    stranded = sorted(floor.numbers)[:4]
    for account_id in stranded:
        await dialer.hopper.remove(account_id)
    await dialer.tick()
    assert not await dialer.hopper.contains(stranded)  # the holds' own check is minutes away
    # Its membership stays; its heartbeat is gone.
    await floor.redis.hset(members_key("mx-test"), "d0", dialer.liveness.pbx)
    assert not await floor.redis.exists(alive_key("mx-test", "d0"))

    async def back() -> bool:
        await dialer.tick()
        return await dialer.hopper.contains(stranded) == set(stranded)

    await until(back, "the dead peer's stranded accounts back in the hopper")
    assert held(floor) == set(floor.numbers)
    assert (await dialer.hopper.sizes())["ready"] == len(floor.numbers)
