"""Who may see what: every route for every role, and the agent's account rules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from console_fixtures import Seed, login, make_attempt, origin
from multidict import CIMultiDict
from sqlalchemy import Engine

from cobrador.ground.settings import Settings
from console.app import init_app

AGENT, SUPERVISOR, AUDITOR = "agent", "supervisor", "auditor"
GET_ROUTES = [
    ("/agent", AGENT),
    ("/api/agent/state", AGENT),
    ("/api/agent/current", AGENT),
    ("/api/agent/figures", AGENT),
    ("/api/agent/callbacks", AGENT),
    ("/api/agent/history", AGENT),
    ("/supervisor", SUPERVISOR),
    ("/api/wallboard?campaign=mx-demo", SUPERVISOR),
    ("/auditor", AUDITOR),
    ("/auditor?account_ref=MX-0001", AUDITOR),
    ("/auditor/decisions", AUDITOR),
    ("/auditor/chain", AUDITOR),
    ("/auditor/attempts.csv?account_ref=MX-0001", AUDITOR),
    ("/auditor/decisions.jsonl?account_ref=MX-0001", AUDITOR),
]
USERS = {"ana": AGENT, "sofia": SUPERVISOR, "raul": AUDITOR, "root": "admin"}


@pytest.mark.parametrize("username", list(USERS))
async def test_given_each_role_when_getting_each_route_then_allowed_only_to_its_role_and_admin(
    client: TestClient, username: str
) -> None:
    await login(client, username)
    role = USERS[username]
    for path, allowed_role in GET_ROUTES:
        resp = await client.get(path, allow_redirects=False)
        expected = 200 if role in (allowed_role, "admin") else 403
        assert resp.status == expected, (username, path, resp.status)


async def test_given_no_session_when_getting_pages_then_redirect_to_login_and_apis_401(
    client: TestClient,
) -> None:
    for path, _role in GET_ROUTES:
        resp = await client.get(path, allow_redirects=False)
        if path.startswith("/api/") or ".csv" in path or ".jsonl" in path:
            assert resp.status == 401, path
        else:
            assert resp.status == 302, path
            assert resp.headers["Location"].startswith("/login")


async def test_given_agent_when_posting_supervisor_control_then_403_and_nothing_changes(
    client: TestClient, seed: Seed
) -> None:
    token = await login(client, "ana")
    resp = await client.post(
        f"/supervisor/campaigns/{seed.campaign_id}",
        data={"_csrf": token, "action": "start"},
        allow_redirects=False,
    )
    assert resp.status == 403


async def test_given_no_session_when_opening_websocket_then_403(client: TestClient) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
        await client.ws_connect("/ws/agent", headers={"Origin": origin(client)})
    assert exc.value.status == 403
    with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
        await client.ws_connect(
            "/ws/wallboard?campaign=mx-demo", headers={"Origin": origin(client)}
        )
    assert exc.value.status == 403


async def test_given_session_when_websocket_comes_from_another_origin_then_403(
    client: TestClient,
) -> None:
    await login(client, "ana")
    with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
        await client.ws_connect("/ws/agent", headers={"Origin": "https://evil.example"})
    assert exc.value.status == 403
    with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
        await client.ws_connect("/ws/agent")  # no Origin at all
    assert exc.value.status == 403


async def test_given_agent_websocket_from_own_origin_then_hello_with_state(
    client: TestClient,
) -> None:
    await login(client, "ana")
    ws = await client.ws_connect("/ws/agent", headers={"Origin": origin(client)})
    hello = await ws.receive_json(timeout=5)
    while hello["type"] == "state":  # a state event may come first
        hello = await ws.receive_json(timeout=5)
    assert hello["type"] == "hello"
    assert hello["state"]["campaign"] == "mx-demo"
    await ws.close()


async def test_given_supervisor_websocket_from_other_origin_then_403(client: TestClient) -> None:
    await login(client, "sofia")
    with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
        await client.ws_connect(
            "/ws/wallboard?campaign=mx-demo", headers={"Origin": "http://127.0.0.1:1"}
        )
    assert exc.value.status == 403


async def test_given_account_popped_to_another_agent_when_agent_reads_it_then_403(
    client: TestClient, seed: Seed, engine
) -> None:
    make_attempt(engine, seed.account_id, seed.users["beto"])
    make_attempt(engine, seed.other_account_id, seed.users["ana"])
    await login(client, "ana")
    other = await client.get(f"/api/agent/accounts/{seed.account_id}")
    assert other.status == 403
    assert "no le fue asignada" in (await other.json())["reason"]
    mine = await client.get(f"/api/agent/accounts/{seed.other_account_id}")
    assert mine.status == 200
    assert (await mine.json())["account"]["account"]["name"] == "Juan Pérez"


async def test_given_unknown_or_bad_account_id_when_agent_reads_it_then_4xx_not_500(
    client: TestClient,
) -> None:
    await login(client, "ana")
    assert (await client.get("/api/agent/accounts/999999")).status == 403
    assert (await client.get("/api/agent/accounts/abc")).status == 400
    assert (await client.get("/api/agent/accounts/-1")).status == 400


async def test_given_another_agents_call_when_disposing_it_then_403_and_nothing_saved(
    client: TestClient, seed: Seed, engine
) -> None:
    attempt = make_attempt(engine, seed.account_id, seed.users["beto"])
    token = await login(client, "ana")
    resp = await client.post(
        "/api/agent/disposition",
        json={"attempt_id": attempt, "party": "nadie", "outcome": "sin_contacto"},
        headers={"X-CSRF-Token": token},
    )
    assert resp.status == 403


async def test_given_another_agents_account_or_call_then_the_same_answer_as_a_missing_id(
    client: TestClient, seed: Seed, engine
) -> None:
    """An agent cannot tell an id that exists (another agent's account or call) from one
    that does not: every agent route that takes an id answers both alike."""
    betos_call = make_attempt(engine, seed.account_id, seed.users["beto"])
    token = await login(client, "ana")
    headers = {"X-CSRF-Token": token}

    async def answer(method: str, url: str, body: dict[str, object] | None) -> object:
        resp = await client.request(method, url, json=body, headers=headers)
        return resp.status, await resp.json()

    by_account = [
        ("GET", "/api/agent/accounts/{}", None),
        ("GET", "/api/agent/accounts/{}/others", None),
        ("POST", "/api/agent/notes", {"account_id": "{}", "text": "hola"}),
        ("POST", "/api/agent/preview/dial", {"account_id": "{}"}),
        ("POST", "/api/agent/preview/skip", {"account_id": "{}"}),
    ]
    by_attempt = [
        ("POST", "/api/agent/verify", {"attempt_id": "{}", "party": "titular"}),
        ("POST", "/api/agent/disposition", {"attempt_id": "{}", "outcome": "sin_contacto"}),
        ("POST", "/api/agent/plan/preview", {"attempt_id": "{}"}),
        ("POST", "/api/agent/portal/unlock", {"attempt_id": "{}"}),
    ]
    for routes, existing in ((by_account, seed.account_id), (by_attempt, betos_call)):
        for method, url, body in routes:
            seen = []
            for probe in (existing, 99999999):
                filled = {k: (int(v.format(probe)) if v == "{}" else v)
                          for k, v in (body or {}).items()}  # fmt: skip
                seen.append(await answer(method, url.format(probe), filled if body else None))
            assert seen[0] == seen[1], (url, seen)
            assert seen[0][0] in (403, 404), (url, seen)  # type: ignore[index]


async def test_given_agent_when_adding_note_to_foreign_account_then_403(
    client: TestClient, seed: Seed
) -> None:
    token = await login(client, "ana")
    resp = await client.post(
        "/api/agent/notes",
        json={"account_id": seed.account_id, "text": "hola"},
        headers={"X-CSRF-Token": token},
    )
    assert resp.status == 403


@pytest.mark.parametrize(
    ("lines", "passes"),
    [
        (("https", "http"), False),  # the client's https line, then the proxy's http
        (("http", "https"), True),  # the client's http line, then the TLS proxy's https
        (("https, http",), False),
    ],
)
async def test_given_several_forwarded_proto_lines_then_the_proxys_last_value_decides(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, engine: Engine,
    aredis: aioredis.Redis, seed: Seed, clock: Callable[[], datetime],
    lines: tuple[str, ...], passes: bool,
) -> None:  # fmt: skip
    """Only the first X-Forwarded-Proto line was read: behind a proxy that adds its own
    line, a client on plain HTTP that sent `X-Forwarded-Proto: https` was believed."""
    proxied = await aiohttp_client(init_app(
        settings.with_overrides(trusted_proxies="127.0.0.1, ::1"), engine, aredis, clock=clock))  # fmt: skip
    await login(proxied, "ana")
    headers = CIMultiDict([("Origin", origin(proxied).replace("http://", "https://"))])
    for line in lines:
        headers.add("X-Forwarded-Proto", line)
    if passes:
        ws = await proxied.ws_connect("/ws/agent", headers=headers)
        await ws.close()
    else:
        with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
            await proxied.ws_connect("/ws/agent", headers=headers)
        assert exc.value.status == 403


async def test_given_a_tls_proxy_the_operator_trusts_then_the_socket_from_https_passes(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, engine: Engine,
    aredis: aioredis.Redis, seed: Seed, clock: Callable[[], datetime],
) -> None:  # fmt: skip
    """Behind a TLS proxy the browser's Origin is https://host while the console sees
    http: the trusted proxy's X-Forwarded-Proto says the browser's scheme. Untrusted
    (trusted_proxies unset, the default) the header changes nothing."""
    direct = await aiohttp_client(init_app(settings, engine, aredis, clock=clock))
    proxied = await aiohttp_client(init_app(
        settings.with_overrides(trusted_proxies="127.0.0.1, ::1"), engine, aredis, clock=clock))  # fmt: skip
    for client, status in ((direct, 403), (proxied, None)):
        await login(client, "ana")
        https_origin = origin(client).replace("http://", "https://")
        headers = {"Origin": https_origin, "X-Forwarded-Proto": "https"}
        if status is None:
            ws = await client.ws_connect("/ws/agent", headers=headers)
            await ws.close()
        else:
            with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
                await client.ws_connect("/ws/agent", headers=headers)
            assert exc.value.status == status
    # Through the proxy, a plain-http Origin no longer matches what the browser used.
    with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
        await proxied.ws_connect("/ws/agent", headers={"Origin": origin(proxied),
                                                       "X-Forwarded-Proto": "https"})  # fmt: skip
    assert exc.value.status == 403
