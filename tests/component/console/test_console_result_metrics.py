"""The console's /metrics move with what agents do, not only on the synthetic floor:
dispositions, right-party contacts (by the debtor's local hour too), promises and their
amount, the agents' open sockets. The Collections results and contact-by-hour
dashboards read these."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from console_fixtures import Seed, login, make_attempt, origin
from sqlalchemy import Engine, update
from support.polling import until

from metrics.definitions import REGISTRY
from metrics.roles import CONSOLE, registry_for
from store.db import transaction
from store.models import Account

MX = {"campaign": "mx-demo", "country": "MX"}
# The call began at 16:58 UTC (console_fixtures.make_attempt): 10:58 in Mexico City.
JALISCO_AT_10 = {"country": "MX", "region": "MX-JAL", "hour": "10"}


def value(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def results() -> dict[str, float]:
    return {
        "promise": value("cobrador_dispositions_total",
                         {"campaign": "mx-demo", "outcome": "promesa_pago"}),
        "refusal": value("cobrador_dispositions_total",
                         {"campaign": "mx-demo", "outcome": "rehusa"}),
        "rpc": value("cobrador_right_party_contacts_total", MX),
        "rpc_hour": value("cobrador_local_hour_right_party_contacts_total", JALISCO_AT_10),
        "promises": value("cobrador_promises_made_total", MX),
        "amount": value("cobrador_promised_amount_total", MX),
    }  # fmt: skip


async def dispose(client: TestClient, token: str, **fields: object):  # type: ignore[no-untyped-def]
    return await client.post("/api/agent/disposition", json=fields, headers={"X-CSRF-Token": token})


async def verify(client: TestClient, token: str, attempt: int):  # type: ignore[no-untyped-def]
    body = {"attempt_id": attempt, "party": "titular",
            "answer_full_name": "maría lópez  hernández", "answer_account_last4": "0001"}  # fmt: skip
    return await client.post("/api/agent/verify", json=body, headers={"X-CSRF-Token": token})


async def test_given_a_promise_disposed_then_the_results_metrics_count_it_once(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    with transaction(engine) as s:
        s.execute(update(Account).where(Account.id == seed.account_id).values(region="JAL"))
    token = await login(client, "ana")
    attempt = make_attempt(engine, seed.account_id, seed.users["ana"])
    before = results()
    fields = {"attempt_id": attempt, "party": "titular", "outcome": "promesa_pago",
              "promise_amount": "1500.50", "promise_date": "2026-12-05"}  # fmt: skip
    # Refused (not verified, then the amount not read back): nothing counted.
    assert (await dispose(client, token, **fields)).status == 400
    assert (await verify(client, token, attempt)).status == 200
    assert (await dispose(client, token, **fields)).status == 409
    assert results() == before
    saved = await dispose(client, token, **fields, promise_confirm="1500.50")
    assert saved.status == 200, await saved.text()
    after = results()
    assert after == before | {
        "promise": before["promise"] + 1,
        "rpc": before["rpc"] + 1,
        "rpc_hour": before["rpc_hour"] + 1,
        "promises": before["promises"] + 1,
        "amount": before["amount"] + 1500.50,
    }
    # A second disposition of the same call is refused and counts nothing.
    assert (await dispose(client, token, **fields, promise_confirm="1500.50")).status == 400
    assert results() == after
    # The console's own /metrics serves them (metrics/roles.py).
    served = {metric.name for metric in registry_for(CONSOLE).collect()}
    assert {"cobrador_dispositions", "cobrador_right_party_contacts",
            "cobrador_local_hour_right_party_contacts", "cobrador_promises_made",
            "cobrador_promised_amount"} <= served  # fmt: skip


async def test_given_a_third_party_call_disposed_then_an_outcome_but_no_right_party(
    client: TestClient, seed: Seed, engine: Engine
) -> None:
    token = await login(client, "ana")
    attempt = make_attempt(engine, seed.account_id, seed.users["ana"])
    before = results()
    wrong = {"campaign": "mx-demo", "outcome": "numero_equivocado"}
    wrong_before = value("cobrador_dispositions_total", wrong)
    resp = await dispose(client, token, attempt_id=attempt, party="tercero",
                         outcome="numero_equivocado")  # fmt: skip
    assert resp.status == 200, await resp.text()
    assert value("cobrador_dispositions_total", wrong) == wrong_before + 1
    assert results() == before


async def test_given_agent_sockets_opened_and_closed_then_the_open_gauge_follows(
    client: TestClient, seed: Seed
) -> None:
    await login(client, "ana")
    before = value("cobrador_console_websocket_connections")
    first = await client.ws_connect("/ws/agent", headers={"Origin": origin(client)})
    second = await client.ws_connect("/ws/agent", headers={"Origin": origin(client)})
    # Registered before its hello is sent (state events may come between).
    for ws in (first, second):
        while (await ws.receive_json())["type"] != "hello":
            pass
    assert value("cobrador_console_websocket_connections") == before + 2
    await first.close()
    await until(lambda: value("cobrador_console_websocket_connections") == before + 1,
                "the closed socket uncounted")  # fmt: skip
    await second.close()
    await until(lambda: value("cobrador_console_websocket_connections") == before,
                "both sockets uncounted")  # fmt: skip
