"""The browser phone's API: per-session SIP credentials, the PJSIP file Asterisk
reads, renewals, expiry, logout, roles, and hold — with a fake of AMI."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from console_fixtures import NOW, PASSWORD, Seed, login
from sqlalchemy import Engine
from support.polling import until
from test_console_auth import forged_cookie

from cobrador.ground.settings import Settings
from console.app import init_app
from console.phone.credentials import CREDENTIALS_KEY, CredentialStore
from console.phone.pbx import PhonePbxError
from console.phone.provisioner import Provisioner
from console.phone.service import PhoneConfig, PhoneService
from console.phone.views import PHONE, build_service
from dialer.agent_state import AgentStates

WS_URL = "ws://127.0.0.1:8088/ws"
TTL = 900


def read(path: Path) -> str:
    return path.read_text()


def block(directory: Path) -> None:
    directory.parent.mkdir(parents=True, exist_ok=True)
    directory.write_text("not a directory")


def mode(path: Path) -> int:
    return path.stat().st_mode


class FakePbx:
    """AMI as the phone uses it: reloads, hold channels; can be made to fail."""

    def __init__(self) -> None:
        self.reloads = 0
        self.holds: list[str] = []
        self.hung_up: list[str] = []
        self.down = False

    async def reload_endpoints(self) -> None:
        if self.down:
            raise PhonePbxError("AMI: connection refused")
        self.reloads += 1

    async def start_hold(self, agent_id: int) -> str:
        if self.down:
            raise PhonePbxError("AMI: connection refused")
        self.holds.append(f"phonehold-{agent_id}-{len(self.holds)}")
        return self.holds[-1]

    async def end_hold(self, channel_id: str) -> None:
        self.hung_up.append(channel_id)

    async def close(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def conf_path(tmp_path: Path) -> Path:
    return tmp_path / "asterisk" / "cobrador-phones" / "agents.conf"


@pytest.fixture
def pbx() -> FakePbx:
    return FakePbx()


@pytest.fixture
def moving_clock() -> Clock:
    return Clock()


@pytest.fixture
def phone_settings(settings: Settings, conf_path: Path) -> Settings:
    return settings.with_overrides(
        phone_ws_url=WS_URL,
        phone_agents_conf=conf_path,
        phone_credential_ttl=TTL,
        console_secret=base64.urlsafe_b64encode(b"p" * 32).decode(),
    )


AppClient = Callable[[], Awaitable[TestClient]]


@pytest.fixture
def make_client(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    phone_settings: Settings,
    engine: Engine,
    aredis: aioredis.Redis,
    seed: Seed,
    pbx: FakePbx,
    moving_clock: Clock,
) -> AppClient:
    async def make() -> TestClient:
        app = init_app(phone_settings, engine, aredis, clock=moving_clock)
        app[PHONE] = build_service(app, pbx=pbx)
        return await aiohttp_client(app)

    return make


@pytest.fixture
async def phone_client(make_client: AppClient) -> TestClient:
    return await make_client()


async def issue(client: TestClient, token: str) -> dict:
    resp = await client.post("/api/agent/phone/credentials", headers={"X-CSRF-Token": token})
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_given_agent_when_asking_credentials_then_random_password_in_json_and_in_asterisk_file(
    phone_client: TestClient, seed: Seed, conf_path: Path, pbx: FakePbx
) -> None:
    token = await login(phone_client, "ana")
    ana = seed.users["ana"]
    # At start the console wrote every agent's endpoint, locked (no live credential).
    assert pbx.reloads == 1
    assert read(conf_path).count("password = locked-") == 4
    body = await issue(phone_client, token)
    assert body["enabled"] is True
    assert body["ws_url"] == WS_URL
    assert body["username"] == f"agent-{ana}"
    assert body["uri"] == f"sip:agent-{ana}@127.0.0.1"
    assert body["expires_in"] == TTL and 0 < body["renew_in"] < TTL
    password = body["password"]
    assert len(password) >= 24 and password != PASSWORD
    text = read(conf_path)
    assert f"[agent-{ana}](agent-webrtc-endpoint)" in text
    assert f"password = {password}" in text
    # Every agent, supervisor (who listens with it) and admin has an endpoint the
    # dialer can originate to; an auditor has none.
    for name in ("beto", "sofia", "root"):
        assert f"[agent-{seed.users[name]}](agent-webrtc-endpoint)" in text
    assert f"[agent-{seed.users['raul']}]" not in text
    assert text.count("password = ") == 4
    assert oct(mode(conf_path) & 0o777) == "0o640"
    assert pbx.reloads == 2
    assert body["ice_servers"] == []  # no STUN/TURN configured: same network only
    # A second credential for the same session replaces the first one.
    again = await issue(phone_client, token)
    assert again["password"] != password
    assert f"password = {password}" not in read(conf_path)
    assert pbx.reloads == 3


async def test_given_same_session_when_renewing_then_password_kept_and_no_reload(
    phone_client: TestClient, pbx: FakePbx, moving_clock: Clock
) -> None:
    token = await login(phone_client, "ana")
    first = await issue(phone_client, token)
    moving_clock.now += timedelta(seconds=TTL - 10)
    resp = await phone_client.post("/api/agent/phone/renew", headers={"X-CSRF-Token": token})
    assert resp.status == 200
    body = await resp.json()
    assert body["password"] == first["password"]
    assert body["expires_in"] == TTL
    assert pbx.reloads == 2  # start + issue


async def test_given_credential_not_renewed_when_it_expires_then_renew_refused_and_file_locked(
    phone_client: TestClient, seed: Seed, conf_path: Path, pbx: FakePbx, moving_clock: Clock
) -> None:
    token = await login(phone_client, "ana")
    password = (await issue(phone_client, token))["password"]
    moving_clock.now += timedelta(seconds=TTL + 1)
    resp = await phone_client.post("/api/agent/phone/renew", headers={"X-CSRF-Token": token})
    assert resp.status == 409
    assert (await resp.json())["code"] in ("expired", "none")
    # The console's sweep rewrites the file: the expired password opens nothing.
    service = phone_client.app[PHONE]
    assert service is not None
    assert await service.sync(moving_clock().timestamp()) is True
    text = read(conf_path)
    assert password not in text
    assert f"[agent-{seed.users['ana']}](agent-webrtc-endpoint)" in text
    assert pbx.reloads == 3  # start, issue, expiry
    # Nothing changed since: no rewrite, no reload.
    assert await service.sync(moving_clock().timestamp()) is False


async def test_given_another_session_took_the_phone_when_old_one_renews_then_409_other_session(
    make_client: AppClient, conf_path: Path
) -> None:
    old_tab = await make_client()
    new_tab = await make_client()
    old_token = await login(old_tab, "ana")
    new_token = await login(new_tab, "ana")
    old = await issue(old_tab, old_token)
    new = await issue(new_tab, new_token)
    resp = await old_tab.post("/api/agent/phone/renew", headers={"X-CSRF-Token": old_token})
    assert resp.status == 409
    assert (await resp.json())["code"] == "other_session"
    text = read(conf_path)
    assert new["password"] in text and old["password"] not in text
    # The old session's logout does not revoke the new session's credential.
    resp = await old_tab.post("/logout", data={"_csrf": old_token}, allow_redirects=False)
    assert resp.status == 302
    assert new["password"] in read(conf_path)


async def test_given_logout_then_credential_revoked_and_file_rewritten(
    phone_client: TestClient, conf_path: Path, pbx: FakePbx
) -> None:
    token = await login(phone_client, "ana")
    password = (await issue(phone_client, token))["password"]
    resp = await phone_client.post("/logout", data={"_csrf": token}, allow_redirects=False)
    assert resp.status == 302
    assert password not in read(conf_path)
    assert pbx.reloads == 3  # start, issue, logout


async def test_given_auditor_when_asking_credentials_then_403_and_nothing_written(
    phone_client: TestClient, conf_path: Path, pbx: FakePbx
) -> None:
    token = await login(phone_client, "raul")
    for path in ("/api/agent/phone/credentials", "/api/agent/phone/renew"):
        resp = await phone_client.post(path, headers={"X-CSRF-Token": token})
        assert resp.status == 403, path
    assert pbx.reloads == 1  # only the start
    assert read(conf_path).count("password = locked-") == 4


async def test_given_session_forging_agent_role_for_an_auditor_when_asking_credentials_then_403(
    make_client: AppClient, seed: Seed, phone_settings: Settings, conf_path: Path, pbx: FakePbx
) -> None:
    client = await make_client()
    cookie = forged_cookie(
        phone_settings, {"uid": seed.users["raul"], "role": "agent", "csrf": "x"}
    )
    client.session.cookie_jar.update_cookies({"cobrador_session": cookie})
    resp = await client.post("/api/agent/phone/credentials", headers={"X-CSRF-Token": "x"})
    assert resp.status == 403
    assert pbx.reloads == 1 and read(conf_path).count("password = locked-") == 4


async def test_given_no_csrf_or_no_session_when_asking_credentials_then_refused(
    phone_client: TestClient, pbx: FakePbx
) -> None:
    resp = await phone_client.post("/api/agent/phone/credentials")
    assert resp.status == 403  # no CSRF token
    await login(phone_client, "ana")
    resp = await phone_client.post("/api/agent/phone/credentials")
    assert resp.status == 403
    assert pbx.reloads == 1


async def test_given_pbx_down_when_asking_credentials_then_503_with_reason(
    phone_client: TestClient, pbx: FakePbx
) -> None:
    token = await login(phone_client, "ana")
    pbx.down = True
    resp = await phone_client.post("/api/agent/phone/credentials", headers={"X-CSRF-Token": token})
    assert resp.status == 503
    assert "central telefónica" in (await resp.json())["reason"]


async def test_given_no_web_phone_configured_when_asking_credentials_then_disabled_with_reason(
    client: TestClient,
) -> None:
    token = await login(client, "ana")
    body = await issue(client, token)
    assert body == {"ok": True, "enabled": False, "reason": "Sin teléfono web: PBX simulado."}
    assert await (await client.get("/api/agent/phone")).json() == body
    resp = await client.get("/agent")
    assert "connect-src 'self';" in resp.headers["Content-Security-Policy"]


async def test_given_web_phone_when_serving_agent_page_then_csp_allows_its_websocket_only(
    phone_client: TestClient,
) -> None:
    await login(phone_client, "ana")
    resp = await phone_client.get("/agent")
    assert "connect-src 'self' ws://127.0.0.1:8088;" in resp.headers["Content-Security-Policy"]
    assert await (await phone_client.get("/api/agent/phone")).json() == {
        "ok": True,
        "enabled": True,
    }


async def test_given_call_in_progress_when_holding_then_music_channel_once_and_unhold_ends_it(
    phone_client: TestClient, seed: Seed, aredis: aioredis.Redis, pbx: FakePbx
) -> None:
    token = await login(phone_client, "ana")
    headers = {"X-CSRF-Token": token}
    resp = await phone_client.post("/api/agent/phone/hold", json={"on": True}, headers=headers)
    assert resp.status == 409  # no call
    states = AgentStates(aredis)
    ana = seed.users["ana"]
    await states.login(ana, "mx-demo")
    await states.set_ready(ana)
    assert await states.reserve(ana, 41)
    await states.talking(ana, 41)
    for _ in range(2):
        resp = await phone_client.post("/api/agent/phone/hold", json={"on": True}, headers=headers)
        assert resp.status == 200
    assert pbx.holds == [f"phonehold-{ana}-0"]
    resp = await phone_client.post("/api/agent/phone/hold", json={"on": False}, headers=headers)
    assert (await resp.json()) == {"ok": True, "held": False}
    assert pbx.hung_up == [f"phonehold-{ana}-0"]


@pytest.mark.parametrize("body", [{"on": "yes"}, {}, [], "x"])
async def test_given_bad_hold_body_then_400(
    phone_client: TestClient, pbx: FakePbx, body: object
) -> None:
    token = await login(phone_client, "ana")
    resp = await phone_client.post(
        "/api/agent/phone/hold", json=body, headers={"X-CSRF-Token": token}
    )
    assert resp.status == 400
    assert pbx.holds == []


async def test_given_supervisor_when_asking_credentials_then_a_phone_to_listen_with_but_no_hold(
    phone_client: TestClient, seed: Seed, conf_path: Path
) -> None:
    token = await login(phone_client, "sofia")
    body = await issue(phone_client, token)
    assert body["username"] == f"agent-{seed.users['sofia']}"
    assert f"password = {body['password']}" in read(conf_path)
    resp = await phone_client.post(
        "/api/agent/phone/hold", json={"on": True}, headers={"X-CSRF-Token": token}
    )
    assert resp.status == 403


async def test_given_agents_file_not_writable_when_asking_credentials_then_503_and_no_reload(
    make_client: AppClient, conf_path: Path, pbx: FakePbx
) -> None:
    block(conf_path.parent)  # a file where the directory should be
    client = await make_client()
    token = await login(client, "ana")
    resp = await client.post("/api/agent/phone/credentials", headers={"X-CSRF-Token": token})
    assert resp.status == 503
    assert pbx.reloads == 0


class GatedPbx(FakePbx):
    """A reload that lasts until the test lets it finish (Asterisk busy re-reading)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.started = 0

    async def reload_endpoints(self) -> None:
        self.started += 1
        await self.gate.wait()
        await super().reload_endpoints()


