"""Recordings in the console: range requests, downloads, who may hear what, one audit per play."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from console_fixtures import NOW, Seed, _password_hash, login, make_attempt
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select, update

from cobrador.ground.settings import Settings
from console.app import init_app
from pbxsim.recording import write_synthetic_wav
from store.db import transaction
from store.models import AuditEntry, CallAttempt, Campaign, Recording, User
from store.recordings.finalize import FinalizedRecording, finalize_recording
from store.recordings.storage import DirectoryStorage

STARTED = NOW - timedelta(minutes=2)


def _record(engine: Engine, settings: Settings, attempt_id: int, seconds: float = 2.0):  # type: ignore[no-untyped-def]
    storage = DirectoryStorage(settings.recordings_dir)
    key = storage.key_for(attempt_id, STARTED)
    write_synthetic_wav(storage.ensure_dir(key), seconds)
    return finalize_recording(
        engine, storage, attempt_id=attempt_id, key=key, started_at=STARTED,
        ended_at=STARTED + timedelta(seconds=seconds), now=NOW,
    ), storage.path(key)  # fmt: skip


@pytest.fixture
def recording(engine: Engine, settings: Settings, seed: Seed) -> tuple[FinalizedRecording, bytes]:
    attempt = make_attempt(engine, seed.account_id, seed.users["ana"], started_at=STARTED)
    rec, path = _record(engine, settings, attempt)
    return rec, path.read_bytes()


def _views(engine: Engine, page: str) -> list[dict]:
    with transaction(engine) as session:
        rows = session.execute(
            select(AuditEntry).where(AuditEntry.kind == "pii_view").order_by(AuditEntry.id)
        ).scalars()
        entries = [(e.actor, json.loads(e.payload)) for e in rows]
    return [{"actor": actor, **p} for actor, p in entries if p.get("page") == page]


async def _play_url(client: TestClient, token: str, recording_id: int) -> str:
    resp = await client.post(
        f"/api/recordings/{recording_id}/play", headers={"X-CSRF-Token": token}
    )
    assert resp.status == 200, await resp.text()
    return str((await resp.json())["url"])


async def test_given_auditor_when_playing_then_ranges_are_206_with_the_right_bytes(
    client: TestClient, engine: Engine, recording
) -> None:  # type: ignore[no-untyped-def]
    rec, data = recording
    size = len(data)
    token = await login(client, "raul")
    page = await client.get(f"/attempts/{rec.attempt_id}")
    assert page.status == 200
    html = await page.text()
    assert 'id="recording-audio"' in html and "Reproducir" in html
    url = await _play_url(client, token, rec.recording_id)

    first = await client.get(url, headers={"Range": "bytes=0-99"})
    assert first.status == 206
    assert await first.read() == data[:100]
    assert first.headers["Content-Range"] == f"bytes 0-99/{size}"
    assert first.headers["Accept-Ranges"] == "bytes"
    assert first.headers["Content-Length"] == "100"
    assert first.headers["Content-Type"] == "audio/wav"
    assert first.headers["Cache-Control"] == "no-store"

    middle = await client.get(url, headers={"Range": f"bytes=1000-{size + 5000}"})
    assert middle.status == 206 and await middle.read() == data[1000:]
    assert middle.headers["Content-Range"] == f"bytes 1000-{size - 1}/{size}"
    tail = await client.get(url, headers={"Range": "bytes=-44"})
    assert tail.status == 206 and await tail.read() == data[-44:]
    whole = await client.get(url)
    assert whole.status == 200 and await whole.read() == data

    [view] = _views(engine, "recording_play")  # four requests, one play, one entry
    assert view["actor"] == "user:raul" and view["recording_id"] == rec.recording_id
    assert view["attempt_id"] == rec.attempt_id and view["action"] == "play"


async def test_given_range_past_the_end_then_416_with_the_size(
    client: TestClient, recording
) -> None:  # type: ignore[no-untyped-def]
    rec, data = recording
    token = await login(client, "raul")
    url = await _play_url(client, token, rec.recording_id)
    for header in (f"bytes={len(data)}-", "bytes=99999999999999999-", "bytes=-0"):
        resp = await client.get(url, headers={"Range": header})
        assert resp.status == 416, header
        assert resp.headers["Content-Range"] == f"bytes */{len(data)}"


@pytest.mark.parametrize(
    "header", ["bytes=0-1,5-9", "bytes=garbage", "lines=1-2", "bytes=9-3", "bytes=" + "9" * 40]
)
async def test_given_range_header_we_do_not_serve_then_200_whole_file(
    client: TestClient, recording, header: str
) -> None:  # type: ignore[no-untyped-def]
    rec, data = recording
    token = await login(client, "raul")
    url = await _play_url(client, token, rec.recording_id)
    resp = await client.get(url, headers={"Range": header})
    assert resp.status == 200 and await resp.read() == data


async def test_given_if_range_of_another_file_then_whole_file(
    client: TestClient, recording
) -> None:  # type: ignore[no-untyped-def]
    rec, data = recording
    token = await login(client, "raul")
    url = await _play_url(client, token, rec.recording_id)
    stale = await client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"abc"'})
    assert stale.status == 200 and await stale.read() == data
    same = await client.get(url, headers={"Range": "bytes=0-9", "If-Range": f'"{rec.sha256}"'})
    assert same.status == 206 and await same.read() == data[:10]


async def test_given_two_plays_and_two_downloads_then_four_audit_entries(
    client: TestClient, engine: Engine, recording
) -> None:  # type: ignore[no-untyped-def]
    rec, data = recording
    token = await login(client, "sofia")
    for _ in range(2):
        url = await _play_url(client, token, rec.recording_id)
        for header in ("bytes=0-", "bytes=-100", "bytes=500-900"):
            assert (await client.get(url, headers={"Range": header})).status == 206
    for _ in range(2):
        resp = await client.post(f"/recordings/{rec.recording_id}/download", data={"_csrf": token})
        assert resp.status == 200
        assert resp.headers["Content-Disposition"] == (
            f'attachment; filename="grabacion-{rec.attempt_id}.wav"'
        )
        assert await resp.read() == data
    assert len(_views(engine, "recording_play")) == 2
    downloads = _views(engine, "recording_download")
    assert len(downloads) == 2 and {d["actor"] for d in downloads} == {"user:sofia"}


async def test_given_agent_then_403_on_page_play_audio_and_download(
    client: TestClient, engine: Engine, recording
) -> None:  # type: ignore[no-untyped-def]
    rec, _ = recording
    auditor = await login(client, "raul")
    url = await _play_url(client, auditor, rec.recording_id)
    await client.post("/logout", data={"_csrf": auditor})
    token = await login(client, "ana")  # the agent who took the call
    rid = rec.recording_id
    assert (await client.get(f"/attempts/{rec.attempt_id}")).status == 403
    play = await client.post(f"/api/recordings/{rid}/play", headers={"X-CSRF-Token": token})
    assert play.status == 403
    assert (await client.get(url, headers={"Range": "bytes=0-9"})).status == 403
    dl = await client.post(f"/recordings/{rid}/download", data={"_csrf": token})
    assert dl.status == 403
    hold = await client.post(f"/recordings/{rid}/hold", data={"_csrf": token, "reason": "x"})
    assert hold.status == 403
    assert len(_views(engine, "recording_play")) == 1  # the auditor's only
    assert _views(engine, "recording_download") == []


async def test_given_no_session_then_login_or_401_and_nothing_served(
    client: TestClient, engine: Engine, recording
) -> None:  # type: ignore[no-untyped-def]
    rec, _ = recording
    rid = rec.recording_id
    page = await client.get(f"/attempts/{rec.attempt_id}", allow_redirects=False)
    assert page.status == 302 and page.headers["Location"].startswith("/login")
    audio = await client.get(f"/recordings/{rid}/audio?t=abc", allow_redirects=False)
    assert audio.status == 302
    from console_fixtures import csrf_of

    token = await csrf_of(client)  # a CSRF token of an anonymous session
    play = await client.post(f"/api/recordings/{rid}/play", headers={"X-CSRF-Token": token})
    assert play.status == 401
    dl = await client.post(f"/recordings/{rid}/download", data={"_csrf": token},
                           allow_redirects=False)  # fmt: skip
    assert dl.status == 302
    assert _views(engine, "recording_play") == _views(engine, "recording_download") == []


def _forged_cookie(secret: str, payload: dict[str, object]) -> str:
    key = base64.urlsafe_b64encode(base64.urlsafe_b64decode(secret + "==")[:32])
    data = json.dumps({"created": int(time.time()), "session": payload})
    return Fernet(key).encrypt(data.encode()).decode()


async def test_given_agent_session_claiming_auditor_then_403_and_no_audio(
    aiohttp_client, settings: Settings, engine: Engine, aredis, seed: Seed, recording
) -> None:  # type: ignore[no-untyped-def]
    rec, _ = recording
    secret = base64.urlsafe_b64encode(b"r" * 32).decode()
    client = await aiohttp_client(init_app(settings.with_overrides(console_secret=secret),
                                           engine, aredis))  # fmt: skip
    cookie = _forged_cookie(secret, {"uid": seed.users["ana"], "role": "auditor", "csrf": "x"})
    client.session.cookie_jar.update_cookies({"cobrador_session": cookie})
    assert (await client.get(f"/attempts/{rec.attempt_id}")).status == 403
    client.session.cookie_jar.update_cookies({"cobrador_session": cookie})
    play = await client.post(
        f"/api/recordings/{rec.recording_id}/play", headers={"X-CSRF-Token": "x"}
    )
    assert play.status == 403
    assert _views(engine, "recording_play") == []


async def test_given_audio_without_a_valid_token_then_403(
    client: TestClient, engine: Engine, settings: Settings, seed: Seed, recording
) -> None:  # type: ignore[no-untyped-def]
    rec, _ = recording
    other_attempt = make_attempt(engine, seed.account_id, None, started_at=STARTED)
    other, _ = _record(engine, settings, other_attempt)
    auditor = await login(client, "raul")
    url = await _play_url(client, auditor, rec.recording_id)
    token = url.split("t=", 1)[1]
    base = f"/recordings/{rec.recording_id}/audio"
    for bad in ("", "?t=", "?t=nope", "?t=" + "a" * 500, "?t=%00%ff", "?t=../../x"):
        assert (await client.get(base + bad)).status == 403, bad
    # a token names one recording: not another one
    assert (await client.get(f"/recordings/{other.recording_id}/audio?t={token}")).status == 403
    await client.post("/logout", data={"_csrf": auditor})
    await login(client, "sofia")  # another user with a stolen URL
    assert (await client.get(url)).status == 403


async def _scoped_supervisor(engine: Engine, name: str, campaign: str | None) -> None:
    with transaction(engine) as session:
        campaign_id = None
        if campaign:
            found = session.execute(select(Campaign).where(Campaign.name == campaign)).scalar()
            if found is None:
                found = Campaign(name=campaign, country="MX", profile="MX")
                session.add(found)
                session.flush()
            campaign_id = found.id
        session.add(User(username=name, display_name=name, role="supervisor",
                         password_hash=_password_hash(), campaign_id=campaign_id))  # fmt: skip


async def test_given_supervisor_of_another_campaign_then_404_own_campaign_and_unscoped_200(
    client: TestClient, engine: Engine, recording
) -> None:  # type: ignore[no-untyped-def]
    """Another campaign's attempt and recording are answered exactly like ids that do
    not exist (a 403 told a supervisor tied to one campaign which ids the others hold)."""
    rec, _ = recording
    await _scoped_supervisor(engine, "otra", "co-demo")
    await _scoped_supervisor(engine, "propia", "mx-demo")
    token = await login(client, "otra")
    answers = []
    for attempt_id, recording_id in ((rec.attempt_id, rec.recording_id), (999999, 999999)):
        page = await client.get(f"/attempts/{attempt_id}")
        play = await client.post(
            f"/api/recordings/{recording_id}/play", headers={"X-CSRF-Token": token}
        )
        dl = await client.post(f"/recordings/{recording_id}/download", data={"_csrf": token})
        answers.append([(r.status, await r.text()) for r in (page, play, dl)])
    assert [status for status, _ in answers[0]] == [404, 404, 404]
    assert answers[0] == answers[1]
    assert _views(engine, "recording_play") == []
    assert _views(engine, "attempt") == []
    await client.post("/logout", data={"_csrf": token})
    for name in ("propia", "sofia"):  # tied to the call's campaign; tied to none
        token = await login(client, name)
        assert (await client.get(f"/attempts/{rec.attempt_id}")).status == 200
        url = await _play_url(client, token, rec.recording_id)
        assert (await client.get(url, headers={"Range": "bytes=0-1"})).status == 206
        await client.post("/logout", data={"_csrf": token})
    assert [v["actor"] for v in _views(engine, "recording_play")] == [
        "user:propia",
        "user:sofia",
    ]


@pytest.mark.parametrize("tied_to", ["mx-demo", "co-demo"])
async def test_given_a_call_of_one_campaign_from_anothers_debtor_then_only_unscoped_hear_it(
    client: TestClient, engine: Engine, settings: Settings, seed: Seed, tied_to: str
) -> None:
    """An inbound call on co-demo's number from mx-demo's debtor belongs to both: a
    supervisor tied to either one does not get the page (the other campaign's debtor)
    nor the recording; an unscoped supervisor does."""
    await _scoped_supervisor(engine, "otra", "co-demo")  # creates co-demo
    with transaction(engine) as session:
        co_demo = session.execute(select(Campaign.id).where(Campaign.name == "co-demo")).scalar()
    attempt = make_attempt(engine, seed.account_id, seed.users["ana"], started_at=STARTED,
                           direction="inbound", source="inbound")  # fmt: skip
    with transaction(engine) as session:
        session.execute(
            update(CallAttempt).where(CallAttempt.id == attempt).values(campaign_id=co_demo)
        )
    rec, _ = _record(engine, settings, attempt)
    await _scoped_supervisor(engine, "tied", tied_to)
    token = await login(client, "tied")
    assert (await client.get(f"/attempts/{attempt}")).status == 404
    play = await client.post(f"/api/recordings/{rec.recording_id}/play",
                             headers={"X-CSRF-Token": token})  # fmt: skip
    assert play.status == 404
    await client.post("/logout", data={"_csrf": token})
    token = await login(client, "sofia")
    assert (await client.get(f"/attempts/{attempt}")).status == 200
    await _play_url(client, token, rec.recording_id)


async def test_given_play_without_csrf_then_403_and_no_audit(
    client: TestClient, engine: Engine, recording
) -> None:  # type: ignore[no-untyped-def]
    rec, _ = recording
    await login(client, "raul")
    resp = await client.post(f"/api/recordings/{rec.recording_id}/play")
    assert resp.status == 403
    assert _views(engine, "recording_play") == []


async def test_given_unknown_ids_and_odd_paths_then_404_never_500(
    client: TestClient, recording
) -> None:  # type: ignore[no-untyped-def]
    token = await login(client, "raul")
    headers = {"X-CSRF-Token": token}
    assert (await client.post("/api/recordings/999999/play", headers=headers)).status == 404
    assert (await client.get("/attempts/999999")).status == 404
    for path in ("/recordings/..%2F..%2Fetc%2Fpasswd/audio", "/recordings/1e3/audio",
                 "/recordings/-1/audio", "/recordings/" + "9" * 30 + "/audio",
                 "/attempts/abc", "/attempts/" + "9" * 30):  # fmt: skip
        assert (await client.get(path)).status == 404, path


async def test_given_file_changed_missing_or_purged_then_play_refused_with_reason(
    client: TestClient, engine: Engine, settings: Settings, recording
) -> None:  # type: ignore[no-untyped-def]
    rec, data = recording
    token = await login(client, "raul")
    path = DirectoryStorage(settings.recordings_dir).path(rec.storage_key)
    play = f"/api/recordings/{rec.recording_id}/play"
    path.write_bytes(data[:500])
    resp = await client.post(play, headers={"X-CSRF-Token": token})
    assert resp.status == 409 and "audit verify" in (await resp.json())["reason"]
    path.unlink()
    resp = await client.post(play, headers={"X-CSRF-Token": token})
    assert resp.status == 404
    with transaction(engine) as session:
        session.execute(update(Recording).values(purged_at=NOW))
    resp = await client.post(play, headers={"X-CSRF-Token": token})
    assert resp.status == 410
    page = await client.get(f"/attempts/{rec.attempt_id}")
    assert "Eliminada al vencer su retención" in await page.text()
    assert _views(engine, "recording_play") == []


async def test_given_missing_recording_row_then_page_shows_status_and_reason(
    client: TestClient, engine: Engine, settings: Settings, seed: Seed
) -> None:
    attempt = make_attempt(engine, seed.account_id, None, started_at=STARTED)
    storage = DirectoryStorage(settings.recordings_dir)
    finalize_recording(
        engine, storage, attempt_id=attempt, key=storage.key_for(attempt, STARTED),
        started_at=STARTED, ended_at=NOW, now=NOW,
    )  # fmt: skip
    await login(client, "raul")
    html = await (await client.get(f"/attempts/{attempt}")).text()
    assert "Falta el archivo" in html and "no file at" in html
    assert 'id="recording-play"' not in html


async def test_given_auditor_when_holding_and_releasing_from_the_page_then_row_and_audit(
    client: TestClient, engine: Engine, recording
) -> None:  # type: ignore[no-untyped-def]
    rec, _ = recording
    token = await login(client, "raul")
    hold = f"/recordings/{rec.recording_id}/hold"
    empty = await client.post(hold, data={"_csrf": token, "reason": "  "})
    assert empty.status == 400
    assert "Escriba el motivo de la retención legal." in await empty.text()
    resp = await client.post(hold, data={"_csrf": token, "reason": "Queja PROFECO 88"},
                             allow_redirects=False)  # fmt: skip
    assert resp.status == 302 and resp.headers["Location"].startswith(f"/attempts/{rec.attempt_id}")
    page = await (await client.get(resp.headers["Location"])).text()
    assert "Queja PROFECO 88" in page and "Levantar retención legal" in page
    with transaction(engine) as session:
        row = session.get(Recording, rec.recording_id)
        assert row is not None and row.legal_hold and row.hold_by == "user:raul"
    release = f"/recordings/{rec.recording_id}/release"
    resp = await client.post(release, data={"_csrf": token}, allow_redirects=False)
    assert resp.status == 302
    again = await client.post(release, data={"_csrf": token})
    assert again.status == 400
    with transaction(engine) as session:
        actions = [
            json.loads(e.payload)["action"]
            for e in session.execute(
                select(AuditEntry)
                .where(AuditEntry.kind == "recording_hold")
                .order_by(AuditEntry.id)
            ).scalars()
        ]
    assert actions == ["hold", "release"]


async def test_given_supervisor_when_setting_a_hold_then_403(client: TestClient, recording) -> None:  # type: ignore[no-untyped-def]
    rec, _ = recording
    token = await login(client, "sofia")
    page = await (await client.get(f"/attempts/{rec.attempt_id}")).text()
    assert 'id="recording-hold-form"' not in page
    resp = await client.post(f"/recordings/{rec.recording_id}/hold",
                             data={"_csrf": token, "reason": "x"})  # fmt: skip
    assert resp.status == 403


async def test_given_english_when_opening_the_attempt_then_english_labels(
    client: TestClient, recording
) -> None:  # type: ignore[no-untyped-def]
    rec, _ = recording
    await login(client, "raul")
    html = await (await client.get(f"/attempts/{rec.attempt_id}?lang=en")).text()
    assert "Recording" in html and "Play" in html and "Download" in html
    assert "Reproducir" not in html


def test_given_settings_then_console_serves_from_the_recordings_dir(settings: Settings) -> None:
    assert settings.recordings_dir == Path(settings.data_dir) / "recordings"


async def test_given_inbound_call_without_account_then_page_and_play_work(
    client: TestClient, engine: Engine, settings: Settings, seed: Seed
) -> None:
    from store.models import CallAttempt

    with transaction(engine) as session:
        attempt = CallAttempt(
            account_id=None, phone_e164="+525599990000", campaign_id=seed.campaign_id,
            direction="inbound", source="inbound", started_at=STARTED, result="contact",
        )  # fmt: skip
        session.add(attempt)
        session.flush()
        attempt_id = attempt.id
    rec, path = _record(engine, settings, attempt_id)
    token = await login(client, "raul")
    assert (await client.get(f"/attempts/{attempt_id}")).status == 200
    url = await _play_url(client, token, rec.recording_id)
    resp = await client.get(url, headers={"Range": "bytes=0-3"})
    assert resp.status == 206 and await resp.read() == b"RIFF"
    [view] = _views(engine, "recording_play")
    assert view["account_ids"] == []


async def test_given_attempt_without_recording_then_page_says_so(
    client: TestClient, engine: Engine, seed: Seed
) -> None:
    attempt = make_attempt(engine, seed.account_id, None, started_at=STARTED)
    await login(client, "sofia")
    html = await (await client.get(f"/attempts/{attempt}")).text()
    assert 'id="recording-none"' in html and 'id="recording-audio"' not in html


async def test_given_head_request_then_headers_without_body(client: TestClient, recording) -> None:  # type: ignore[no-untyped-def]
    rec, data = recording
    token = await login(client, "raul")
    url = await _play_url(client, token, rec.recording_id)
    resp = await client.head(url, headers={"Range": "bytes=10-19"})
    assert resp.status == 206 and resp.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert await resp.read() == b""


async def test_given_an_attempt_when_the_auditor_opens_it_then_its_times_are_the_debtors_named(
    client: TestClient, engine: Engine, seed: Seed
) -> None:
    import re

    from store.audit import append as audit_append

    attempt = make_attempt(engine, seed.account_id, None, started_at=STARTED)  # 16:58 UTC
    with transaction(engine) as session:
        audit_append(session, "attempt", {"attempt_id": attempt}, now=NOW)
    await login(client, "raul")
    html = await (await client.get(f"/attempts/{attempt}")).text()
    # The account's zone (America/Mexico_City, UTC-6), said by its city; UTC kept for machines.
    started = re.search(r'id="attempt-started">(.*?)</dd>', html)
    assert started is not None and started.group(1) == (
        '<time datetime="2026-11-24T16:58+00:00">24 nov 2026, 10:58</time> '
        '<span class="muted small zone">Ciudad de México</span>')  # fmt: skip
    assert "Fecha (UTC)" not in html and " UTC ·" not in html
    assert re.findall(r'id="audit-zone">([^<]*)<', html) == ["Horas en Ciudad de México."]
    assert '<time datetime="2026-11-24T17:00+00:00">24 nov 2026, 11:00</time>' in html
    # The contact list below reads the same way: the city, never the zone's id.
    assert "America/Mexico_City" not in html
    english = await (await client.get(f"/attempts/{attempt}?lang=en")).text()
    assert "Nov 24, 2026, 10:58" in english and "Mexico City" in english
    assert "Times in Mexico City." in english


async def test_given_a_withheld_call_from_no_account_then_its_time_is_said_in_utc(
    client: TestClient, engine: Engine, seed: Seed
) -> None:
    import re

    from store.models import CallAttempt

    with transaction(engine) as session:
        row = CallAttempt(account_id=None, phone_e164="", campaign_id=seed.campaign_id,
                          direction="inbound", source="inbound", started_at=STARTED)  # fmt: skip
        session.add(row)
        session.flush()
        attempt_id = row.id
    await login(client, "raul")
    html = await (await client.get(f"/attempts/{attempt_id}")).text()
    started = re.search(r'id="attempt-started">(.*?)</dd>', html)
    assert started is not None and started.group(1).endswith(
        '>24 nov 2026, 16:58</time> <span class="muted small zone">UTC</span>')  # fmt: skip


async def test_given_a_recording_kept_or_purged_when_the_auditor_reads_when_then_the_debtors_day_time_and_city(
    client: TestClient, engine: Engine, recording
) -> None:  # type: ignore[no-untyped-def]
    import re
    from datetime import UTC, datetime

    rec, _data = recording
    # 05:30 UTC on the 22nd is still 23:30 on the 21st in Mexico City: a bare UTC date
    # ("2027-02-22") named the wrong day, and no zone.
    kept = datetime(2027, 2, 22, 5, 30, tzinfo=UTC)
    with transaction(engine) as session:
        session.execute(update(Recording).values(retention_until=kept))
    await login(client, "raul")
    html = await (await client.get(f"/attempts/{rec.attempt_id}")).text()
    assert re.findall(r'id="recording-kept">([^<]*)<', html) == [
        "21 feb 2027, 23:30 (Ciudad de México)"
    ]
    english = await (await client.get(f"/attempts/{rec.attempt_id}?lang=en")).text()
    assert "Feb 21, 2027, 23:30 (Mexico City)" in english
    with transaction(engine) as session:
        session.execute(update(Recording).values(purged_at=kept))
    html = await (await client.get(f"/attempts/{rec.attempt_id}?lang=es")).text()
    assert "Eliminada al vencer su retención · 21 feb 2027, 23:30 (Ciudad de México)" in html


@pytest.mark.parametrize("lang", ["es", "en"])
async def test_given_a_recording_when_the_page_shows_its_size_then_in_kb_never_raw_bytes(
    client: TestClient, recording, lang: str
) -> None:  # type: ignore[no-untyped-def]
    rec, data = recording
    await login(client, "raul")
    html = await (await client.get(f"/attempts/{rec.attempt_id}?lang={lang}")).text()
    [size] = re.findall(r'<dd id="recording-size">([^<]*)</dd>', html)
    kb = len(data) / 1024
    assert len(data) > 1024 and size == f"{kb:,.1f} KB".replace(".0 KB", " KB"), size
    assert f"{len(data)} bytes" not in html
