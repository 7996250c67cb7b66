"""Inbound calls on the agent page: names only until the caller's identity is verified."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed, login, origin
from sqlalchemy import Engine, select
from support.polling import until, within

from dialer.agent_state import AgentStates
from dialer.messages import InboundPop, Notifier
from store.db import transaction
from store.models import AuditEntry, CallAttempt, Disposition, Phone


def inbound_attempt(engine: Engine, seed: Seed, agent_id: int | None, number: str,
                    account_id: int | None) -> int:  # fmt: skip
    with transaction(engine) as s:
        row = CallAttempt(account_id=account_id, phone_e164=number, campaign_id=seed.campaign_id,
                          agent_id=agent_id, direction="inbound", source="inbound",
                          started_at=NOW, answered_at=NOW, bridged_at=NOW)  # fmt: skip
        s.add(row)
        s.flush()
        return int(row.id)


async def next_kind(ws: Any, kind: str) -> dict[str, Any]:
    """The next message of `kind` on the agent's socket (state events skipped). Bounded
    like every wait (support.polling.within): 5 s, its bound before, is a deadline a
    loaded machine misses between a pop's publication and its socket."""

    async def next_one() -> dict[str, Any]:
        while True:
            msg = await ws.receive_json()
            if msg["type"] == kind:
                return dict(msg)

    return await within(next_one(), f"a {kind!r} message on the agent's socket")


async def inbound_pop_for(client: TestClient, aredis: aioredis.Redis, agent_id: int,
                          attempt_id: int, account_ids: list[int], status: str = "ok") -> dict[str, Any]:  # fmt: skip
    ws = await client.ws_connect("/ws/agent", headers={"Origin": origin(client)})
    await next_kind(ws, "hello")
    states = AgentStates(aredis)
    await states.set_ready(agent_id)
    assert await states.reserve(agent_id, attempt_id)
    await states.talking(agent_id, attempt_id)
    message = InboundPop(
        attempt_id, agent_id, "mx-demo", status, tuple(account_ids),
        account_ids[0] if len(account_ids) == 1 else None,
        verification=("account_last4",), waited_seconds=0.0, published_at=1.5,
    )  # fmt: skip
    await Notifier(aredis).send(message)
    pop = await next_kind(ws, "inbound")
    await ws.close()
    return pop


def audit_kinds(engine: Engine) -> list[tuple[str, str]]:
    with transaction(engine) as s:
        return [(e.kind, e.payload) for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]


