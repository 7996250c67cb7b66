"""The agent's browser phone on the real Asterisk, in Debian's Chromium with fake
media: the console issues a credential, JsSIP registers to agent-<id>, the
nailed-up leg auto-answers into the agent's ConfBridge, a sim-customers debtor
is bridged, and getStats() shows audio both ways; mute stops the agent's
packets, hold plays music to the debtor, hanging up ends only the debtor.

Until the dialer originates the nailed-up leg itself (issue #12, dialer side),
the test originates it over AMI exactly as the dialer will (phone_harness)."""

from __future__ import annotations

import asyncio
import subprocess

from asterisk_harness import (
    AGIRoutes,
    CallWatcher,
    ChrootAsterisk,
    next_attempt_id,
    originate_debtor,
    wait_until,
)
from phone_harness import (
    PASSWORD,
    DialerDouble,
    agent_page,
    agents_conf,
    call_commands,
    chromium,
    ice_address,
    originate_phone_leg,
    phone_console,
    poll_page,
    seed_data,
    stats,
    wait_phone,
    wait_stats,
)
from sqlalchemy import Engine
from support.screenshots import screenshot_path

from cobrador.ground.settings import Settings
from dialer.ami import AMIClient
from dialer.fastagi import AGISession

# Packets are the clock: Chromium sends and Asterisk mixes 50 audio packets a second.
SETTLE = 25
WINDOW = 100