async def test_given_a_burst_of_logins_when_each_gets_its_credential_then_asterisk_reloads_at_most_twice(
    aredis: aioredis.Redis, conf_path: Path
) -> None:
    await aredis.delete(CREDENTIALS_KEY)
    agents = list(range(1, 31))
    pbx = GatedPbx()
    provisioner = Provisioner(conf_path, pbx.reload_endpoints, b"s" * 32)
    service = PhoneService(PhoneConfig(WS_URL), CredentialStore(aredis, TTL), provisioner, pbx,
                           agent_ids=_fixed(agents), redis=aredis)  # fmt: skip
    now = NOW.timestamp()
    first = asyncio.create_task(service.issue(agents[0], "session-1", now))
    await until(lambda: pbx.started == 1)  # Asterisk re-reading for the first login
    logins = [first] + [asyncio.create_task(service.issue(a, f"session-{a}", now))
                        for a in agents[1:]]  # fmt: skip
    # The others log in meanwhile: each writes its endpoint and waits for a reload.
    stored = CredentialStore(aredis, TTL)
    # The file holding every password is not enough: the write that completed it may
    # not yet be counted (its thread renamed the file, the count waits for the event
    # loop), and a reload started before it is counted would not cover it. No write
    # in flight (both locks free) once the file is complete: every login now waits.
    await until(lambda: _all_written(conf_path, stored, agents, now))
    await until(lambda: not provisioner._lock.locked() and not service._writing.locked())
    assert not any(t.done() for t in logins)  # none returns before Asterisk has it
    pbx.gate.set()
    credentials = await asyncio.gather(*logins)
    assert pbx.reloads == 2  # the one running, and one for all that came during it
    text = read(conf_path)
    assert all(f"password = {c.password}" in text for c in credentials)
    # Nothing changed since: no reload.
    assert await service.sync(now) is False and pbx.reloads == 2