async def test_given_caller_matching_two_accounts_when_popped_then_names_only_and_verification_opens_the_account(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    token = await login(client, "ana")
    agent = seed.users["ana"]
    with transaction(engine) as s:  # Juan shares María's number
        s.add(Phone(account_id=seed.other_account_id, number_e164="+525512340001", position=2))
    attempt = inbound_attempt(engine, seed, agent, "+525512340001", None)
    pop = await inbound_pop_for(client, aredis, agent, attempt,
                                [seed.account_id, seed.other_account_id])  # fmt: skip
    assert pop["label"] == "Llamada entrante" and pop["search"] is False
    assert [c["name"] for c in pop["candidates"]] == ["María López Hernández", "Juan Pérez"]
    assert [c["ref"] for c in pop["candidates"]] == ["MX•••••", "MX•••••"]
    assert all(
        set(c) == {"account_id", "name", "ref", "prompts"} for c in pop["candidates"]
    )  # no balance
    assert [p["code"] for p in pop["prompts"]] == ["account_last4"]
    assert any(k == "pii_view" and "inbound_pop" in p for k, p in audit_kinds(engine))
    headers = {"X-CSRF-Token": token}
    # Before verification the account itself stays closed.
    denied = await client.get(f"/api/agent/accounts/{seed.other_account_id}")
    assert denied.status == 403
    wrong = await client.post("/api/agent/inbound/verify", headers=headers, json={
        "attempt_id": attempt, "account_id": seed.other_account_id, "answer_account_last4": "9999"})  # fmt: skip
    assert wrong.status == 422 and "no coinciden" in (await wrong.json())["reason"]
    right = await client.post("/api/agent/inbound/verify", headers=headers, json={
        "attempt_id": attempt, "account_id": seed.other_account_id, "answer_account_last4": "0002"})  # fmt: skip
    body = await right.json()
    assert right.status == 200 and body["pop"]["account"]["name"] == "Juan Pérez"
    assert body["pop"]["direction"] == "inbound" and body["pop"]["account"]["balance"] == "800.00"
    with transaction(engine) as s:
        row = s.get(CallAttempt, attempt)
        assert row is not None and row.account_id == seed.other_account_id
    checks = [json.loads(p) for k, p in audit_kinds(engine) if k == "identity_check"]
    assert [c["passed"] for c in checks] == [False, True]
    assert any(k == "pii_view" and "inbound_verified" in p for k, p in audit_kinds(engine))
    # The account is the agent's call now: the disposition form may use it, with the
    # same rules as an outbound call; a right-party talk counts as a contact.
    assert (await client.get(f"/api/agent/accounts/{seed.other_account_id}")).status == 200
    saved = await client.post("/api/agent/disposition", headers=headers, json={
        "attempt_id": attempt, "party": "titular", "outcome": "rehusa"})  # fmt: skip
    assert saved.status == 200, await saved.text()
    with transaction(engine) as s:
        row = s.get(CallAttempt, attempt)
        assert row is not None and row.right_party_contact is True

    from compliance.service import load_history

    history = load_history(engine, [seed.other_account_id], NOW - timedelta(days=1))
    assert history[seed.other_account_id].attempts == []  # never an attempt of ours
    assert [e.member for e in history[seed.other_account_id].contacts] == [f"a:{attempt}"]


async def test_given_three_wrong_answers_on_an_inbound_call_then_the_right_one_is_refused(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """A caller who does not know the debtor's data cannot have the agent try the
    4 digits until one fits: the same cap per call as on an outbound call."""
    token = await login(client, "ana")
    agent = seed.users["ana"]
    attempt = inbound_attempt(engine, seed, agent, "+525512340002", None)
    await inbound_pop_for(client, aredis, agent, attempt, [seed.other_account_id])
    headers = {"X-CSRF-Token": token}
    statuses = []
    for guess in ("1111", "2222", "3333", "0002"):
        resp = await client.post("/api/agent/inbound/verify", headers=headers, json={
            "attempt_id": attempt, "account_id": seed.other_account_id,
            "answer_account_last4": guess})  # fmt: skip
        statuses.append(resp.status)
    assert statuses == [422, 422, 422, 429]
    with transaction(engine) as s:
        row = s.get(CallAttempt, attempt)
        assert row is not None and row.account_id is None
    checks = [json.loads(p) for k, p in audit_kinds(engine) if k == "identity_check"]
    assert [c["passed"] for c in checks] == [False, False, False]


async def test_given_withheld_number_when_popped_then_search_finds_by_reference_and_other_accounts_stay_closed(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    token = await login(client, "ana")
    agent = seed.users["ana"]
    attempt = inbound_attempt(engine, seed, agent, "", None)
    pop = await inbound_pop_for(client, aredis, agent, attempt, [], status="withheld")
    assert pop["search"] is True and pop["candidates"] == [] and pop["ani_label"] == "Número oculto"
    short = await client.get(f"/api/agent/inbound/search?attempt_id={attempt}&q=MX")
    assert short.status == 422
    found = await client.get(f"/api/agent/inbound/search?attempt_id={attempt}&q=MX-0001")
    accounts = (await found.json())["accounts"]
    assert [a["account_id"] for a in accounts] == [seed.account_id]
    by_phone = await client.get(f"/api/agent/inbound/search?attempt_id={attempt}&q=5512340002")
    found_by_phone = (await by_phone.json())["accounts"]
    assert [a["account_id"] for a in found_by_phone] == [seed.other_account_id]
    assert [p["code"] for p in found_by_phone[0]["prompts"]] == ["account_last4"]
    headers = {"X-CSRF-Token": token}
    ok = await client.post("/api/agent/inbound/verify", headers=headers, json={
        "attempt_id": attempt, "account_id": seed.other_account_id,
        "answer_account_last4": "0002"})  # fmt: skip
    assert ok.status == 200


async def test_given_an_account_found_by_the_reference_the_caller_gave_then_its_last_digits_prove_nothing(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """The default question is the reference's last 4 digits: asked of a caller who has
    just said the reference (anyone holding a letter or a receipt), it proved nothing
    and opened the whole account. Found by reference, an account asks its campaign's
    other questions, else the debtor's full name; in a chat as on a call."""
    token = await login(client, "ana")
    headers = {"X-CSRF-Token": token}
    agent = seed.users["ana"]
    attempt = inbound_attempt(engine, seed, agent, "", None)
    await inbound_pop_for(client, aredis, agent, attempt, [], status="withheld")
    found = await client.get(f"/api/agent/inbound/search?attempt_id={attempt}&q=MX-0001")
    accounts = (await found.json())["accounts"]
    assert [a["account_id"] for a in accounts] == [seed.account_id]
    assert accounts[0]["prompts"] == [{"code": "full_name", "label": "Nombre completo"}]
    assert set(accounts[0]) == {"account_id", "name", "ref", "prompts"}
    echoed = await client.post("/api/agent/inbound/verify", headers=headers, json={
        "attempt_id": attempt, "account_id": seed.account_id, "answer_account_last4": "0001"})  # fmt: skip
    assert echoed.status == 422 and "no coinciden" in (await echoed.json())["reason"]
    with transaction(engine) as s:
        assert s.get(CallAttempt, attempt).account_id is None  # type: ignore[union-attr]
    named = await client.post("/api/agent/inbound/verify", headers=headers, json={
        "attempt_id": attempt, "account_id": seed.account_id,
        "answer_full_name": "maría  lópez hernández"})  # fmt: skip
    assert named.status == 200, await named.text()
    checks = [json.loads(p) for k, p in audit_kinds(engine) if k == "identity_check"]
    assert [(c["prompts"], c["passed"]) for c in checks] == [
        (["full_name"], False), (["full_name"], True)]  # fmt: skip


async def test_given_another_agents_inbound_call_then_the_same_answer_as_a_missing_one(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """Verify and search answer another agent's inbound call exactly as an id that
    does not exist (or an outbound call's): an agent cannot learn which ids exist."""
    token = await login(client, "ana")
    headers = {"X-CSRF-Token": token}
    betos = inbound_attempt(engine, seed, seed.users["beto"], "+525512340001", None)
    with transaction(engine) as s:
        outbound = CallAttempt(account_id=seed.account_id, phone_e164="+525512340001",
                               campaign_id=seed.campaign_id, agent_id=seed.users["ana"],
                               started_at=NOW)  # fmt: skip
        s.add(outbound)
        s.flush()
        outbound_id = int(outbound.id)
    answers = []
    for attempt in (betos, 999999, outbound_id):
        verify = await client.post("/api/agent/inbound/verify", headers=headers,
                                   json={"attempt_id": attempt, "account_id": seed.account_id,
                                         "answer_account_last4": "0001"})  # fmt: skip
        search = await client.get(f"/api/agent/inbound/search?attempt_id={attempt}&q=MX-0001")
        answers.append((verify.status, await verify.json(), search.status, await search.json()))
    refusal = {"ok": False, "reason": "Esa llamada entrante no existe o no es suya."}
    assert answers == [(404, refusal, 404, refusal)] * 3
    with transaction(engine) as s:  # nothing tied, nothing checked
        assert s.get(CallAttempt, betos).account_id is None  # type: ignore[union-attr]
    assert not [k for k, _ in audit_kinds(engine) if k == "identity_check"]


async def test_given_supervisor_when_opening_the_wallboard_then_inbound_queue_figures_are_there(
    client: TestClient, seed: Seed
) -> None:
    await login(client, "sofia")
    page = await (await client.get("/supervisor")).text()
    assert "Llamadas entrantes" in page and "Abandonadas en cola" in page
    for field in ("waiting", "longest_wait_seconds", "1h.service_level", "24h.abandoned"):
        assert f'data-inbound="{field}"' in page


async def test_given_on_demand_campaign_when_an_unmatched_caller_is_popped_then_the_agent_may_record(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis, commands: list[dict]
) -> None:
    from store.models import Campaign

    with transaction(engine) as s:
        campaign = s.get(Campaign, seed.campaign_id)
        assert campaign is not None
        campaign.config = {**(campaign.config or {}), "recording": "on_demand"}
    token = await login(client, "ana")
    agent = seed.users["ana"]
    attempt = inbound_attempt(engine, seed, agent, "", None)
    pop = await inbound_pop_for(client, aredis, agent, attempt, [], status="withheld")
    assert pop["recording"]["mode"] == "on_demand"  # the panel shows Grabar / Detener
    page = await (await client.get("/agent")).text()
    assert 'id="inbound-record-start"' in page and 'id="inbound-record-stop"' in page
    resp = await client.post("/api/agent/recording/start", headers={"X-CSRF-Token": token})
    assert resp.status == 200

    def recording() -> list[dict]:
        return [c for c in commands if str(c.get("type")).startswith("recording_")]

    await until(recording, "a recording command read from pub/sub")
    assert recording() == [
        {"type": "recording_start", "attempt_id": attempt, "agent_id": agent, "campaign": None}
    ]


async def test_given_an_inbound_call_when_the_agent_transfers_then_refused_with_a_reason(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis, commands: list[dict]
) -> None:
    token = await login(client, "ana")
    agent = seed.users["ana"]
    attempt = inbound_attempt(engine, seed, agent, "", None)
    states = AgentStates(aredis)
    await states.login(agent, "mx-demo")
    await states.set_ready(agent)
    await states.reserve(agent, attempt)
    await states.talking(agent)
    resp = await client.post("/api/agent/transfer", headers={"X-CSRF-Token": token})
    assert resp.status == 409
    assert "entrantes no se pueden transferir" in (await resp.json())["reason"]
    # Colgar is sent to the dialer (it ends the caller's channel: dialer component test).
    resp = await client.post("/api/agent/hangup", headers={"X-CSRF-Token": token})
    assert resp.status == 200

    def ours() -> list[str]:
        return [c["type"] for c in commands if c.get("attempt_id") == attempt]

    await until(ours, "the hangup command read from pub/sub")
    assert ours() == ["hangup"]


async def test_given_no_dialer_listening_when_the_agent_hangs_up_then_an_error_not_sent(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    token = await login(client, "ana")
    agent = seed.users["ana"]
    attempt = inbound_attempt(engine, seed, agent, "", None)
    states = AgentStates(aredis)
    await states.login(agent, "mx-demo")
    await states.set_ready(agent)
    await states.reserve(agent, attempt)
    await states.talking(agent)
    resp = await client.post("/api/agent/hangup", headers={"X-CSRF-Token": token})
    assert resp.status == 503
    assert "Ningún marcador recibió la orden" in (await resp.json())["reason"]


async def test_given_a_page_reload_during_an_unmatched_inbound_call_then_its_names_only_pop_comes_back(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    await login(client, "ana")
    agent = seed.users["ana"]
    with transaction(engine) as s:  # Juan shares María's number
        s.add(Phone(account_id=seed.other_account_id, number_e164="+525512340001", position=2))
    attempt = inbound_attempt(engine, seed, agent, "+525512340001", None)
    with transaction(engine) as s:  # how the dialer read the number: in its evidence only
        from store.audit import append

        append(s, "inbound_call", {"attempt_id": attempt, "ani_status": "ok"}, actor="dialer",
               subject=f"attempt:{attempt}")  # fmt: skip
    await inbound_pop_for(client, aredis, agent, attempt, [seed.account_id, seed.other_account_id])
    # The page is reloaded: it asks what to show.
    pop = (await (await client.get("/api/agent/current")).json())["pop"]
    assert pop["type"] == "inbound" and pop["attempt_id"] == attempt
    assert [c["name"] for c in pop["candidates"]] == ["María López Hernández", "Juan Pérez"]
    assert all(
        set(c) == {"account_id", "name", "ref", "prompts"} for c in pop["candidates"]
    )  # no balance
    assert pop["ani_status"] == "ok" and pop["label"] == "Llamada entrante"
    views = [json.loads(p) for k, p in audit_kinds(engine) if k == "pii_view"]
    assert sum(v.get("page") == "inbound_pop" for v in views) == 2  # the reload is a view too
    # Another agent's page learns nothing of it.
    await login(client, "beto")
    other = await (await client.get("/api/agent/current")).json()
    assert other["ok"] is True and other["pop"] is None, other


async def test_given_an_inbound_call_tied_or_over_then_no_names_only_pop_after_a_reload(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    await login(client, "ana")
    agent = seed.users["ana"]
    attempt = inbound_attempt(engine, seed, agent, "+525512340001", None)
    await inbound_pop_for(client, aredis, agent, attempt, [seed.account_id])
    with transaction(engine) as s:
        row = s.get(CallAttempt, attempt)
        assert row is not None
        row.result, row.ended_at = "contact", row.answered_at  # the caller hung up
    pop = (await (await client.get("/api/agent/current")).json())["pop"]
    assert pop is None or pop.get("type") != "inbound"


async def test_given_an_inbound_row_that_is_not_the_agents_live_call_then_search_and_verify_answer_as_missing(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """An inbound row with no agent written is not anyone's call to act on: a caller
    still queued, a call another agent was just given, a debtor's portal action; nor is
    the agent's own call once it is over and the agent is on another. Search (names of
    any account by reference) and verify (the full account) answer each as a missing
    id, tie nothing and check nothing."""
    token = await login(client, "ana")
    headers = {"X-CSRF-Token": token}
    ana, beto = seed.users["ana"], seed.users["beto"]
    queued = inbound_attempt(engine, seed, None, "+525512340001", None)
    betos_live = inbound_attempt(engine, seed, None, "+525512340001", None)
    states = AgentStates(aredis)
    await states.login(beto, "mx-demo")
    await states.set_ready(beto)
    assert await states.reserve(beto, betos_live)
    await states.talking(beto, betos_live)
    with transaction(engine) as s:  # a debtor's action in the portal: an inbound ledger row
        action = CallAttempt(account_id=seed.account_id, phone_e164="+525512340001",
                             campaign_id=seed.campaign_id, direction="inbound",
                             source="selfservice", channel="sms", started_at=NOW,
                             answered_at=NOW, ended_at=NOW)  # fmt: skip
        s.add(action)
        s.flush()
        action_id = int(action.id)
    anas_old = inbound_attempt(engine, seed, ana, "+525512340001", None)
    anas_live = inbound_attempt(engine, seed, None, "+525512340002", None)
    await states.login(ana, "mx-demo")
    await states.set_ready(ana)
    assert await states.reserve(ana, anas_live)
    await states.talking(ana, anas_live)
    answers = []
    for attempt in (queued, betos_live, action_id, anas_old, 999999):
        verify = await client.post("/api/agent/inbound/verify", headers=headers,
                                   json={"attempt_id": attempt, "account_id": seed.account_id,
                                         "answer_account_last4": "0001"})  # fmt: skip
        search = await client.get(f"/api/agent/inbound/search?attempt_id={attempt}&q=MX-0002")
        answers.append((verify.status, await verify.json(), search.status, await search.json()))
    refusal = {"ok": False, "reason": "Esa llamada entrante no existe o no es suya."}
    assert answers == [(404, refusal, 404, refusal)] * 5
    with transaction(engine) as s:  # nothing tied, nothing checked, no names shown
        for attempt in (queued, betos_live, anas_old):
            row = s.get(CallAttempt, attempt)
            assert row is not None and row.account_id is None
        assert s.get(CallAttempt, queued).agent_id is None  # type: ignore[union-attr]
        assert s.get(CallAttempt, betos_live).agent_id is None  # type: ignore[union-attr]
    kinds = audit_kinds(engine)
    assert not [k for k, _ in kinds if k == "identity_check"]
    assert not [p for k, p in kinds if k == "pii_view" and "inbound_search" in p]
    # Her live call, even before the dialer wrote her on it, is hers to search.
    found = await client.get(f"/api/agent/inbound/search?attempt_id={anas_live}&q=MX-0002")
    assert found.status == 200
    assert [a["account_id"] for a in (await found.json())["accounts"]] == [seed.other_account_id]


async def test_given_an_inbound_caller_not_tied_to_an_account_when_disposing_then_400_not_500(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """The page offers no disposition before the caller is verified; a request that
    sends one anyway (an old tab, a script) is told why, and nothing is written."""
    token = await login(client, "ana")
    agent = seed.users["ana"]
    attempt = inbound_attempt(engine, seed, agent, "+525512340001", None)
    await inbound_pop_for(client, aredis, agent, attempt, [seed.account_id])
    resp = await client.post("/api/agent/disposition", headers={"X-CSRF-Token": token},
                             json={"attempt_id": attempt, "party": "tercero",
                                   "outcome": "numero_equivocado"})  # fmt: skip
    assert resp.status == 400, await resp.text()
    body = await resp.json()
    assert body["errors"]["party"] == (
        "Verifique la identidad de esa persona antes de registrar este resultado."
    )
    with transaction(engine) as s:
        assert s.scalar(select(Disposition.id).where(Disposition.attempt_id == attempt)) is None
        assert s.get(CallAttempt, attempt).account_id is None  # type: ignore[union-attr]


async def test_given_an_agent_searching_without_end_on_one_call_then_refused_past_the_bound(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """A search shows the name of any account by its reference: an agent on a call of
    their own (the inbound number dialled from their mobile) read every account's name,
    reference by reference. Ten searches per call or chat; another agent's probes are
    the missing id's 404 and count nothing."""
    agent = seed.users["ana"]
    attempt = inbound_attempt(engine, seed, agent, "", None)
    await login(client, "beto")
    for _ in range(3):  # another agent's probes: no count taken
        probe = await client.get(f"/api/agent/inbound/search?attempt_id={attempt}&q=MX-0001")
        assert probe.status == 404
    await login(client, "ana")
    await inbound_pop_for(client, aredis, agent, attempt, [], status="withheld")
    statuses = []
    for n in range(11):
        resp = await client.get(f"/api/agent/inbound/search?attempt_id={attempt}&q=MX-{n:04d}")
        statuses.append(resp.status)
    assert statuses == [200] * 10 + [429]
    assert (await resp.json())["reason"] == "Se alcanzó el límite de búsquedas de este contacto."
    views = [json.loads(p) for k, p in audit_kinds(engine) if k == "pii_view"]
    assert sum(v.get("page") == "inbound_search" for v in views) == 10


async def test_given_redis_flushed_mid_call_when_the_agent_searches_on_then_the_eleventh_is_still_refused(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """The ten searches of a call were counted in Redis alone: a flush (or an eviction)
    mid-call allowed ten more. They are counted from the searches' audit entries in SQL."""
    agent = seed.users["ana"]
    attempt = inbound_attempt(engine, seed, agent, "", None)
    await login(client, "ana")
    await inbound_pop_for(client, aredis, agent, attempt, [], status="withheld")

    async def search(n: int) -> int:
        resp = await client.get(f"/api/agent/inbound/search?attempt_id={attempt}&q=MX-{n:04d}")
        return resp.status

    assert [await search(n) for n in range(5)] == [200] * 5
    await evict(aredis, "*", agent, attempt)
    assert [await search(n) for n in range(5, 10)] == [200] * 5
    await evict(aredis, "*", agent, attempt)
    resp = await client.get(f"/api/agent/inbound/search?attempt_id={attempt}&q=MX-0002")
    assert resp.status == 429
    assert (await resp.json())["reason"] == "Se alcanzó el límite de búsquedas de este contacto."
    views = [json.loads(p) for k, p in audit_kinds(engine) if k == "pii_view"]
    assert sum(v.get("page") == "inbound_search" for v in views) == 10


async def test_given_parallel_searches_on_one_call_then_no_more_than_ten_are_made(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """The call's row is held while its searches are counted: a burst gets no extra."""
    agent = seed.users["ana"]
    attempt = inbound_attempt(engine, seed, agent, "", None)
    await login(client, "ana")
    await inbound_pop_for(client, aredis, agent, attempt, [], status="withheld")

    async def search(n: int) -> int:
        resp = await client.get(f"/api/agent/inbound/search?attempt_id={attempt}&q=MX-{n:04d}")
        return resp.status

    statuses = await asyncio.gather(*[search(n) for n in range(14)])
    assert sorted(statuses) == [200] * 10 + [429] * 4
    views = [json.loads(p) for k, p in audit_kinds(engine) if k == "pii_view"]
    assert sum(v.get("page") == "inbound_search" for v in views) == 10


async def evict(aredis: aioredis.Redis, pattern: str, agent_id: int, attempt: int) -> None:
    """Redis drops keys under memory pressure (or is flushed): the call's keys matching
    `pattern` go; the agent is put back on the call as the dialer had them."""
    async for key in aredis.scan_iter(match=pattern):
        await aredis.delete(key)
    states = AgentStates(aredis)
    if (await states.get(agent_id)).attempt_id != attempt:
        await states.login(agent_id, "mx-demo")
        await states.set_ready(agent_id)
        assert await states.reserve(agent_id, attempt)
        await states.talking(agent_id, attempt)


@pytest.mark.parametrize("lost", ["*inbound-search-ref*", "cobrador:console:*", "*"])
async def test_given_an_account_found_by_reference_when_redis_loses_keys_then_its_last_digits_still_prove_nothing(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis, lost: str
) -> None:
    """The accounts found on a call and those found by the reference the caller gave
    were two Redis sets: an eviction of the second alone left the account found but no
    longer named, and its last 4 digits (which the caller had just said) opened it.
    What a search found, and how, is read from its audit entry in SQL now: whatever
    Redis loses (one key, the console's, everything), the last digits prove nothing
    and the name still does."""
    token = await login(client, "ana")
    headers = {"X-CSRF-Token": token}
    agent = seed.users["ana"]
    attempt = inbound_attempt(engine, seed, agent, "", None)
    await inbound_pop_for(client, aredis, agent, attempt, [], status="withheld")
    found = await client.get(f"/api/agent/inbound/search?attempt_id={attempt}&q=MX-0002")
    assert [a["account_id"] for a in (await found.json())["accounts"]] == [seed.other_account_id]
    await evict(aredis, lost, agent, attempt)
    echoed = await client.post("/api/agent/inbound/verify", headers=headers, json={
        "attempt_id": attempt, "account_id": seed.other_account_id,
        "answer_account_last4": "0002"})  # fmt: skip
    assert echoed.status == 422, await echoed.text()
    named = await client.post("/api/agent/inbound/verify", headers=headers, json={
        "attempt_id": attempt, "account_id": seed.other_account_id,
        "answer_full_name": "Juan Pérez"})  # fmt: skip
    assert named.status == 200, await named.text()
    checks = [json.loads(p) for k, p in audit_kinds(engine) if k == "identity_check"]
    assert [(c["prompts"], c["passed"]) for c in checks] == [
        (["full_name"], False), (["full_name"], True)]  # fmt: skip


async def test_given_the_callers_own_account_said_by_reference_then_its_last_digits_prove_nothing(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """A caller from María's number is popped with her account (its question is the
    reference's last 4 digits); once the agent has searched it by the reference the
    caller said, those digits prove nothing on this call, a Redis flush included."""
    token = await login(client, "ana")
    agent = seed.users["ana"]
    attempt = inbound_attempt(engine, seed, agent, "+525512340001", None)
    await inbound_pop_for(client, aredis, agent, attempt, [seed.account_id])
    assert (
        await client.get(f"/api/agent/inbound/search?attempt_id={attempt}&q=MX-0001")
    ).status == 200
    await evict(aredis, "*", agent, attempt)
    echoed = await client.post("/api/agent/inbound/verify", headers={"X-CSRF-Token": token}, json={
        "attempt_id": attempt, "account_id": seed.account_id, "answer_account_last4": "0001"})  # fmt: skip
    assert echoed.status == 422
    with transaction(engine) as s:
        assert s.get(CallAttempt, attempt).account_id is None  # type: ignore[union-attr]


async def test_given_an_account_not_found_on_this_call_when_redis_is_flushed_then_it_is_still_refused(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """Another call's search, or one that found nothing of it, allows nothing here."""
    token = await login(client, "ana")
    agent = seed.users["ana"]
    other = inbound_attempt(engine, seed, agent, "", None)
    await inbound_pop_for(client, aredis, agent, other, [], status="withheld")
    assert (
        await client.get(f"/api/agent/inbound/search?attempt_id={other}&q=MX-0002")
    ).status == 200
    attempt = inbound_attempt(engine, seed, agent, "", None)
    await evict(aredis, "*", agent, attempt)
    assert (
        await client.get(f"/api/agent/inbound/search?attempt_id={attempt}&q=MX-0001")
    ).status == 200
    refused = await client.post("/api/agent/inbound/verify", headers={"X-CSRF-Token": token}, json={
        "attempt_id": attempt, "account_id": seed.other_account_id, "answer_full_name": "Juan Pérez"})  # fmt: skip
    assert refused.status == 403


def test_given_a_search_entry_that_does_not_say_how_it_found_then_every_result_counts_as_by_reference(
    engine: Engine, seed: Seed
) -> None:
    """Searches audited before the entry said which results came by reference: fail
    closed, none of them is proven by its last digits."""
    from console.inbound_service import searched_accounts
    from store.audit import append as audit_append

    with transaction(engine) as s:
        for payload in (
            {"page": "inbound_search", "results": [seed.account_id], "by": "reference"},
            {"page": "inbound_search", "results": [seed.other_account_id], "by_reference": []},
            {"page": "inbound_pop", "account_ids": [99]},
        ):
            audit_append(s, "pii_view", payload, subject="attempt:7")
    found, named = searched_accounts(engine, 7)
    assert (found, named) == ({seed.account_id, seed.other_account_id}, {seed.account_id})
    assert searched_accounts(engine, 8) == (set(), set())
