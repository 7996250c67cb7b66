"""An auditor opens an attempt in Chromium and plays its recording: the <audio>
element loads it through range requests and knows its duration; the play is one
audit entry however many requests the player made."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from console_fixtures import PASSWORD, Seed, make_attempt
from sqlalchemy import Engine, select
from support.screenshots import FLOOR_BROWSER, screenshot_path

from cobrador.ground.settings import Settings
from pbxsim.recording import write_synthetic_wav
from store.db import transaction
from store.models import AuditEntry
from store.recordings.finalize import finalize_recording
from store.recordings.storage import DirectoryStorage


def _seed_recording(engine: Engine, settings: Settings, seed: Seed) -> tuple[int, int]:
    started = datetime.now(UTC) - timedelta(minutes=5)
    attempt = make_attempt(engine, seed.account_id, seed.users["ana"], started_at=started)
    storage = DirectoryStorage(settings.recordings_dir)
    key = storage.key_for(attempt, started)
    write_synthetic_wav(storage.ensure_dir(key), 3.0)
    rec = finalize_recording(
        engine, storage, attempt_id=attempt, key=key, started_at=started,
        ended_at=started + timedelta(seconds=3), now=started + timedelta(seconds=4),
    )  # fmt: skip
    assert rec.status == "ok"
    return attempt, rec.recording_id


def _plays(engine: Engine) -> list[dict[str, Any]]:
    with transaction(engine) as session:
        payloads = [
            json.loads(p)
            for p in session.execute(
                select(AuditEntry.payload).where(AuditEntry.kind == "pii_view")
            ).scalars()
        ]
    return [p for p in payloads if p.get("page") == "recording_play"]


def test_given_auditor_on_an_attempt_when_playing_then_audio_has_a_duration_and_one_audit(
    browser: Any, console_url: str, seeded: Seed, engine: Engine, settings: Settings
) -> None:
    from playwright.sync_api import expect

    attempt, recording_id = _seed_recording(engine, settings, seeded)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **FLOOR_BROWSER)
    page = context.new_page()
    ranges: list[str] = []
    page.on(
        "request",
        lambda r: ranges.append(r.headers.get("range", "")) if "/audio?" in r.url else None,
    )
    page.goto(f"{console_url}/login")
    page.fill("#username", "raul")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.fill("#f-ref", "MX-0001")
    page.click("form.filters button[type=submit]")
    page.click(f'a[href="/attempts/{attempt}"]')
    expect(page.locator("h1")).to_have_text(f"Intento #{attempt}")
    expect(page.locator("#recording-status")).to_contain_text("Disponible")

    page.click("#recording-play")
    page.wait_for_function(
        "() => { const a = document.getElementById('recording-audio');"
        " return a && a.readyState >= 1 && a.duration > 0; }"
    )
    duration = page.evaluate("document.getElementById('recording-audio').duration")
    assert abs(duration - 3.0) < 0.1, duration
    page.evaluate("document.getElementById('recording-audio').currentTime = 2.5")  # a seek
    page.wait_for_function(
        "() => document.getElementById('recording-audio').readyState >= 2"
        " || document.getElementById('recording-audio').ended"
    )
    assert ranges, "the player fetched the recording"
    page.screenshot(path=screenshot_path("recording.png"), full_page=True)
    [play] = _plays(engine)
    assert play["recording_id"] == recording_id and play["attempt_id"] == attempt
    context.close()
