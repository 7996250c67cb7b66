"""A supervisor tied to one campaign steers, watches and monitors only that
campaign: every supervisor route × scope (untied, own campaign, another one, admin)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import redis.asyncio as aioredis
from aiohttp import WSServerHandshakeError
from aiohttp.test_utils import TestClient
from console_fixtures import Seed, login, make_attempt, origin
from sqlalchemy import Engine, select
from test_console_phone import published, talking_agent

from dialer.agent_state import AgentStates
from store.db import transaction
from store.models import Account, AuditEntry, CallAttempt, Campaign, Phone, User

# scope of the user making the request -> may they act on campaign mx-demo?
SCOPES = {
    "untied_supervisor": ("sofia", None, True),
    "supervisor_of_mx_demo": ("sofia", "mx-demo", True),
    "supervisor_of_another": ("sofia", "co-demo", False),
    "admin": ("root", None, True),
}


def tie(engine: Engine, username: str, campaign: str | None) -> None:
    with transaction(engine) as session:
        other = Campaign(name="co-demo", country="CO", profile="CO", dial_mode="preview")
        session.add(other)
        session.flush()
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        if campaign is not None:
            user.campaign_id = session.scalar(select(Campaign.id).where(Campaign.name == campaign))


def mx_demo(engine: Engine) -> Campaign:
    with transaction(engine) as session:
        campaign = session.scalar(select(Campaign).where(Campaign.name == "mx-demo"))
        assert campaign is not None
        return campaign


CONTROLS = {
    "start": {"action": "start"},
    "stop": {"action": "stop"},
    "mode": {"action": "mode", "dial_mode": "predictive"},
    "target": {"action": "target", "abandon_target": "2"},
    "skill_group": {"action": "skill_group", "skill_group": ""},
}


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("control", CONTROLS)
async def test_given_scope_when_changing_mx_demo_then_allowed_only_in_scope(
    client: TestClient, engine: Engine, seed: Seed, scope: str, control: str
) -> None:
    username, campaign, allowed = SCOPES[scope]
    tie(engine, username, campaign)
    before = mx_demo(engine)
    token = await login(client, username)
    resp = await client.post(
        f"/supervisor/campaigns/{seed.campaign_id}",
        data={**CONTROLS[control], "_csrf": token},
        allow_redirects=False,
    )
    after = mx_demo(engine)
    if allowed:
        assert resp.status == 302, await resp.text()
    else:
        assert resp.status == 404  # like an id that does not exist (test_console_attacks_scope)
        assert (after.status, after.dial_mode, after.abandon_target) == (
            before.status, before.dial_mode, before.abandon_target
        )  # fmt: skip
        with transaction(engine) as session:
            assert (
                session.scalar(select(AuditEntry).where(AuditEntry.kind == "campaign_change"))
                is None
            )


@pytest.mark.parametrize("scope", SCOPES)
async def test_given_scope_when_reading_mx_demo_wallboard_then_allowed_only_in_scope(
    client: TestClient, engine: Engine, scope: str
) -> None:
    username, campaign, allowed = SCOPES[scope]
    tie(engine, username, campaign)
    await login(client, username)
    resp = await client.get("/api/wallboard?campaign=mx-demo")
    assert resp.status == (200 if allowed else 403)


@pytest.mark.parametrize("scope", SCOPES)
async def test_given_scope_when_opening_mx_demo_wallboard_socket_then_allowed_only_in_scope(
    client: TestClient, engine: Engine, scope: str
) -> None:
    username, campaign, allowed = SCOPES[scope]
    tie(engine, username, campaign)
    await login(client, username)
    if allowed:
        ws = await client.ws_connect("/ws/wallboard?campaign=mx-demo", origin=origin(client))
        data = await ws.receive_json(timeout=10)
        assert data["campaign"]["name"] == "mx-demo"
        await ws.close()
    else:
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect("/ws/wallboard?campaign=mx-demo", origin=origin(client))
        assert refused.value.status == 403


@pytest.mark.parametrize("scope", SCOPES)
async def test_given_scope_when_opening_the_supervisor_page_then_only_campaigns_in_scope(
    client: TestClient, engine: Engine, scope: str
) -> None:
    username, campaign, allowed = SCOPES[scope]
    tie(engine, username, campaign)
    await login(client, username)
    page = await (await client.get("/supervisor?campaign=mx-demo")).text()
    assert ("mx-demo" in page) is allowed


def co_demo_account(engine: Engine) -> int:
    """An account of co-demo (made by `tie`), with its phone."""
    with transaction(engine) as session:
        campaign_id = session.scalar(select(Campaign.id).where(Campaign.name == "co-demo"))
        account = Account(external_ref="CO-0001", debtor_name="Camila Ruiz", country="CO",
                          timezone="America/Bogota", balance=Decimal("900000.00"),
                          currency="COP", due_date=date(2026, 9, 1), stage="firm",
                          campaign_id=campaign_id)  # fmt: skip
        account.phones.append(Phone(number_e164="+573001234567", consent=True, consent_ref="C"))
        session.add(account)
        session.flush()
        return account.id


def call_of(engine: Engine, account_id: int, agent_id: int, campaign: str) -> int:
    """A live call of `account_id` on `campaign`'s attempt (an inbound call on that
    campaign's number from the account's debtor, routed to the agent)."""
    attempt = make_attempt(engine, account_id, agent_id, result=None, direction="inbound",
                           source="inbound")  # fmt: skip
    with transaction(engine) as session:
        row = session.get(CallAttempt, attempt)
        assert row is not None
        row.campaign_id = session.scalar(select(Campaign.id).where(Campaign.name == campaign))
    return attempt


async def ask_to_monitor(client: TestClient, token: str, agent_id: int) -> tuple[int, dict]:
    resp = await client.post("/api/supervisor/monitor", json={"agent_id": agent_id,
                             "mode": "listen"}, headers={"X-CSRF-Token": token})  # fmt: skip
    return resp.status, await resp.json()


@pytest.mark.parametrize("mode", ["listen", "whisper", "barge"])
@pytest.mark.parametrize("scope", SCOPES)
async def test_given_scope_when_monitoring_an_mx_demo_agent_then_allowed_only_in_scope(
    client: TestClient,
    engine: Engine,
    seed: Seed,
    aredis: aioredis.Redis,
    commands: list[dict],
    scope: str,
    mode: str,
) -> None:
    username, campaign, allowed = SCOPES[scope]
    tie(engine, username, campaign)
    attempt = make_attempt(engine, seed.account_id, seed.users["ana"], result=None)
    await talking_agent(aredis, seed.users["ana"], attempt)
    token = await login(client, username)
    resp = await client.post(
        "/api/supervisor/monitor",
        json={"agent_id": seed.users["ana"], "mode": mode},
        headers={"X-CSRF-Token": token},
    )
    sent = await published(aredis, commands)
    if allowed:
        assert resp.status == 202
        assert [(c["type"], c["attempt_id"]) for c in sent] == [("monitor", attempt)]
    else:
        # Another campaign's agent reads as not connected (below: no oracle).
        assert resp.status == 404
        assert sent == []


# (campaign of the call's attempt, campaign of its account) -> who may listen:
# the call belongs to both, so a supervisor tied to one campaign needs both.
CALLS = {
    "mx_call_of_mx_debtor": ("mx-demo", "mx"),
    "co_call_of_co_debtor_overflowed_to_mx_agent": ("co-demo", "co"),
    "co_number_called_by_mx_debtor": ("co-demo", "mx"),
    "mx_number_called_by_co_debtor": ("mx-demo", "co"),
}
MAY_HEAR = {  # scope -> calls it may hear
    "untied_supervisor": set(CALLS),
    "supervisor_of_mx_demo": {"mx_call_of_mx_debtor"},
    "supervisor_of_another": {"co_call_of_co_debtor_overflowed_to_mx_agent"},
    "admin": set(CALLS),
}


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("scope", SCOPES)
async def test_given_an_mx_demo_agent_on_a_call_then_heard_only_when_every_campaign_of_the_call_is_in_scope(
    client: TestClient,
    engine: Engine,
    seed: Seed,
    aredis: aioredis.Redis,
    commands: list[dict],
    scope: str,
    call: str,
) -> None:
    """The scope was checked against the agent's campaign: a supervisor of mx-demo
    heard co-demo's inbound call that overflowed to an mx-demo agent. The refusal
    reads as the answer for an agent of theirs not in a call, or (an agent not
    theirs) one not connected: the same status and body, so no oracle."""
    username, campaign, _ = SCOPES[scope]
    tie(engine, username, campaign)
    attempt_campaign, debtor = CALLS[call]
    account = seed.account_id if debtor == "mx" else co_demo_account(engine)
    ana, beto = seed.users["ana"], seed.users["beto"]
    await talking_agent(aredis, ana, call_of(engine, account, ana, attempt_campaign))
    await AgentStates(aredis).login(beto, "mx-demo")  # logged in, in no call
    token = await login(client, username)
    status, body = await ask_to_monitor(client, token, ana)
    sent = await published(aredis, commands)
    if call in MAY_HEAR[scope]:
        assert status == 202, body
        assert [c["type"] for c in sent] == ["monitor"]
        return
    assert sent == []
    if scope == "supervisor_of_another":
        assert (status, body) == await ask_to_monitor(client, token, 999999)  # not connected
    else:
        assert (status, body) == await ask_to_monitor(client, token, beto)  # not in a call
    assert await published(aredis, commands) == []


async def test_given_supervisor_of_another_campaign_then_its_agents_read_as_not_connected_in_every_state(
    client: TestClient, engine: Engine, seed: Seed, aredis: aioredis.Redis, commands: list[dict]
) -> None:
    """Talking, logged in without a call, logged out: one answer for another
    campaign's agents (their states are that campaign's wallboard, not hers)."""
    tie(engine, "sofia", "co-demo")
    ana, beto = seed.users["ana"], seed.users["beto"]
    attempt = make_attempt(engine, seed.account_id, ana, result=None)
    await talking_agent(aredis, ana, attempt)
    await AgentStates(aredis).login(beto, "mx-demo")
    token = await login(client, "sofia")
    answers = [await ask_to_monitor(client, token, agent) for agent in (ana, beto, 999999)]
    assert answers[0][0] == 404
    assert answers[0] == answers[1] == answers[2]
    assert await published(aredis, commands) == []
