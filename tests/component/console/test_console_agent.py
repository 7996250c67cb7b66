"""The agent's working loop: pops, dispositions and their validation, commands."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed, login, make_attempt, origin
from sqlalchemy import Engine, func, select
from support.polling import WITHIN, until

from console import agent_service
from dialer.agent_state import AgentState, AgentStates
from dialer.hopper import Hopper, HopperEntry
from dialer.messages import POPS_CHANNEL, Notifier, Pop, PreviewOffer
from store.db import transaction
from store.models import (
    Account,
    AuditEntry,
    CallAttempt,
    Callback,
    Disposition,
    Note,
    Phone,
    Promise,
)


async def next_message(ws, *kinds: str, wait: float = WITHIN) -> dict:  # type: ignore[no-untyped-def]
    """The next message of one of ``kinds`` (state events in between are skipped); a
    bound for a hang like every wait's (5 s before: a deadline a loaded machine misses)."""
    async with asyncio.timeout(wait):
        while True:
            msg = await ws.receive_json()
            if msg["type"] in kinds:
                return msg


def counts(engine: Engine) -> tuple[int, int, int]:
    with transaction(engine) as session:
        return (
            session.scalar(select(func.count(Disposition.id))) or 0,
            session.scalar(select(func.count(Promise.id))) or 0,
            session.scalar(select(func.count(Callback.id))) or 0,
        )


async def dispose(client: TestClient, token: str, **fields: object):  # type: ignore[no-untyped-def]
    return await client.post("/api/agent/disposition", json=fields, headers={"X-CSRF-Token": token})


async def verify(  # type: ignore[no-untyped-def]
    client: TestClient, token: str, attempt: int, party: str = "titular", **answers: str
):
    """The default question set (full name, last 4 of the reference), right unless overridden."""
    body = {"attempt_id": attempt, "party": party, "answer_full_name": "maría lópez  hernández",
            "answer_account_last4": "0001"} | {f"answer_{k}": v for k, v in answers.items()}  # fmt: skip
    return await client.post("/api/agent/verify", json=body, headers={"X-CSRF-Token": token})


