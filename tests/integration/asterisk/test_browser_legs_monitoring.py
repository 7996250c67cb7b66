"""The dialer's side of the browser phone on the real Asterisk, in Debian's
Chromium with fake media: the dialer (AgentLegs) nails up the agent's leg to
the page's phone; a supervisor listens from the wallboard with her own page's
phone (getStats shows her packets), the agent's call goes on, the audit log
has the session, and an agent's attempt is refused (403, no ChanSpy). The
agent's tab closes mid-shift: 'sin audio', never reserved; reconnect from the
reopened page brings the agent back to ready."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from asterisk_harness import AGIRoutes, CallWatcher, ChrootAsterisk, next_attempt_id, wait_until
from asterisk_harness import originate_debtor as debtor_originate
from phone_harness import (
    PASSWORD,
    DialerDouble,
    agent_page,
    chromium,
    ice_address,
    phone_console,
    poll_page,
    seed_data,
    stats,
    wait_phone,
    wait_stats,
)
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from support.screenshots import FLOOR_BROWSER

from cobrador.ground.settings import Settings
from dialer.agent_legs import UP, AgentLegs
from dialer.agent_state import AgentState, AgentStates
from dialer.ami import AMIClient
from dialer.fastagi import AGISession
from dialer.monitoring import Monitoring, sql_audit
from dialer.phone_service import PhoneService
from dialer.user_phones import PhoneUser, endpoint, load_user
from store.models import AuditEntry

TEMPLATE = "PJSIP/agent-{user_id}"  # the browser phones' endpoints (docs/phone.md)
WINDOW = 100  # packets: 2 s of audio


@contextlib.asynccontextmanager
async def dialer_phones(
    ami: AMIClient, engine: Engine, redis_url: str
) -> AsyncIterator[tuple[PhoneService, AgentStates]]:
    """The dialer's phone service for campaign mx-demo (as DialerService wires it)."""
    redis = aioredis.Redis.from_url(redis_url)
    states = AgentStates(redis)

    async def user_of(user_id: int) -> PhoneUser | None:
        return await asyncio.to_thread(load_user, engine, user_id)

    async def phone_of(user_id: int) -> str | None:
        user = await user_of(user_id)
        return endpoint(TEMPLATE, user) if user else None

    legs = AgentLegs(redis=redis, ami=ami, states=states, phone_of=phone_of,
                     campaigns={"mx-demo"}, owner="it-browser")  # fmt: skip
    monitoring = Monitoring(redis=redis, ami=ami, states=states, user_of=user_of,
                            phone_for=lambda u: endpoint(TEMPLATE, u), audit=sql_audit(engine),
                            campaigns={"mx-demo"}, owner="it-browser")  # fmt: skip
    service = PhoneService(redis=redis, ami=ami, legs=legs, monitoring=monitoring)
    task = asyncio.create_task(service.run())
    try:
        yield service, states
    finally:
        service.request_stop()
        await asyncio.wait([task], timeout=10)
        for agent_id in [int(k.decode().split("{")[1].rstrip("}"))
                         for k in await redis.keys("cobrador:agent-leg:*")]:  # fmt: skip
            leg = await legs.get(agent_id)
            if leg is not None and ami.connected:
                with contextlib.suppress(Exception):
                    await ami.send_action({"Action": "Hangup", "Channel": leg.channel_id})
        await redis.aclose()


async def leg_up(service: PhoneService, agent_id: int) -> str:
    for _ in range(600):
        leg = await service.legs.get(agent_id)
        if leg is not None and leg.status == UP:
            return leg.channel_id
        await asyncio.sleep(0.05)
    raise AssertionError(f"agent {agent_id}'s leg never came up")


async def state_is(states: AgentStates, agent_id: int, state: AgentState) -> None:
    for _ in range(600):
        if (await states.get(agent_id)).state is state:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"agent {agent_id} never {state.value}")


async def supervisor_page(browser: Any, base: str, username: str) -> Any:
    """Log in as a supervisor: the login lands on the wallboard."""
    context = await browser.new_context(viewport={"width": 1440, "height": 900}, **FLOOR_BROWSER)
    page = await context.new_page()
    await page.goto(f"{base}/login")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/supervisor**")
    return page


async def post_json(page: Any, url: str, body: dict[str, Any]) -> int:
    """A same-origin POST from the page, with its CSRF token (what a forged button does)."""
    status: int = await page.evaluate(
        """async ([url, body]) => {
            const csrf = document.querySelector('meta[name="csrf-token"]').content;
            const r = await fetch(url, {method: "POST", credentials: "same-origin",
              headers: {"X-CSRF-Token": csrf, "Content-Type": "application/json"},
              body: JSON.stringify(body)});
            return r.status; }""",
        [url, body],
    )
    return status