async def test_given_agent_logged_in_when_nailed_up_and_debtor_talks_then_audio_flows_mute_hold_and_hangup_work(
    asterisk: ChrootAsterisk,
    ami: AMIClient,
    watcher: CallWatcher,
    agi: AGIRoutes,
    settings: Settings,
    engine: Engine,
) -> None:
    seed = seed_data(engine)
    ana = seed.users["ana"]
    agent_leg = f"cobrador-agent-{next_attempt_id()}"
    debtor_channel = f"cobrador-{next_attempt_id()}"
    channels: dict[int, str] = {}

    async def bridge(session: AGISession) -> None:
        await session.set_variable("COBRADOR_ACTION", "bridge")
        await session.set_variable("COBRADOR_BRIDGE", f"agent-{ana}")

    agi.handler = bridge
    with ice_address(), phone_console(settings, asterisk) as base:
        async with chromium() as browser, call_commands(settings.redis_url or "", ami, channels):
            page = await agent_page(browser, base, "ana", PASSWORD)
            # Login: the page gets a credential and registers to agent-<id>.
            await wait_phone(page, "p.state.registration === 'registered'")
            assert f"[agent-{ana}](agent-webrtc-endpoint)" in agents_conf(asterisk).read_text()
            assert await page.locator("#phone-status").text_content() == "Teléfono registrado"
            contacts = asterisk.cli(f"pjsip show aor agent-{ana}")
            assert "transport=ws" in contacts, contacts

            # The nailed-up leg: auto-answered, in the agent's bridge.
            await ami.send_action(originate_phone_leg(ana, agent_leg))
            await wait_phone(page, "p.state.leg === 'up'")
            await wait_until(
                lambda: watcher.has(agent_leg, "ConfbridgeJoin", Conference=f"agent-{ana}"),
                what="the browser's leg in its bridge",
            )
            assert await page.locator("#phone-leg").text_content() == "Audio listo"

            # Ready (the microphone check passes with Chromium's fake device).
            await page.click("#btn-ready")
            await poll_page(
                page, "document.getElementById('state-name').textContent === 'Disponible'", "ready"
            )

            # A debtor answers: the pop, and the sim-customers call bridged to agent-<id>.
            attempt_id = await DialerDouble(engine, settings.redis_url or "", "mx-demo")._answer(
                seed.account_id
            )
            channels[attempt_id] = debtor_channel
            await ami.send_action(
                originate_debtor(int(debtor_channel.split("-")[1]), "5215512340100")
            )
            await wait_until(
                lambda: watcher.has(debtor_channel, "ConfbridgeJoin", Conference=f"agent-{ana}"),
                what="the debtor bridged to the browser phone",
            )
            await poll_page(
                page,
                "document.getElementById('pop-name').textContent === 'María López Hernández'",
                "the pop",
            )
            # The README's picture shows a floor in Mexico's day, not Chromium's UTC one.
            await poll_page(
                page,
                "document.getElementById('figures-since').textContent"
                " === 'desde las 00:00 de Ciudad de México'",
                "'Mi día' from midnight in the floor's zone",
            )

            await page.screenshot(path=screenshot_path("agent-phone.png"), full_page=True)

            # Audio both ways on the agent's leg while the debtor talks.
            first = await stats(page)
            flowing = await wait_stats(
                page,
                f"s.packetsReceived > {first['packetsReceived'] + WINDOW}"
                f" && s.packetsSent > {first['packetsSent'] + WINDOW}",
            )
            assert flowing["packetsReceived"] > 0 and flowing["packetsSent"] > 0

            # Mute: no more packets from the agent while the debtor's keep coming.
            await page.click("#phone-mute")
            await wait_phone(page, "p.state.muted === true")
            settled = await wait_stats(
                page, f"s.packetsReceived > {flowing['packetsReceived'] + SETTLE}"
            )
            later = await wait_stats(
                page, f"s.packetsReceived > {settled['packetsReceived'] + WINDOW}"
            )
            assert later["packetsSent"] == settled["packetsSent"]
            await page.click("#phone-mute")
            await wait_stats(page, f"s.packetsSent > {later['packetsSent'] + SETTLE}")

            # Hold: music on hold joins the bridge for the debtor; the agent sends nothing.
            await page.click("#phone-hold")
            await wait_phone(page, "p.state.held === true")
            await wait_until(
                lambda: any(
                    e.name == "ConfbridgeJoin"
                    and (e.get("Uniqueid") or "").startswith(f"phonehold-{ana}-")
                    and e.get("Conference") == f"agent-{ana}"
                    for e in watcher.all_events
                ),
                what="music on hold in the agent's bridge",
            )
            await page.click("#phone-hold")
            await wait_phone(page, "p.state.held === false")
            await wait_until(
                lambda: any(
                    e.name == "ConfbridgeLeave"
                    and (e.get("Uniqueid") or "").startswith(f"phonehold-{ana}-")
                    for e in watcher.all_events
                ),
                what="the music to leave the bridge",
            )
            assert await page.evaluate("window.cobradorPhone.sendDtmf('5')") is True

            # Hang up the debtor: the debtor's leg ends, the agent's stays up.
            await page.click("#phone-hangup")
            await wait_until(lambda: watcher.ended(debtor_channel), what="the debtor's leg to end")
            _, members = await ami.send_list_action(
                {"Action": "ConfbridgeList", "Conference": f"agent-{ana}"}
            )
            assert [m.get("Uniqueid") for m in members] == [agent_leg]
            assert not watcher.has(agent_leg, "Hangup")
            assert await page.evaluate("window.cobradorPhone.state.leg") == "up"


async def test_given_registered_phone_when_sip_websocket_drops_then_it_registers_again(
    asterisk: ChrootAsterisk, settings: Settings, engine: Engine
) -> None:
    seed_data(engine)
    with ice_address(), phone_console(settings, asterisk) as base:
        async with chromium() as browser:
            page = await agent_page(browser, base, "beto", PASSWORD)
            await wait_phone(page, "p.state.registration === 'registered'")
            # Record the page's registration states from here on.
            await page.evaluate(
                "window.__seen = []; window.cobradorPhone.on('registration', (s) => window.__seen.push(s));"
            )
            # Kill the page's WebSocket to Asterisk at the TCP level.
            killed = await asyncio.to_thread(
                subprocess.run,
                ["ss", "-K", "dst", "127.0.0.1", "dport", "=", "8088"],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            assert killed.returncode == 0, killed.stderr
            await poll_page(
                page,
                "window.__seen.includes('connecting')"
                " && window.cobradorPhone.state.registration === 'registered'",
                "the phone to register again",
            )