async def test_given_ready_agent_when_dialer_publishes_pop_then_socket_receives_account(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    token = await login(client, "ana")
    ws = await client.ws_connect("/ws/agent", headers={"Origin": origin(client)})
    assert (await next_message(ws, "hello"))["type"] == "hello"
    assert (await client.post("/api/agent/ready", headers={"X-CSRF-Token": token})).status == 200
    agent_id = seed.users["ana"]
    attempt = make_attempt(engine, seed.account_id, agent_id)
    states = AgentStates(aredis)
    assert await states.reserve(agent_id, attempt)
    await states.talking(agent_id)
    pop = Pop(attempt, agent_id, seed.account_id, "mx-demo", published_at=1.5)
    await Notifier(aredis).send(pop)
    got = await next_message(ws, "pop")
    assert got["attempt_id"] == attempt
    # Before anyone is verified the pop says nothing about the debt (whoever answered).
    assert got["verified"] is None
    assert got["account"] == {"name": "María López Hernández", "ref": "MX•••••"}
    for leak in ("12500", "12,500", "Financiera Ejemplo", "BBVA", "firm"):
        assert leak not in json.dumps(got, ensure_ascii=False), leak
    assert "script" not in got and "promises" not in got and "notes" not in got
    assert got["opening"].startswith("Buenos días. Mi nombre es Ana.")  # 11:00 in CDMX
    assert got["chat"] is False  # a call: the page asks for no transcript
    assert "María López Hernández" in got["third_party"]["script"]
    assert [p["code"] for p in got["verification"]["titular"]] == ["full_name", "account_last4"]
    assert got["phone"]["consent"] is True and got["phone"]["masked"].endswith("0001")
    assert got["local_time"]["time"] == "11:00"
    assert got["published_at"] == 1.5
    await ws.close()

    wrong = await verify(client, token, attempt, account_last4="9999")
    assert wrong.status == 422 and "12500" not in await wrong.text()
    right = await verify(client, token, attempt)
    assert right.status == 200, await right.text()
    full = (await right.json())["pop"]
    assert full["verified"] == "titular"
    assert full["account"]["balance"] == "12500.00" and full["account"]["currency"] == "MXN"
    assert (
        full["account"]["days_past_due"] == (NOW.date() - NOW.date().replace(month=9, day=1)).days
    )
    assert full["account"]["stage"] == "firm"
    # The MX profile's identification (CONDUSEF 2014), then the stage's script.
    assert "Le llamamos en nombre de Financiera Ejemplo." in full["script"]
    assert "MX-0001" in full["script"] and "$12,500.00 MXN" in full["script"]
    # The agent reads the due date aloud: in words, never "2026-09-01".
    assert "exigible desde el 1 de septiembre de 2026." in full["script"]
    assert "2026-09-01" not in full["script"]
    assert full["account"]["balance_display"] == "$12,500.00 MXN"
    assert full["payment_instructions"].startswith("Pague en BBVA")
    # A reload shows the verified pop; the checks are evidence.
    current = await (await client.get("/api/agent/current")).json()
    assert current["pop"]["verified"] == "titular" and current["pop"]["account"]["balance"]
    with transaction(engine) as session:
        checks = session.scalars(
            select(AuditEntry).where(AuditEntry.kind == "identity_check").order_by(AuditEntry.id)
        )
        assert [json.loads(c.payload)["passed"] for c in checks] == [False, True]

    def pop_view_recorded() -> bool:
        with transaction(engine) as session:
            views = session.scalars(select(AuditEntry).where(AuditEntry.kind == "pii_view")).all()
            return any(f"account:{seed.account_id}" == v.subject for v in views)

    await until(pop_view_recorded)


async def test_given_three_wrong_answers_on_a_call_then_the_right_one_is_refused_even_in_parallel(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """The answers are not guessed by trying: three wrong ones per call, and a burst of
    parallel checks gets no more through than that."""
    token = await login(client, "ana")
    agent_id = seed.users["ana"]
    ws = await client.ws_connect("/ws/agent", headers={"Origin": origin(client)})
    await next_message(ws, "hello")
    assert (await client.post("/api/agent/ready", headers={"X-CSRF-Token": token})).status == 200
    attempt = make_attempt(engine, seed.account_id, agent_id)
    states = AgentStates(aredis)
    assert await states.reserve(agent_id, attempt)
    await states.talking(agent_id)
    await ws.close()
    burst = await asyncio.gather(
        *[verify(client, token, attempt, account_last4=f"{i:04d}") for i in range(2, 8)]
    )
    assert sorted(r.status for r in burst) == [422, 422, 422, 429, 429, 429]
    right = await verify(client, token, attempt)
    assert right.status == 429 and "tercero" in (await right.json())["reason"]
    with transaction(engine) as session:
        checks = session.scalars(
            select(AuditEntry).where(AuditEntry.kind == "identity_check").order_by(AuditEntry.id)
        )
        assert [json.loads(c.payload)["passed"] for c in checks] == [False] * 3


async def test_given_redis_flushed_mid_call_when_the_answers_are_tried_on_then_the_fourth_is_still_refused(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """The call's three wrong answers were counted in Redis alone: a flush (or a
    restart) mid-call gave the person on the line three new tries. They are counted in
    SQL (console/verify_tries.py): two wrong, a flush, one wrong, and the right answer
    is refused as a third party's."""
    token = await login(client, "ana")
    agent_id = seed.users["ana"]
    attempt = make_attempt(engine, seed.account_id, agent_id)
    states = AgentStates(aredis)

    async def on_the_call() -> None:
        await states.login(agent_id, "mx-demo")
        await states.set_ready(agent_id)
        assert await states.reserve(agent_id, attempt)
        await states.talking(agent_id)

    await on_the_call()
    wrong = [await verify(client, token, attempt, account_last4=f"{i:04d}") for i in (2, 3)]
    assert [r.status for r in wrong] == [422, 422]
    await aredis.flushall()
    await on_the_call()  # the dialer puts the agent back on the call
    assert (await verify(client, token, attempt, account_last4="0004")).status == 422
    right = await verify(client, token, attempt)
    assert right.status == 429 and "tercero" in (await right.json())["reason"]
    with transaction(engine) as session:
        checks = session.scalars(
            select(AuditEntry).where(AuditEntry.kind == "identity_check").order_by(AuditEntry.id)
        )
        assert [json.loads(c.payload)["passed"] for c in checks] == [False] * 3


async def test_given_another_agents_call_out_of_tries_when_probed_then_answered_like_a_missing_one(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """Whose call is checked before a try is counted: once a call's three tries are used
    up, another agent probing its id gets the answer of a missing id, not the 429 that
    would tell it exists (nor does the probe hold one of its tries for a moment)."""
    betos_call = make_attempt(engine, seed.account_id, seed.users["beto"])
    token = await login(client, "beto")
    ws = await client.ws_connect("/ws/agent", headers={"Origin": origin(client)})
    await next_message(ws, "hello")
    states = AgentStates(aredis)
    await states.set_ready(seed.users["beto"])  # the call was made for him before (pending)
    assert await states.reserve(seed.users["beto"], betos_call)
    await states.talking(seed.users["beto"])
    await ws.close()
    wrong = [await verify(client, token, betos_call, account_last4="0000") for _ in range(4)]
    assert [r.status for r in wrong] == [422, 422, 422, 429]
    await client.post("/logout", headers={"X-CSRF-Token": token})
    token = await login(client, "ana")
    probe = await verify(client, token, betos_call)
    missing = await verify(client, token, 99999999)
    assert (probe.status, await probe.json()) == (missing.status, await missing.json())
    assert probe.status == 403


async def test_given_pop_for_other_agent_then_socket_receives_nothing(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    await login(client, "ana")
    ws = await client.ws_connect("/ws/agent", headers={"Origin": origin(client)})
    await next_message(ws, "hello")
    attempt = make_attempt(engine, seed.account_id, seed.users["beto"])
    bad = [b"not json", json.dumps({"type": "pop"}).encode()]
    for raw in bad:
        await aredis.publish(POPS_CHANNEL, raw)
    await Notifier(aredis).send(Pop(attempt, seed.users["beto"], seed.account_id, "mx-demo", 1.5))
    # Then one for her: the hub read the others before it (one channel, in order), so
    # the first pop her socket gets is hers, and nothing of Beto's came before it.
    hers = make_attempt(engine, seed.account_id, seed.users["ana"])
    await Notifier(aredis).send(Pop(hers, seed.users["ana"], seed.account_id, "mx-demo", 1.5))
    got = await next_message(ws, "pop", "preview")
    assert (got["type"], got["attempt_id"]) == ("pop", hers)
    await ws.close()


async def test_given_undisposed_call_when_going_ready_then_409_until_disposed(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    token = await login(client, "ana")
    attempt = make_attempt(engine, seed.account_id, seed.users["ana"])
    resp = await client.post("/api/agent/ready", headers={"X-CSRF-Token": token})
    assert resp.status == 409
    assert "Tipifique" in (await resp.json())["reason"]
    ok = await dispose(client, token, attempt_id=attempt, party="nadie", outcome="sin_contacto")
    assert ok.status == 200, await ok.text()
    assert (await client.post("/api/agent/ready", headers={"X-CSRF-Token": token})).status == 200


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"promise_amount": "12500.01", "promise_date": "2026-11-30"},
            "promise_amount",
            "mayor que el saldo",
        ),
        ({"promise_amount": "0", "promise_date": "2026-11-30"}, "promise_amount", "mayor que cero"),
        (
            {"promise_amount": "abc", "promise_date": "2026-11-30"},
            "promise_amount",
            "Escriba solo cifras",
        ),
        # MXN: "." is for cents. "2.450" was stored as 2.45 and "1,5" as 15.
        ({"promise_amount": "2.450", "promise_date": "2026-11-30"}, "promise_amount", "ambiguo"),
        (
            {"promise_amount": "1,5", "promise_date": "2026-11-30"},
            "promise_amount",
            "no es un monto",
        ),
        (
            {"promise_amount": "10.0001", "promise_date": "2026-11-30"},
            "promise_amount",
            "dos decimales",
        ),
        ({"promise_amount": "500", "promise_date": "2026-11-23"}, "promise_date", "pasado"),
        ({"promise_amount": "500", "promise_date": "2026-12-31"}, "promise_date", "máximo"),
        ({"promise_amount": "500", "promise_date": "mañana"}, "promise_date", "Indique la fecha"),
    ],
)
async def test_given_bad_promise_when_disposing_then_400_with_field_message_and_nothing_saved(
    client: TestClient, seed: Seed, engine: Engine, fields: dict, field: str, message: str
) -> None:
    token = await login(client, "ana")
    attempt = make_attempt(engine, seed.account_id, seed.users["ana"])
    resp = await dispose(
        client, token, attempt_id=attempt, party="titular", outcome="promesa_pago", **fields
    )
    assert resp.status == 400
    body = await resp.json()
    assert message in body["errors"][field]
    assert "no se guardó nada" in body["reason"]
    assert counts(engine) == (0, 0, 0)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"party": "", "outcome": "promesa_pago"}, "party"),
        ({"party": "jefe", "outcome": "promesa_pago"}, "party"),
        ({"party": "titular", "outcome": ""}, "outcome"),
        ({"party": "titular", "outcome": "inventado"}, "outcome"),
        ({"party": "nadie", "outcome": "promesa_pago"}, "outcome"),
        ({"party": "titular", "outcome": "rehusa", "notes": "x" * 4001}, "notes"),
    ],
)
async def test_given_bad_two_level_choice_when_disposing_then_400_and_nothing_saved(
    client: TestClient, seed: Seed, engine: Engine, fields: dict, field: str
) -> None:
    token = await login(client, "ana")
    attempt = make_attempt(engine, seed.account_id, seed.users["ana"])
    resp = await dispose(client, token, attempt_id=attempt, **fields)
    assert resp.status == 400
    assert field in (await resp.json())["errors"]
    assert counts(engine) == (0, 0, 0)