async def test_given_bridged_call_when_supervisor_listens_from_wallboard_then_her_page_gets_audio_and_session_audited(
    asterisk: ChrootAsterisk,
    ami: AMIClient,
    watcher: CallWatcher,
    agi: AGIRoutes,
    settings: Settings,
    engine: Engine,
) -> None:
    seed = seed_data(engine)
    ana, sofia = seed.users["ana"], seed.users["sofia"]
    debtor = next_attempt_id()

    async def bridge(session: AGISession) -> None:
        await session.set_variable("COBRADOR_ACTION", "bridge")
        await session.set_variable("COBRADOR_BRIDGE", f"agent-{ana}")

    agi.handler = bridge
    with ice_address(), phone_console(settings, asterisk) as base:
        async with chromium() as browser:
            agent = await agent_page(browser, base, "ana", PASSWORD)
            await wait_phone(agent, "p.state.registration === 'registered'")
            async with dialer_phones(ami, engine, settings.redis_url or "") as (phones, states):
                # The dialer nails up the logged-in agent's leg; the page auto-answers.
                leg = await leg_up(phones, ana)
                await wait_phone(agent, "p.state.leg === 'up'")
                await agent.click("#btn-ready")
                await state_is(states, ana, AgentState.ready)
                await DialerDouble(engine, settings.redis_url or "", "mx-demo")._answer(
                    seed.account_id
                )
                await ami.send_action(debtor_originate(debtor, "5215512340100"))
                await wait_until(lambda: watcher.has(f"cobrador-{debtor}", "ConfbridgeJoin",
                                                     Conference=f"agent-{ana}"),
                                 what="the debtor bridged to the agent's page")  # fmt: skip
                # An agent cannot monitor: 403, and nothing reaches Asterisk.
                assert await post_json(agent, "/api/supervisor/monitor",
                                       {"agent_id": ana, "mode": "listen"}) == 403  # fmt: skip
                # The supervisor's page: her phone registers; she clicks "Escuchar".
                boss = await supervisor_page(browser, base, "sofia")
                await wait_phone(boss, "p.state.registration === 'registered'")
                assert not [e for e in watcher.all_events if e.get("Context") == "cobrador-spy"]
                button = f'button[data-monitor="listen"][data-agent="{ana}"]'
                await boss.wait_for_selector(button)
                await boss.click(button)
                await wait_phone(boss, "p.state.leg === 'up'")
                first = await stats(boss)
                heard = await wait_stats(
                    boss, f"s.packetsReceived > {first['packetsReceived'] + WINDOW}"
                )
                assert heard["packetsReceived"] > 0
                # The agent's call is unaffected: audio both ways, the bridge unchanged.
                mine = await stats(agent)
                await wait_stats(agent, f"s.packetsReceived > {mine['packetsReceived'] + WINDOW}"
                                 f" && s.packetsSent > {mine['packetsSent'] + WINDOW}")  # fmt: skip
                _, members = await ami.send_list_action(
                    {"Action": "ConfbridgeList", "Conference": f"agent-{ana}"}
                )
                assert {m.get("Uniqueid") for m in members} == {leg, f"cobrador-{debtor}"}
                assert (await states.get(ana)).state is AgentState.talking
                # She ends it from the wallboard.
                await boss.click("#monitor-stop")
                await wait_until(lambda: not phones.monitoring.sessions and any(
                    e.name == "Hangup" and (e.get("Uniqueid") or "").startswith("cobrador-spy-")
                    for e in watcher.all_events), what="her leg to hang up")  # fmt: skip
                for _ in range(100):
                    with Session(engine) as s:
                        done = s.scalar(
                            select(AuditEntry).where(AuditEntry.kind == "monitor_session")
                        )
                    if done is not None:
                        break
                    await asyncio.sleep(0.05)
                assert done is not None and done.actor == "user:sofia"
                payload = json.loads(done.payload)
                assert (payload["supervisor_id"], payload["agent_id"], payload["mode"]) == (
                    sofia, ana, "listen")  # fmt: skip
                assert payload["started_at"] and payload["ended_at"] >= payload["started_at"]
                assert not watcher.ended(f"cobrador-{debtor}")


async def test_given_agent_tab_closed_mid_shift_then_no_audio_not_reserved_and_reconnect_from_page_brings_back(
    asterisk: ChrootAsterisk,
    ami: AMIClient,
    watcher: CallWatcher,
    settings: Settings,
    engine: Engine,
) -> None:
    seed = seed_data(engine)
    ana = seed.users["ana"]
    with ice_address(), phone_console(settings, asterisk) as base:
        async with chromium() as browser:
            page = await agent_page(browser, base, "ana", PASSWORD)
            await wait_phone(page, "p.state.registration === 'registered'")
            async with dialer_phones(ami, engine, settings.redis_url or "") as (phones, states):
                leg = await leg_up(phones, ana)
                await wait_phone(page, "p.state.leg === 'up'")
                await page.click("#btn-ready")
                await state_is(states, ana, AgentState.ready)
                context = page.context
                await page.close()  # the tab closes mid-shift
                # Its SIP WebSocket closes, Asterisk removes the contact (ContactStatus
                # Removed; the call itself would stay up): the dialer hangs up the leg.
                await wait_until(lambda: watcher.has(leg, "Hangup"), within=40,
                                 what="the agent's leg to drop")  # fmt: skip
                await state_is(states, ana, AgentState.no_audio)
                assert not await states.reserve(ana, 1)  # never given a call
                # The agent opens the console again: "Sin audio" and the reconnect button.
                page = await context.new_page()
                await page.goto(f"{base}/agent")
                await wait_phone(page, "p.state.registration === 'registered'")
                await poll_page(page, "!document.getElementById('no-audio').hidden", "sin audio")
                assert await post_json(page, "/api/agent/ready", {}) == 409
                await page.click("#btn-reconnect")
                again = await leg_up(phones, ana)
                assert again != leg
                await wait_phone(page, "p.state.leg === 'up'")
                await state_is(states, ana, AgentState.ready)  # back to where she was
                await poll_page(page, "document.getElementById('no-audio').hidden", "audio back")


pytestmark = pytest.mark.integration