async def test_given_asterisk_down_when_the_reload_fails_then_the_next_sync_reloads_the_written_file(
    aredis: aioredis.Redis, conf_path: Path
) -> None:
    await aredis.delete(CREDENTIALS_KEY)
    pbx = FakePbx()
    provisioner = Provisioner(conf_path, pbx.reload_endpoints, b"s" * 32)
    service = PhoneService(PhoneConfig(WS_URL), CredentialStore(aredis, TTL), provisioner, pbx,
                           agent_ids=_fixed([1]), redis=aredis)  # fmt: skip
    pbx.down = True
    with pytest.raises(PhonePbxError):
        await service.issue(1, "s1", NOW.timestamp())
    pbx.down = False
    # The file already has the credential: the reload it missed is done all the same.
    assert await service.sync(NOW.timestamp()) is False
    assert pbx.reloads == 1


def _fixed(ids: list[int]) -> Callable[[], Awaitable[list[int]]]:
    async def agent_ids() -> list[int]:
        return ids

    return agent_ids


async def _all_written(path: Path, store: CredentialStore, agents: list[int], now: float) -> bool:
    live = await store.live(now)
    text = await asyncio.to_thread(read, path)  # written by the first login already
    return len(live) == len(agents) and all(f"password = {c.password}" in text
                                            for c in live.values())  # fmt: skip