async def test_given_valid_promise_when_disposing_then_saved_held_and_out_of_the_hopper(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis, commands: list[dict]
) -> None:
    token = await login(client, "ana")
    agent_id = seed.users["ana"]
    attempt = make_attempt(engine, seed.account_id, agent_id)
    states = AgentStates(aredis)
    await states.login(agent_id, "mx-demo")
    await states.set_ready(agent_id)
    await states.reserve(agent_id, attempt)
    await states.talking(agent_id)
    fields = {"attempt_id": attempt, "party": "titular", "outcome": "promesa_pago",
              "promise_amount": "1500.50", "promise_date": "2026-12-05"}  # fmt: skip
    unverified = await dispose(client, token, **fields)
    assert unverified.status == 400
    assert "Verifique la identidad" in (await unverified.json())["errors"]["party"]
    assert counts(engine) == (0, 0, 0)
    assert (await verify(client, token, attempt)).status == 200
    fields |= {"promise_amount": "1,500.50", "notes": "Paga el viernes en BBVA"}
    # Read back before saving: nothing is written until the agent confirms this amount.
    readback = await dispose(client, token, **fields)
    assert readback.status == 409
    body = await readback.json()
    assert body["confirm"] == {
        "field": "promise_amount",
        "amount": "1500.50",
        "display": "$1,500.50 MXN",
    }
    assert body["reason"] == "Lea el monto al deudor y confírmelo: $1,500.50 MXN."
    stale = await dispose(client, token, **fields, promise_confirm="1500.00")
    assert stale.status == 409 and counts(engine) == (0, 0, 0)
    # Queued again meanwhile (an inbound call's account, say): the promise takes it out.
    hopper = Hopper(aredis, "mx-demo")
    await hopper.add([HopperEntry(seed.account_id, 1, NOW.timestamp(), {})], NOW.timestamp())
    resp = await dispose(client, token, **fields, promise_confirm="1500.50")
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["effect"] == "hold_until_promise"
    with transaction(engine) as session:
        promise = session.scalar(select(Promise))
        assert promise is not None and promise.amount == Decimal("1500.50")
        assert promise.agent_id == agent_id and promise.currency == "MXN"
        assert session.get(CallAttempt, attempt).right_party_contact is True  # type: ignore[union-attr]
        assert session.scalar(select(Note.text)) == "Paga el viernes en BBVA"
        kinds = set(session.scalars(select(AuditEntry.kind)))
        assert "disposition" in kinds
    # Saved with the debtor on the line (the row has no end): on the call until it ends.
    assert (await states.get(agent_id)).state is AgentState.talking
    # The hold is written with the disposition, in its transaction: no dial loop needed.
    with transaction(engine) as session:
        held = session.get(Account, seed.account_id).next_attempt_at  # type: ignore[union-attr]
        # The day after the promise, begun in Mexico City (06:00 UTC, not UTC's midnight).
        assert held == datetime(2026, 12, 6, 6, tzinfo=UTC)
        entry = session.scalars(select(AuditEntry).where(AuditEntry.kind == "disposition")).one()
        assert json.loads(entry.payload)["hold_until"].startswith("2026-12-06T06:00:00")
    assert await hopper.contains([seed.account_id]) == set()
    again = await dispose(client, token, attempt_id=attempt, party="nadie", outcome="sin_contacto")
    assert again.status == 400
    figures = await (await client.get("/api/agent/figures")).json()
    assert figures["figures"]["promises"] == 1
    assert figures["figures"]["promised_amount"] == "1500.50"
    assert figures["figures"]["promised_display"] == "$1,500.50 MXN"
    assert figures["figures"]["right_party_contacts"] == 1
    history = await (await client.get("/api/agent/history")).json()
    assert [(h["ref"], h["outcome"]) for h in history["history"]] == [
        ("MX-0001", "Promesa de pago")
    ]


