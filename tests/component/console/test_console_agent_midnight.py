"""A chat's pop near midnight: the debtor's candidate zones are on different dates.

A Quintana Roo debtor (America/Cancun, first zone) writing from a Mexico City number:
at 05:30 UTC it is 00:30 of the 25th in Cancún and 23:30 of the 24th in Mexico City.
The agent is told both dates, and a promise for the 24th (the debtor's today if they
are where their number is) is no date in the past. The campaign's horizon (15 days)
counts from that same 24th, as the portal and the assistant count it: the 9th of
December is the last day, not the 10th.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from console_fixtures import Seed, login, make_attempt
from sqlalchemy import Engine, select

from console.agent_service import CHAT_LEDGER_SOURCE
from dialer.agent_state import AgentStates
from store.db import transaction
from store.models import Account, Promise

MIDNIGHT = datetime(2026, 11, 25, 5, 30, tzinfo=UTC)


@pytest.fixture
def clock() -> Callable[[], datetime]:
    return lambda: MIDNIGHT


def _in_cancun_with_a_mexico_city_number(engine: Engine, seed: Seed) -> None:
    with transaction(engine) as session:
        account = session.get(Account, seed.account_id)
        assert account is not None
        account.timezone, account.region = None, "ROO"
        assert account.phones[0].number_e164.startswith("+5255")  # Mexico City


async def _chat_on_screen(client: TestClient, seed: Seed, engine: Engine) -> tuple[str, int]:
    _in_cancun_with_a_mexico_city_number(engine, seed)
    token = await login(client, "ana")
    attempt = make_attempt(engine, seed.account_id, seed.users["ana"], source=CHAT_LEDGER_SOURCE,
                           started_at=MIDNIGHT, answered_at=MIDNIGHT, bridged_at=MIDNIGHT)  # fmt: skip
    return token, attempt


async def test_given_a_chat_when_the_other_zone_is_on_the_day_before_then_its_date_is_said(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    await _chat_on_screen(client, seed, engine)
    pop = (await (await client.get("/api/agent/current")).json())["pop"]
    local = pop["local_time"]
    assert (local["time"], local["date"], local["zone_label"]) == ("00:30", "2026-11-25", "Cancún")
    # Never a bare "23:30" beside the 25th: the other clock says its day.
    assert local["also"] == "24 nov 2026, 23:30 (Ciudad de México)"
    assert pop["promise_min_date"] == "2026-11-24"
    english = (await (await client.get("/api/agent/current?lang=en")).json())["pop"]
    assert english["local_time"]["also"].startswith("Nov 24, 2026")


async def test_given_a_chat_near_midnight_when_a_promise_for_the_other_zones_today_then_saved(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    token, attempt = await _chat_on_screen(client, seed, engine)
    states = AgentStates(aredis)
    await states.login(seed.users["ana"], "mx-demo")
    await states.set_ready(seed.users["ana"])
    await states.reserve(seed.users["ana"], attempt)
    await states.talking(seed.users["ana"])
    body = {"attempt_id": attempt, "party": "titular", "answer_full_name": "maría lópez  hernández",
            "answer_account_last4": "0001"}  # fmt: skip
    verified = await client.post("/api/agent/verify", json=body, headers={"X-CSRF-Token": token})
    assert verified.status == 200, await verified.text()
    fields = {"attempt_id": attempt, "party": "titular", "outcome": "promesa_pago",
              "promise_amount": "500", "promise_confirm": "500.00"}  # fmt: skip
    post = {"X-CSRF-Token": token}
    # The day before the earliest candidate date is in the past wherever the debtor is.
    before = await client.post("/api/agent/disposition", json=fields | {"promise_date": "2026-11-23"},
                               headers=post)  # fmt: skip
    assert before.status == 400
    assert "pasado" in (await before.json())["errors"]["promise_date"]
    today_there = await client.post(
        "/api/agent/disposition", json=fields | {"promise_date": "2026-11-24"}, headers=post
    )
    assert today_there.status == 200, await today_there.text()
    with transaction(engine) as session:
        promise = session.scalar(select(Promise))
        assert promise is not None and promise.amount == Decimal("500.00")
        assert promise.due_date.isoformat() == "2026-11-24"


async def _verified_chat(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> tuple[str, int]:
    token, attempt = await _chat_on_screen(client, seed, engine)
    states = AgentStates(aredis)
    await states.login(seed.users["ana"], "mx-demo")
    await states.set_ready(seed.users["ana"])
    await states.reserve(seed.users["ana"], attempt)
    await states.talking(seed.users["ana"])
    body = {"attempt_id": attempt, "party": "titular", "answer_full_name": "maría lópez  hernández",
            "answer_account_last4": "0001"}  # fmt: skip
    verified = await client.post("/api/agent/verify", json=body, headers={"X-CSRF-Token": token})
    assert verified.status == 200, await verified.text()
    return token, attempt


async def test_given_a_chat_near_midnight_when_a_promise_at_the_horizon_then_counted_from_the_zone_behind(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    token, attempt = await _verified_chat(client, seed, engine, aredis)
    pop = (await (await client.get("/api/agent/current")).json())["pop"]
    assert (pop["promise_min_date"], pop["promise_max_date"]) == ("2026-11-24", "2026-12-09")
    assert pop["calculator"]["first_date_min"] == "2026-11-24"
    fields = {"attempt_id": attempt, "party": "titular", "outcome": "promesa_pago",
              "promise_amount": "500", "promise_confirm": "500.00"}  # fmt: skip
    post = {"X-CSRF-Token": token}
    past = await client.post("/api/agent/disposition", json=fields | {"promise_date": "2026-12-10"},
                             headers=post)  # fmt: skip
    assert past.status == 400
    assert "máximo" in (await past.json())["errors"]["promise_date"]
    last = await client.post(
        "/api/agent/disposition", json=fields | {"promise_date": "2026-12-09"}, headers=post
    )
    assert last.status == 200, await last.text()


async def test_given_an_account_of_no_usable_zone_when_its_pop_is_read_then_its_countrys_dates_not_utcs(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    # 05:30 UTC of the 25th is still the 24th everywhere in Mexico (21:30 in Tijuana).
    await _chat_on_screen(client, seed, engine)
    with transaction(engine) as session:
        account = session.get(Account, seed.account_id)
        assert account is not None
        account.timezone = "Mars/Olympus_Mons"
    pop = (await (await client.get("/api/agent/current")).json())["pop"]
    assert (pop["promise_min_date"], pop["promise_max_date"]) == ("2026-11-24", "2026-12-09")
