"""Fixtures for the console: a seeded database, the app under aiohttp_client, logins."""

from __future__ import annotations

import asyncio
import functools
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher
from sqlalchemy import Engine

from cobrador.ground.settings import Settings
from console import security
from console.app import init_app
from dialer.command_replies import Reply, send_reply, valid_request_id
from dialer.messages import COMMANDS_CHANNEL
from store.db import transaction
from store.models import Account, CallAttempt, Campaign, Phone, User

PASSWORD = "correct horse battery"
# Tuesday 2026-11-24 17:00 UTC = 11:00 in Mexico City: inside every calling window.
NOW = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)


@dataclass
class Seed:
    campaign_id: int
    account_id: int
    other_account_id: int
    phone_id: int
    users: dict[str, int]


def seed_data(engine: Engine) -> Seed:
    with transaction(engine) as session:
        campaign = Campaign(
            name="mx-demo",
            country="MX",
            profile="MX",
            dial_mode="progressive",
            config={
                "payment_instructions": "Pague en BBVA, convenio 123456, referencia su número de cuenta.",
                "promise_max_days": 15,
                "creditor": "Financiera Ejemplo",
                "agency": "Despacho Ejemplo",
                "agency_phone": "55 5000 1000",
                "agency_address": "Av. Reforma 100, Ciudad de México",
                # Up to 12 monthly payments of at least $500; in "firm" an agent grants
                # up to 10 % off, a supervisor up to 30 %.
                "payment_plans": {
                    "max_instalments": 12,
                    "min_instalment": "500.00",
                    "max_discount": {"firm": "0.30", "prelegal": "0.40"},
                    "agent_discount": {"firm": "0.10", "prelegal": "0.20"},
                },
            },
        )
        session.add(campaign)
        session.flush()
        accounts = []
        for i, (name, balance) in enumerate(
            [("María López Hernández", "12500.00"), ("Juan Pérez", "800.00")], start=1
        ):
            account = Account(
                external_ref=f"MX-{i:04d}",
                debtor_name=name,
                country="MX",
                timezone="America/Mexico_City",
                balance=Decimal(balance),
                currency="MXN",
                due_date=date(2026, 9, 1),
                stage="firm",
                campaign_id=campaign.id,
            )
            account.phones.append(
                Phone(number_e164=f"+5255123400{i:02d}", consent=True, consent_ref=f"C-{i}")
            )
            session.add(account)
            accounts.append(account)
        session.flush()
        seed = Seed(campaign.id, accounts[0].id, accounts[1].id, accounts[0].phones[0].id, {})
    # One argon2 hash shared by the seeded users (see CHEAP_ARGON2).
    with transaction(engine) as session:
        for name, role in [
            ("ana", "agent"),
            ("beto", "agent"),
            ("sofia", "supervisor"),
            ("raul", "auditor"),
            ("root", "admin"),
        ]:
            user = User(
                username=name, display_name=name.title(), role=role, password_hash=_password_hash()
            )
            session.add(user)
            session.flush()
            seed.users[name] = user.id
    return seed


# Real argon2id hashes at the lowest cost argon2 allows: every login still runs a
# full verification (its parameters come from the stored hash), in microseconds
# instead of the production cost (~100 ms of CPU, on purpose) per login, which
# the console tests do by the hundred. The production parameters stay covered by
# `cobrador user add` (test_console_cli) and the demo.
CHEAP_ARGON2 = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@functools.cache
def _password_hash() -> str:
    return CHEAP_ARGON2.hash(PASSWORD)


@pytest.fixture(autouse=True)
def cheap_unknown_user_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown user is checked against a dummy hash (same work as a wrong
    password): here one of the same cheap cost as the seeded users'."""
    monkeypatch.setattr(security, "_DUMMY_HASH", CHEAP_ARGON2.hash("cobrador-no-such-user"))


def make_attempt(engine: Engine, account_id: int, agent_id: int | None, **extra: Any) -> int:
    with transaction(engine) as session:
        account = session.get(Account, account_id)
        assert account is not None
        phone = account.phones[0]
        attempt = CallAttempt(
            account_id=account_id,
            phone_id=phone.id,
            phone_e164=phone.number_e164,
            campaign_id=account.campaign_id,
            agent_id=agent_id,
            started_at=extra.pop("started_at", NOW - timedelta(minutes=2)),
            answered_at=extra.pop("answered_at", NOW - timedelta(minutes=1)),
            bridged_at=extra.pop("bridged_at", NOW - timedelta(minutes=1)),
            result=extra.pop("result", "contact"),
            **extra,
        )
        session.add(attempt)
        session.flush()
        return attempt.id


class Commands(list[dict[str, Any]]):
    reply: Reply | None = Reply(True)


@pytest.fixture
async def commands(aredis: aioredis.Redis) -> AsyncIterator[Commands]:
    """Every message published on cobrador:commands while the test runs; a hangup or
    a transfer is answered as the dialer holding the call would (`reply`, None: silence)."""
    seen = Commands()
    pubsub = aredis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(COMMANDS_CHANNEL)

    async def reader() -> None:
        while True:
            message = await pubsub.get_message(timeout=0.2)
            if message:
                command = json.loads(message["data"])
                seen.append(command)
                request_id = valid_request_id(command.get("request_id"))
                if request_id is not None and seen.reply is not None:
                    await send_reply(aredis, request_id, seen.reply)

    task = asyncio.create_task(reader())
    yield seen
    task.cancel()
    await asyncio.wait([task])
    await pubsub.aclose()


@pytest.fixture
def seed(engine: Engine) -> Seed:
    return seed_data(engine)


@pytest.fixture
def clock() -> Callable[[], datetime]:
    return lambda: NOW


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    engine: Engine,
    aredis: aioredis.Redis,
    seed: Seed,
    clock: Callable[[], datetime],
) -> TestClient:
    app = init_app(settings, engine, aredis, clock=clock)
    return await aiohttp_client(app)


CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


async def csrf_of(client: TestClient, path: str = "/login") -> str:
    resp = await client.get(path)
    match = CSRF_RE.search(await resp.text())
    assert match, f"no CSRF token on {path}"
    return match.group(1)


async def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in; returns the session's CSRF token for later requests."""
    token = await csrf_of(client)
    resp = await client.post(
        "/login",
        data={"username": username, "password": password, "_csrf": token},
        allow_redirects=False,
    )
    assert resp.status == 302, await resp.text()
    return await csrf_of(client, resp.headers["Location"])


def origin(client: TestClient) -> str:
    return str(client.make_url("/")).rstrip("/")