async def test_given_colombian_account_when_promising_then_colombian_notation_in_cop(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    with transaction(engine) as session:
        account = session.get(Account, seed.account_id)
        assert account is not None
        account.country, account.currency, account.timezone = "CO", "COP", "America/Bogota"
    token = await login(client, "ana")
    attempt = make_attempt(engine, seed.account_id, seed.users["ana"])
    assert (await verify(client, token, attempt)).status == 200
    fields = {"attempt_id": attempt, "party": "titular", "outcome": "promesa_pago",
              "promise_amount": "1.500,50", "promise_date": "2026-11-30"}  # fmt: skip
    ambiguous = await dispose(client, token, **(fields | {"promise_amount": "1,500"}))
    assert "ambiguo" in (await ambiguous.json())["reason"] + str(
        (await ambiguous.json()).get("errors")
    )
    readback = await (await dispose(client, token, **fields)).json()
    assert readback["confirm"] == {
        "field": "promise_amount",
        "amount": "1500.50",
        "display": "$1.500,50 COP",
    }
    saved = await dispose(client, token, **fields, promise_confirm="1500.50")
    assert saved.status == 200, await saved.text()
    with transaction(engine) as session:
        promise = session.scalar(select(Promise))
        assert promise is not None and promise.amount == Decimal("1500.50")
        assert promise.currency == "COP"


async def test_given_do_not_contact_when_disposing_then_account_ceased_and_dialer_told(
    client: TestClient, seed: Seed, engine: Engine, commands: list[dict]
) -> None:
    token = await login(client, "ana")
    attempt = make_attempt(engine, seed.account_id, seed.users["ana"])
    resp = await dispose(client, token, attempt_id=attempt, party="titular", outcome="no_contactar")
    assert resp.status == 200
    with transaction(engine) as session:
        assert session.get(Account, seed.account_id).status == "cease_contact"  # type: ignore[union-attr]
    await until(
        lambda: any(
            c.get("type") == "stop_account" and c.get("account_id") == seed.account_id
            for c in commands
        )
    )
    drop = next(
        c
        for c in commands
        if c.get("type") == "stop_account" and c.get("account_id") == seed.account_id
    )
    assert drop["account_id"] == seed.account_id and drop["reason"] == "cease_contact"


async def test_given_wrong_number_when_disposing_then_number_stopped_and_queued_entry_dropped(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    token = await login(client, "ana")
    attempt = make_attempt(engine, seed.account_id, seed.users["ana"])
    # Queued again meanwhile: the entry would only be claimed to be blocked.
    hopper = Hopper(aredis, "mx-demo")
    await hopper.add([HopperEntry(seed.account_id, 1, NOW.timestamp(), {})], NOW.timestamp())
    resp = await dispose(
        client, token, attempt_id=attempt, party="tercero", outcome="numero_equivocado"
    )
    assert resp.status == 200
    with transaction(engine) as session:
        assert session.get(Phone, seed.phone_id).status == "wrong_number"  # type: ignore[union-attr]
    assert await hopper.contains([seed.account_id]) == set()


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("2026-11-24T23:30", "fuera del horario"),  # 23:30 in Mexico City
        ("2026-11-24T10:00", "ya pasó"),  # before NOW (11:00 local)
        ("pronto", "Indique la fecha y hora"),
        # Past what datetime holds once the debtor's zone is applied (an OverflowError).
        ("9999-12-31T23:59", "Indique la fecha y hora"),
    ],
)
async def test_given_bad_callback_time_when_disposing_then_400_and_nothing_saved(
    client: TestClient, seed: Seed, engine: Engine, when: str, message: str
) -> None:
    token = await login(client, "ana")
    attempt = make_attempt(engine, seed.account_id, seed.users["ana"])
    resp = await dispose(
        client,
        token,
        attempt_id=attempt,
        party="titular",
        outcome="volver_llamar",
        callback_at=when,
    )
    assert resp.status == 400
    assert message in (await resp.json())["errors"]["callback_at"]
    assert counts(engine) == (0, 0, 0)


