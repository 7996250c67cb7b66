"""A callback the debtor asks for in the portal enters the hopper at its time, through
the dialer's real refill (dialer/refill.py), as an agent's callback for anyone does:
not before it is due, then with the callback's number and reason, the callback queued."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from support.dialer_floor import load_reus
from support.selfservice_seed import NOW, PHONE, PortalSeed, seed_portal

from compliance.callback_window import compliance_callback_checker
from compliance.profile import load_profiles
from compliance.service import ComplianceService
from dialer.hopper import Hopper
from dialer.refill import Refiller
from selfservice import debtor_actions as da
from store.db import transaction
from store.models import Account, Callback, Campaign, Phone

CHECKER = compliance_callback_checker(load_profiles())
# 14:00 in Mexico City, the day of NOW (11:00 there): inside the MX window.
WHEN = datetime.fromisoformat("2026-11-24T14:00:00-06:00")


@pytest.fixture
def seeded(engine: Engine, redis_url: str, tmp_path: Path) -> PortalSeed:
    seed = seed_portal(engine)
    load_reus(engine, redis_url, tmp_path, [], NOW)  # MX checks REUS before every call
    return seed


def refiller(engine: Engine, redis: aioredis.Redis, seed: PortalSeed) -> Refiller:
    with Session(engine, expire_on_commit=False) as s:
        campaign = s.get(Campaign, seed.campaign_id)
    assert campaign is not None
    return Refiller(engine, redis, Hopper(redis, seed.campaign), ComplianceService(engine, redis),
                    campaign)  # fmt: skip


def set_next_attempt(engine: Engine, account_id: int, at: datetime | None) -> None:
    with transaction(engine) as s:
        account = s.get(Account, account_id)
        assert account is not None
        account.next_attempt_at = at


@pytest.mark.parametrize(
    "asleep_until",
    [
        NOW + timedelta(days=3),  # dialed before and asleep for days: only the callback wakes it
        None,  # never dialed: the callback is its first call, not sooner
    ],
)
async def test_given_a_portal_callback_when_the_dialer_refills_then_it_enters_the_hopper_at_its_time(
    engine: Engine, aredis: aioredis.Redis, seeded: PortalSeed, asleep_until: datetime | None
) -> None:
    set_next_attempt(engine, seeded.account_id, asleep_until)
    # The other debtor of the campaign is not due: the refill has only the callback to find.
    set_next_attempt(engine, seeded.other_account_id, NOW + timedelta(days=5))
    debtor = da.Debtor(seeded.account_id, "portal", session="s-1", client="203.0.113.9")
    result = da.request_callback(engine, debtor, WHEN, NOW, CHECKER)
    await da.notify_dialer(aredis, result)
    hopper = Hopper(aredis, seeded.campaign)
    refill = refiller(engine, aredis, seeded)

    early = await refill.refill(WHEN - timedelta(minutes=1), 10)

    assert early.added == 0 and await hopper.contains([seeded.account_id]) == set()

    due = await refill.refill(WHEN + timedelta(minutes=1), 10)

    assert (due.added, due.callbacks) == (1, 1)
    # What a dialer claims from the hopper: the callback's number, for any agent.
    claims, _expired = await hopper.claim(
        10, "dialer-1", (WHEN + timedelta(minutes=1)).timestamp(), 60
    )
    with Session(engine) as s:
        callback = s.get(Callback, result.ids[0])
        account = s.get(Account, seeded.account_id)
    assert callback is not None and callback.status == "queued"
    assert account is not None and account.hopper_since is not None
    assert [c.account_id for c in claims] == [seeded.account_id]
    payload = claims[0].payload
    assert payload["reason"] == "callback" and payload["phone"] == PHONE
    assert payload["callback_id"] == callback.id and payload["agent_id"] is None
    # Queued once: the next refill does not queue it again.
    again = await refill.refill(WHEN + timedelta(minutes=2), 10)
    assert again.added == 0
    with Session(engine) as s:
        assert s.scalar(select(Callback.status).where(Callback.id == callback.id)) == "queued"


async def test_given_a_debtor_who_changes_the_time_when_refilled_then_one_call_at_the_new_time(
    engine: Engine, aredis: aioredis.Redis, seeded: PortalSeed
) -> None:
    set_next_attempt(engine, seeded.account_id, NOW + timedelta(days=3))
    set_next_attempt(engine, seeded.other_account_id, NOW + timedelta(days=5))
    debtor = da.Debtor(seeded.account_id, "portal", session="s-1", client="203.0.113.9")
    first = da.request_callback(engine, debtor, WHEN, NOW, CHECKER)
    later = WHEN + timedelta(hours=3)  # 17:00 in Mexico City
    second = da.request_callback(engine, debtor, later, NOW + timedelta(minutes=5), CHECKER)
    refill = refiller(engine, aredis, seeded)

    at_first_time = await refill.refill(WHEN + timedelta(minutes=1), 10)
    at_new_time = await refill.refill(later + timedelta(minutes=1), 10)

    assert (at_first_time.added, at_new_time.added, at_new_time.callbacks) == (0, 1, 1)
    with Session(engine) as s:
        statuses = dict(s.execute(select(Callback.id, Callback.status)).all())
    assert statuses == {first.ids[0]: "replaced", second.ids[0]: "queued"}


async def test_given_a_debtors_portal_visit_when_refilled_then_the_phone_rotation_is_unmoved(
    engine: Engine, aredis: aioredis.Redis, seeded: PortalSeed
) -> None:
    # Two numbers, never called: the rotation starts at the first. The debtor's visit to
    # the portal is a ledger row, but no call: it must not move the rotation on.
    with transaction(engine) as s:
        account = s.get(Account, seeded.account_id)
        assert account is not None
        account.phones.append(Phone(position=2, number_e164="+525512349999", consent=True,
                                    consent_ref="form-9", phone_type="mobile",
                                    channels="call,sms"))  # fmt: skip
    set_next_attempt(engine, seeded.other_account_id, NOW + timedelta(days=5))
    debtor = da.Debtor(seeded.account_id, "portal", session="s-1", client="203.0.113.9")
    da.record_contact(engine, debtor, "identified", NOW)

    report = await refiller(engine, aredis, seeded).refill(NOW, 10)

    claims, _ = await Hopper(aredis, seeded.campaign).claim(10, "dialer-1", NOW.timestamp(), 60)
    assert report.added == 1 and [c.payload["phone"] for c in claims] == [PHONE]


def next_attempt(engine: Engine, account_id: int) -> datetime | None:
    with Session(engine) as s:
        return s.scalar(select(Account.next_attempt_at).where(Account.id == account_id))


async def test_given_calls_stopped_and_the_refill_asleep_when_reauthorised_then_due_at_its_next_pass(
    engine: Engine, aredis: aioredis.Redis, seeded: PortalSeed
) -> None:
    set_next_attempt(engine, seeded.other_account_id, NOW + timedelta(days=5))
    debtor = da.Debtor(seeded.account_id, "portal", session="s-1", client="203.0.113.9")
    await da.notify_dialer(aredis, da.opt_out(engine, debtor, "call", NOW, "no me llamen"))
    refill = refiller(engine, aredis, seeded)
    stopped = await refill.refill(NOW + timedelta(minutes=1), 10)
    assert stopped.added == 0 and stopped.blocked["opted_out"] == 1
    # The refill's sleep for a stop: a day.
    assert next_attempt(engine, seeded.account_id) == NOW + timedelta(minutes=1, days=1)

    da.opt_in(engine, debtor, "call", NOW + timedelta(hours=1), "ya pueden llamarme")
    back = await refill.refill(NOW + timedelta(hours=1, minutes=1), 10)

    assert back.added == 1
    assert await Hopper(aredis, seeded.campaign).contains([seeded.account_id]) == {
        seeded.account_id
    }


async def test_given_a_promise_after_the_stop_when_calls_reauthorised_then_the_promise_still_holds(
    engine: Engine, aredis: aioredis.Redis, seeded: PortalSeed
) -> None:
    set_next_attempt(engine, seeded.other_account_id, NOW + timedelta(days=5))
    debtor = da.Debtor(seeded.account_id, "portal", session="s-1", client="203.0.113.9")
    da.opt_out(engine, debtor, "call", NOW, "no me llamen")
    refill = refiller(engine, aredis, seeded)
    await refill.refill(NOW + timedelta(minutes=1), 10)
    da.make_promise(engine, debtor, "100", (NOW + timedelta(days=5)).date(),
                    NOW + timedelta(minutes=30))  # fmt: skip
    held = next_attempt(engine, seeded.account_id)
    assert held is not None and held > NOW + timedelta(days=5)

    da.opt_in(engine, debtor, "call", NOW + timedelta(hours=1), "ya pueden llamarme")
    later = await refill.refill(NOW + timedelta(hours=1, minutes=1), 10)

    assert later.added == 0 and next_attempt(engine, seeded.account_id) == held


async def test_given_an_sms_reauthorised_when_the_account_sleeps_for_calls_then_it_sleeps_on(
    engine: Engine, aredis: aioredis.Redis, seeded: PortalSeed
) -> None:
    set_next_attempt(engine, seeded.other_account_id, NOW + timedelta(days=5))
    debtor = da.Debtor(seeded.account_id, "portal", session="s-1", client="203.0.113.9")
    da.opt_out(engine, debtor, "call", NOW, "no me llamen")
    da.opt_out(engine, debtor, "sms", NOW, "ni mensajes")
    refill = refiller(engine, aredis, seeded)
    await refill.refill(NOW + timedelta(minutes=1), 10)
    asleep = next_attempt(engine, seeded.account_id)

    da.opt_in(engine, debtor, "sms", NOW + timedelta(hours=1), "mensajes sí")

    assert next_attempt(engine, seeded.account_id) == asleep