async def test_given_a_turn_secret_when_an_agent_gets_a_credential_then_the_phone_gets_time_limited_turn_credentials(
    make_client: AppClient, phone_settings: Settings, seed: Seed, moving_clock: Clock,
    aiohttp_client: Callable[..., Awaitable[TestClient]], engine: Engine,
    aredis: aioredis.Redis, pbx: FakePbx,
) -> None:  # fmt: skip
    settings = phone_settings.with_overrides(
        phone_turn_urls="stun:turn.example.com:3478, turn:turn.example.com:3478?transport=udp,"
        "turns:turn.example.com:5349", phone_turn_secret="coturn-static-auth-secret",
        phone_turn_ttl=3600,
    )  # fmt: skip
    app = init_app(settings, engine, aredis, clock=moving_clock)
    app[PHONE] = build_service(app, pbx=pbx)
    client = await aiohttp_client(app)
    token = await login(client, "ana")
    ana = seed.users["ana"]
    body = await issue(client, token)
    expiry = int(moving_clock.now.timestamp()) + 3600
    username = f"{expiry}:{ana}"
    password = base64.b64encode(hmac.new(b"coturn-static-auth-secret", username.encode(),
                                         hashlib.sha1).digest()).decode()  # fmt: skip
    assert body["ice_servers"] == [
        {"urls": ["stun:turn.example.com:3478"]},
        {"urls": ["turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349"],
         "username": username, "credential": password},
    ]  # fmt: skip
    assert "coturn-static-auth-secret" not in json.dumps(body)
    # A renewal brings credentials valid from now on.
    moving_clock.now += timedelta(seconds=300)
    resp = await client.post("/api/agent/phone/renew", headers={"X-CSRF-Token": token})
    renewed = (await resp.json())["ice_servers"][1]
    assert renewed["username"] == f"{expiry + 300}:{ana}" and renewed["credential"] != password


async def test_given_static_turn_credentials_when_an_agent_gets_a_credential_then_the_phone_gets_them(
    phone_settings: Settings, seed: Seed, moving_clock: Clock,
    aiohttp_client: Callable[..., Awaitable[TestClient]], engine: Engine,
    aredis: aioredis.Redis, pbx: FakePbx,
) -> None:  # fmt: skip
    settings = phone_settings.with_overrides(phone_turn_urls="turn:10.0.0.5:3478",
                                             phone_turn_username="cobrador",
                                             phone_turn_password="turn-pass")  # fmt: skip
    app = init_app(settings, engine, aredis, clock=moving_clock)
    app[PHONE] = build_service(app, pbx=pbx)
    client = await aiohttp_client(app)
    body = await issue(client, await login(client, "ana"))
    assert body["ice_servers"] == [
        {"urls": ["turn:10.0.0.5:3478"], "username": "cobrador", "credential": "turn-pass"}
    ]