async def test_given_callback_in_hours_when_disposing_then_personal_callback_listed(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    token = await login(client, "ana")
    attempt = make_attempt(engine, seed.account_id, seed.users["ana"])
    resp = await dispose(
        client,
        token,
        attempt_id=attempt,
        party="titular",
        outcome="volver_llamar",
        callback_at="2026-11-25T10:30",
        callback_scope="personal",
    )
    assert resp.status == 200, await resp.text()
    with transaction(engine) as session:
        cb = session.scalar(select(Callback))
        assert cb is not None and cb.agent_id == seed.users["ana"]
        assert cb.due_at == NOW.replace(day=25, hour=16, minute=30)  # 10:30 CST = 16:30 UTC
    listed = await (await client.get("/api/agent/callbacks")).json()
    assert [c["ref"] for c in listed["callbacks"]] == ["MX-0001"]
    # The callback lets the agent open the account again.
    assert (await client.get(f"/api/agent/accounts/{seed.account_id}")).status == 200


async def test_given_quintana_roo_debtor_with_cdmx_number_then_shown_and_scheduled_in_cancun(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    """compliance/timezones.py's resolver: the region (MX-ROO) beats the number's
    prefix (55, Mexico City); Cancun is UTC-5 all year, an hour off CDMX in winter."""
    with transaction(engine) as session:
        account = session.get(Account, seed.account_id)
        assert account is not None
        account.timezone, account.region = None, "ROO"
    token = await login(client, "ana")
    attempt = make_attempt(engine, seed.account_id, seed.users["ana"])
    pop = (await (await client.get("/api/agent/current")).json())["pop"]
    assert pop["local_time"]["zone"] == "America/Cancun" and pop["local_time"]["time"] == "12:00"
    assert pop["local_time"]["zone_label"] == "Cancún"  # what the agent reads: no IANA id
    assert pop["attempts"][0]["at"] == {
        "utc": "2026-11-24T16:58+00:00", "local": "2026-11-24 11:58", "zone": "America/Cancun",
        "shown": "24 nov 2026, 11:58", "zone_label": "Cancún",
    }  # fmt: skip
    resp = await dispose(client, token, attempt_id=attempt, party="titular",
                         outcome="volver_llamar", callback_at="2026-11-25T11:00")  # fmt: skip
    assert resp.status == 200, await resp.text()
    with transaction(engine) as session:
        cb = session.scalar(select(Callback))
        assert cb is not None and cb.due_at == NOW.replace(day=25, hour=16)  # 11:00 EST
    listed = await (await client.get("/api/agent/callbacks")).json()
    # Listed as agreed: 11:00 in the debtor's zone, labelled (not 16:00 UTC).
    assert listed["callbacks"][0]["due"] == {
        "utc": "2026-11-25T16:00+00:00", "local": "2026-11-25 11:00", "zone": "America/Cancun",
        "shown": "25 nov 2026, 11:00", "zone_label": "Cancún",
    }  # fmt: skip
    history = (await (await client.get("/api/agent/history")).json())["history"]
    assert history[0]["at"]["zone"] == "America/Cancun"
    assert history[0]["at"]["zone_label"] == "Cancún"


async def test_given_a_region_of_several_zones_called_at_a_number_when_popped_then_the_time_named_by_its_own_zone_and_the_other_clocks_beside(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    """Chihuahua (MX-CHH) has three zones; the time shown is the first's (Chihuahua,
    UTC−6), so its label names that zone alone (the old one listed all three beside one
    clock), and the clocks the rules also check this call in are said beside it:
    Ciudad Juárez, an hour behind in November; Ojinaga and the number's Mexico City
    share Chihuahua's clock and add nothing."""
    with transaction(engine) as session:
        account = session.get(Account, seed.account_id)
        assert account is not None
        account.timezone, account.region = None, "CHH"
    await login(client, "ana")
    make_attempt(engine, seed.account_id, seed.users["ana"])
    pop = (await (await client.get("/api/agent/current")).json())["pop"]
    local = pop["local_time"]
    assert (local["time"], local["zone_label"]) == ("11:00", "Chihuahua")
    assert local["also"] == "10:00 (Ciudad Juárez)"
    assert local["zone"] == "America/Chihuahua, America/Ciudad_Juarez, America/Ojinaga"


async def test_given_a_quintana_roo_debtor_called_at_a_mexico_city_number_then_that_clock_said_too(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    with transaction(engine) as session:
        account = session.get(Account, seed.account_id)
        assert account is not None
        account.timezone, account.region = None, "ROO"
    await login(client, "ana")
    make_attempt(engine, seed.account_id, seed.users["ana"])
    local = (await (await client.get("/api/agent/current")).json())["pop"]["local_time"]
    assert (local["time"], local["zone_label"]) == ("12:00", "Cancún")
    assert local["also"] == "11:00 (Ciudad de México)"  # the rules check the number's zone too
    local = (await (await client.get("/api/agent/current?lang=en")).json())["pop"]["local_time"]
    assert (local["zone_label"], local["also"]) == ("Cancún", "11:00 (Mexico City)")


def test_given_missed_personal_callback_when_releasing_then_open_to_campaign_and_audited(
    engine: Engine, seed: Seed
) -> None:
    with transaction(engine) as session:
        session.add(
            Callback(
                account_id=seed.account_id,
                agent_id=seed.users["ana"],
                due_at=NOW - timedelta(minutes=30),
                campaign_id=seed.campaign_id,
            )
        )
        session.add(
            Callback(
                account_id=seed.other_account_id,
                agent_id=seed.users["ana"],
                due_at=NOW + timedelta(minutes=30),
                campaign_id=seed.campaign_id,
            )
        )
    assert agent_service.release_missed_callbacks(engine, NOW) == 1
    with transaction(engine) as session:
        rows = {c.account_id: c for c in session.scalars(select(Callback))}
        missed = rows[seed.account_id]
        assert missed.status == "pending" and missed.agent_id is None
        audit = session.scalar(select(AuditEntry).where(AuditEntry.kind == "callback"))
        assert audit is not None and "missed_released" in audit.payload
        assert rows[seed.other_account_id].status == "pending"


async def test_given_call_in_progress_when_hangup_and_transfer_then_commands_published(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis, commands: list[dict]
) -> None:
    token = await login(client, "ana")
    agent_id = seed.users["ana"]
    assert (await client.post("/api/agent/hangup", headers={"X-CSRF-Token": token})).status == 409
    attempt = make_attempt(engine, seed.account_id, agent_id)
    states = AgentStates(aredis)
    await states.login(agent_id, "mx-demo")
    await states.set_ready(agent_id)
    await states.reserve(agent_id, attempt)
    await states.talking(agent_id)
    for kind in ("hangup", "transfer"):
        resp = await client.post(f"/api/agent/{kind}", headers={"X-CSRF-Token": token})
        assert resp.status == 200

    def ours() -> set[tuple[str, int, int]]:
        # Pub/sub channels are shared by every Redis database: keep only ours.
        return {
            (c["type"], c["attempt_id"], c["agent_id"])
            for c in commands
            if c.get("agent_id") == agent_id and c.get("type") in ("hangup", "transfer")
        }

    await until(lambda: len(ours()) >= 2)
    assert ours() == {("hangup", attempt, agent_id), ("transfer", attempt, agent_id)}


async def test_given_the_call_over_and_the_agent_in_wrap_up_when_a_stale_page_hangs_up_or_transfers_then_409_says_so(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis, commands: list[dict]
) -> None:
    from console.agent_views import CALL_OVER

    token = await login(client, "ana")
    agent_id = seed.users["ana"]
    attempt = make_attempt(engine, seed.account_id, agent_id)
    states = AgentStates(aredis)
    await states.login(agent_id, "mx-demo")
    await states.set_ready(agent_id)
    await states.reserve(agent_id, attempt)
    await states.talking(agent_id)
    await states.wrap_up(agent_id)  # the debtor hung up: the dialer moved the agent
    for kind in ("hangup", "transfer", "recording/start", "recording/stop"):
        for lang, words in (("es", CALL_OVER), ("en", "The call has ended")):
            resp = await client.post(
                f"/api/agent/{kind}?lang={lang}", headers={"X-CSRF-Token": token}
            )
            assert resp.status == 409, (kind, await resp.text())
            assert (await resp.json())["reason"].startswith(words), kind
    # Nothing went to a dialer: the ended call's channel is not touched.
    assert not [c for c in commands if c.get("agent_id") == agent_id]


async def test_given_hangup_or_transfer_when_the_dialer_could_not_do_it_then_the_agent_is_told(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis, commands
) -> None:  # type: ignore[no-untyped-def]
    from console.agent_views import NOT_CONFIRMED, NOT_DONE
    from dialer.command_replies import ASTERISK, NO_AGENT, Reply

    token = await login(client, "ana")
    agent_id = seed.users["ana"]
    attempt = make_attempt(engine, seed.account_id, agent_id)
    states = AgentStates(aredis)
    await states.login(agent_id, "mx-demo")
    await states.set_ready(agent_id)
    await states.reserve(agent_id, attempt)
    await states.talking(agent_id)
    headers = {"X-CSRF-Token": token}
    # Done and confirmed by the dialer holding the call.
    resp = await client.post("/api/agent/hangup", headers=headers)
    assert resp.status == 200 and (await resp.json())["confirmed"] is True
    # Asterisk refused the Hangup: the call is still up, and the agent reads so.
    commands.reply = Reply(False, ASTERISK)
    resp = await client.post("/api/agent/hangup", headers=headers)
    assert resp.status == 502 and (await resp.json())["reason"] == NOT_DONE[ASTERISK]
    commands.reply = Reply(False, NO_AGENT)
    resp = await client.post("/api/agent/transfer", headers=headers)
    assert resp.status == 409 and (await resp.json())["reason"] == NOT_DONE[NO_AGENT]
    # A dialer heard it and none holds the call: not "sent", not confirmed.
    commands.reply = None
    resp = await client.post("/api/agent/hangup", headers=headers)
    assert resp.status == 504 and (await resp.json())["reason"] == NOT_CONFIRMED


async def test_given_pause_reasons_when_pausing_then_unknown_reason_refused(
    client: TestClient,
) -> None:
    token = await login(client, "ana")
    bad = await client.post(
        "/api/agent/pause", json={"reason": "siesta"}, headers={"X-CSRF-Token": token}
    )
    assert bad.status == 400
    good = await client.post(
        "/api/agent/pause", json={"reason": "comida"}, headers={"X-CSRF-Token": token}
    )
    assert good.status == 200
    assert (await good.json())["state"]["reason"] == "comida"


async def test_given_preview_pop_when_agent_chooses_to_call_then_preview_dial_published(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis, commands: list[dict]
) -> None:
    with transaction(engine) as session:
        from store.models import Campaign

        session.get(Campaign, seed.campaign_id).dial_mode = "preview"  # type: ignore[union-attr]
    token = await login(client, "ana")
    ws = await client.ws_connect("/ws/agent", headers={"Origin": origin(client)})
    await ws.receive_json(timeout=5)
    agent_id = seed.users["ana"]
    assert (
        await client.post("/api/agent/preview/request", headers={"X-CSRF-Token": token})
    ).status == 200
    preview = PreviewOffer(agent_id, seed.other_account_id, "mx-demo", published_at=1.5)
    await Notifier(aredis).send(preview)
    got = await next_message(ws, "preview")
    assert got["account"]["name"] == "Juan Pérez"
    wrong = await client.post(
        "/api/agent/preview/dial",
        json={"account_id": seed.account_id},
        headers={"X-CSRF-Token": token},
    )
    assert wrong.status == 403
    resp = await client.post(
        "/api/agent/preview/dial",
        json={"account_id": seed.other_account_id},
        headers={"X-CSRF-Token": token},
    )
    assert resp.status == 200
    await until(lambda: any(c.get("type") == "preview_dial" for c in commands))
    assert any(c.get("type") == "preview_request" for c in commands)
    await ws.close()


async def test_given_json_body_that_is_not_an_object_when_posting_then_400(
    client: TestClient,
) -> None:
    token = await login(client, "ana")
    resp = await client.post(
        "/api/agent/disposition",
        data="[1,2]",
        headers={"X-CSRF-Token": token, "Content-Type": "application/json"},
    )
    assert resp.status == 400
    resp = await client.post(
        "/api/agent/disposition",
        data="{bad",
        headers={"X-CSRF-Token": token, "Content-Type": "application/json"},
    )
    assert resp.status == 400
    resp = await client.post(
        "/api/agent/disposition", json={"attempt_id": "x"}, headers={"X-CSRF-Token": token}
    )
    assert resp.status == 400


async def test_given_call_given_by_dialer_before_row_has_agent_then_only_that_agent_may_use_it(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    """The dialer writes the row's agent at the end of the call; during the call
    the agent's Redis state is what ties the call to the agent."""
    attempt = make_attempt(engine, seed.account_id, None)
    states = AgentStates(aredis)
    beto = seed.users["beto"]
    await states.login(beto, "mx-demo")
    await states.set_ready(beto)
    assert await states.reserve(beto, attempt)
    await states.talking(beto)
    token = await login(client, "ana")
    assert (await client.get(f"/api/agent/accounts/{seed.account_id}")).status == 403
    denied = await dispose(client, token, attempt_id=attempt, party="nadie", outcome="sin_contacto")
    assert denied.status == 403
    assert (await verify(client, token, attempt)).status == 403
    await client.post("/logout", data={"_csrf": token})
    token = await login(client, "beto")
    assert (await client.get(f"/api/agent/accounts/{seed.account_id}")).status == 200
    current = await (await client.get("/api/agent/current")).json()
    assert current["pop"]["attempt_id"] == attempt
    refused = await client.post("/api/agent/ready", headers={"X-CSRF-Token": token})
    assert refused.status == 409
    assert (await verify(client, token, attempt)).status == 200
    ok = await dispose(client, token, attempt_id=attempt, party="titular", outcome="rehusa")
    assert ok.status == 200, await ok.text()
    with transaction(engine) as session:
        assert session.get(CallAttempt, attempt).agent_id == beto  # type: ignore[union-attr]


async def test_given_dialer_changes_agent_state_then_agent_socket_is_told(
    client: TestClient, seed: Seed, aredis: aioredis.Redis
) -> None:
    token = await login(client, "ana")
    ws = await client.ws_connect("/ws/agent", headers={"Origin": origin(client)})
    await next_message(ws, "hello")
    assert (await client.post("/api/agent/ready", headers={"X-CSRF-Token": token})).status == 200
    states = AgentStates(aredis)
    assert await states.reserve(seed.users["ana"], 77)
    seen = []
    for _ in range(10):
        msg = await ws.receive_json(timeout=5)
        if msg["type"] == "state" and msg["state"]["agent_id"] == seed.users["ana"]:
            seen.append(msg["state"]["state"])
            if msg["state"]["state"] == "reserved":
                break
    assert seen[-1] == "reserved"
    await ws.close()


async def pause_as(client: TestClient, token: str, reason: str = "comida") -> dict:  # type: ignore[type-arg]
    resp = await client.post(
        "/api/agent/pause", json={"reason": reason}, headers={"X-CSRF-Token": token}
    )
    assert resp.status == 200
    return dict((await resp.json())["state"])


async def test_given_a_call_ringing_on_the_floor_when_a_ready_agent_pauses_then_pausing_and_may_take_it_back(
    client: TestClient, seed: Seed, aredis: aioredis.Redis
) -> None:
    import time

    from dialer.call_state import Call
    from dialer.floor import SharedFloor

    token = await login(client, "ana")
    states = AgentStates(aredis)
    await states.login(seed.users["ana"], "mx-demo")
    await states.set_ready(seed.users["ana"])
    await SharedFloor(aredis, "mx-demo", "d1").publish([Call(1, 2, dialed_at=time.time() - 3)])
    state = await pause_as(client, token)
    assert (state["state"], state["reason"]) == ("pausing", "comida")
    assert state["pause_deadline"] == pytest.approx(state["since"] + 37.0)
    headers = {"X-CSRF-Token": token}
    back = await client.post("/api/agent/pause/cancel", headers=headers)
    assert back.status == 200 and (await back.json())["state"]["state"] == "ready"
    again = await client.post("/api/agent/pause/cancel", headers=headers)
    assert again.status == 409 and (await again.json())["reason"]


async def test_given_nothing_in_flight_when_a_ready_agent_pauses_then_paused_at_once(
    client: TestClient, seed: Seed, aredis: aioredis.Redis
) -> None:
    token = await login(client, "ana")
    states = AgentStates(aredis)
    await states.login(seed.users["ana"], "mx-demo")
    await states.set_ready(seed.users["ana"])
    # No dialer published its calls and SQL holds none open: nothing can ring.
    assert (await pause_as(client, token))["state"] == "paused"


async def test_given_no_dialer_on_the_floor_but_a_call_open_in_sql_when_pausing_then_the_bounded_wait(
    client: TestClient, seed: Seed, engine: Engine, aredis: aioredis.Redis
) -> None:
    # The floor's keys are gone (a Redis flush, every dialer restarting) while a call
    # placed a moment ago may still ring: assumed to ring, for the bounded wait.
    make_attempt(engine, seed.account_id, None, started_at=datetime.now(UTC), result=None,
                 answered_at=None, bridged_at=None)  # fmt: skip
    token = await login(client, "ana")
    states = AgentStates(aredis)
    await states.login(seed.users["ana"], "mx-demo")
    await states.set_ready(seed.users["ana"])
    state = await pause_as(client, token)
    assert state["state"] == "pausing"
    assert state["pause_deadline"] == pytest.approx(state["since"] + 37.0)


async def test_given_an_agent_in_a_call_when_pausing_then_the_pause_is_kept_for_after_it(
    client: TestClient, seed: Seed, aredis: aioredis.Redis
) -> None:
    # Before, the console refused a pause during a call (409): an agent whose break was
    # due had to wait for the wrap-up, unseen by the dialer. Now it is asked at once.
    token = await login(client, "ana")
    agent = seed.users["ana"]
    states = AgentStates(aredis)
    await states.login(agent, "mx-demo")
    await states.set_ready(agent)
    assert await states.reserve(agent, 77)
    await states.talking(agent, 77)
    state = await pause_as(client, token)
    assert (state["state"], state["pause_after"]) == ("talking", "comida")
    headers = {"X-CSRF-Token": token}
    back = await client.post("/api/agent/pause/cancel", headers=headers)
    assert back.status == 200 and (await back.json())["state"]["pause_after"] == ""
    await pause_as(client, token, "comida")
    await states.wrap_up(agent)
    ready = await client.post("/api/agent/ready", headers=headers)
    assert ready.status == 200
    assert ((await ready.json())["state"]["state"], (await states.get(agent)).reason) == (
        "paused",
        "comida",
    )
