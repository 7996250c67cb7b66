"""Attempt page with its recording: play (range requests), download, legal hold.

One play = one audit entry: the page POSTs for a play token (audited), the
<audio> element then fetches `/recordings/{id}/audio?t=TOKEN` in as many
range requests as it likes (not audited again). A download is one POST,
audited, answered with the whole file as an attachment.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from console import audit_log_views
from console import recording_service as svc
from console.byte_ranges import Unsatisfiable, parse_range
from console.code_labels import outcome_label, party_label, result_label
from console.contact_labels import message_result_label
from console.debtor_locale import console_locale
from console.i18n import N_, gettext_
from console.keys import CLOCK, COMPLIANCE, ENGINE, REDIS, SETTINGS
from console.other_accounts import other_accounts
from console.play_tokens import PLAY_TOKEN_SECONDS, PlayTokens
from console.timeline import timeline_for
from console.webutil import in_db, json_error, requires, user_of
from store.models import Role
from store.recordings.hold import HoldError, NoRecording, release_hold, set_hold
from store.recordings.storage import DirectoryStorage, RecordingStorage, extension_of

log = logging.getLogger(__name__)

STORAGE: web.AppKey[RecordingStorage] = web.AppKey("recording_storage")
CONTENT_TYPES = {"wav": "audio/wav", "gsm": "audio/x-gsm", "mp3": "audio/mpeg", "ogg": "audio/ogg"}
PRIVATE = {"Cache-Control": "no-store"}


def setup_routes(app: web.Application) -> None:
    if STORAGE not in app:
        app[STORAGE] = DirectoryStorage(app[SETTINGS].recordings_dir)
    r = app.router
    r.add_get("/attempts/{attempt_id:\\d{1,18}}", attempt_page)
    r.add_post("/api/recordings/{recording_id:\\d{1,18}}/play", play)
    r.add_get("/recordings/{recording_id:\\d{1,18}}/audio", audio)
    r.add_post("/recordings/{recording_id:\\d{1,18}}/download", download)
    r.add_post("/recordings/{recording_id:\\d{1,18}}/hold", hold)
    r.add_post("/recordings/{recording_id:\\d{1,18}}/release", release)


def _storage(request: web.Request) -> RecordingStorage:
    return request.app[STORAGE]


async def _render_attempt(
    request: web.Request, attempt_id: int, *, error: str | None = None, status: int = 200
) -> web.StreamResponse:
    user = user_of(request)
    page = await in_db(request, svc.attempt_page, attempt_id)
    # Another campaign's attempt is answered exactly like one that does not exist: a
    # 403 told a supervisor tied to one campaign which ids the others hold.
    if page is None or not svc.may_see_call(user, page["campaigns"]):
        raise web.HTTPNotFound()
    await in_db(request, svc.record_attempt_view, user, page)
    # Its times in the debtor's zone, named by its city (console/debtor_locale.py).
    words = console_locale()
    zones = page["zones"]
    evidence = None
    if user.role in (Role.auditor, Role.admin):
        evidence = [{**e, "at": words.stamp(e["created_at"], zones)}
                    for e in await in_db(request, audit_log_views.entries_of_attempt, attempt_id)]  # fmt: skip
    # Every contact with the account on every channel, and the messages not sent.
    contacts = []
    if page.get("account_id"):
        contacts = await in_db(request, timeline_for, page["account_id"])
    this = next((c for c in contacts if c["attempt_id"] == attempt_id), None)
    # The debtor's other accounts, those this user may see (console/other_accounts.py).
    others = None
    if page.get("account_id"):
        others = await other_accounts(request.app[ENGINE], request.app[COMPLIANCE], user,
                                      page["account_id"], request.app[CLOCK]())  # fmt: skip
    # Codes in words for the person reading the page (the exports keep the codes).
    page = {**page, "started": words.stamp(page["started_at"], zones),
            "result_label": message_result_label(page["channel"], page["result"], result_label),
            "party_label": party_label(page["party"]) if page["party"] else "",
            "outcome_label": outcome_label(page["outcome"], page["channel"]) if page["outcome"] else ""}  # fmt: skip
    if page.get("recording"):  # kept until, purged at: in the debtor's zone, named
        rec, zone = page["recording"], zones[0] if zones else None
        page["recording"] = {**rec, "retention_shown": words.when(rec["retention_until"], zone),
                             "purged_shown": words.when(rec["purged_at"], zone),
                             # "46.9 KB" in the reader's notation (the exports keep bytes)
                             "size_shown": None if rec["size_bytes"] is None
                             else words.size(rec["size_bytes"])}  # fmt: skip
    response = aiohttp_jinja2.render_template(
        "attempt.html",
        request,
        {"a": page, "error": error, "message": _done(request),
         "can_hold": user.role in (Role.auditor, Role.admin), "audit_entries": evidence,
         "timeline": contacts, "this_contact": this, "others": others},
        status=status,
    )  # fmt: skip
    response.headers.update(PRIVATE)
    return response


@requires(Role.supervisor, Role.auditor)
async def attempt_page(request: web.Request) -> web.StreamResponse:
    return await _render_attempt(request, int(request.match_info["attempt_id"]))


async def _recording(request: web.Request) -> svc.RecordingRef | web.Response:
    """The recording the URL names, if this user may have it; else the error response."""
    ref = await in_db(request, svc.load_recording, int(request.match_info["recording_id"]))
    # Another campaign's recording is answered exactly like one that does not exist
    # (a 403 there was an oracle of which ids the other campaigns hold).
    if ref is None or not svc.may_see_call(user_of(request), ref.campaigns):
        return _error(request, 404, gettext_("No existe esa grabación."))
    if ref.purged_at is not None:
        return _error(request, 410, gettext_("La grabación fue eliminada al vencer su retención."))
    if not ref.playable:
        return _error(request, 404, gettext_("Esta llamada no tiene un archivo de grabación."))
    size = await asyncio.to_thread(_storage(request).size, ref.storage_key)
    if size is None:
        return _error(request, 404, gettext_("Falta el archivo de la grabación."))
    if size != ref.size_bytes:
        log.warning("recording %s: file is %s bytes, its row says %s", ref.id, size,
                    ref.size_bytes)  # fmt: skip
        return _error(request, 409, gettext_("El archivo no coincide con su registro; "
                                             "ejecute cobrador audit verify --recordings."))  # fmt: skip
    return ref


def _error(request: web.Request, status: int, reason: str) -> web.Response:
    if request.path.startswith("/api/"):
        return json_error(status, reason)
    return web.Response(status=status, text=reason, headers=PRIVATE)


@requires(Role.supervisor, Role.auditor)
async def play(request: web.Request) -> web.StreamResponse:
    found = await _recording(request)
    if isinstance(found, web.Response):
        return found
    user = user_of(request)
    await in_db(request, svc.record_recording_view, user, found, "play", request.app[CLOCK]())
    token = await PlayTokens(request.app[REDIS]).issue(user.id, found.id)
    url = f"/recordings/{found.id}/audio?{urlencode({'t': token})}"
    return web.json_response(
        {"ok": True, "url": url, "expires_in": PLAY_TOKEN_SECONDS}, headers=PRIVATE
    )


def _headers(ref: svc.RecordingRef, **extra: str) -> dict[str, str]:
    ext = extension_of(ref.storage_key)
    return {
        "Content-Type": CONTENT_TYPES.get(ext, "application/octet-stream"),
        "Accept-Ranges": "bytes",
        "ETag": f'"{ref.sha256}"',
        **PRIVATE,
        **extra,
    }


@requires(Role.supervisor, Role.auditor)
async def audio(request: web.Request) -> web.StreamResponse:
    user = user_of(request)
    token = request.query.get("t", "")
    rid = int(request.match_info["recording_id"])
    if not await PlayTokens(request.app[REDIS]).valid(token, user.id, rid):
        return _error(request, 403, gettext_("Pida la reproducción desde la página del intento."))
    found = await _recording(request)
    if isinstance(found, web.Response):
        return found
    size = found.size_bytes or 0
    wanted = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range != f'"{found.sha256}"':
        wanted = None  # the client's copy is of another file: send it whole
    try:
        part = parse_range(wanted, size)
    except Unsatisfiable:
        return web.Response(
            status=416, headers={**_headers(found), "Content-Range": f"bytes */{size}"}
        )
    if part is None:
        return await _stream(request, found, 0, size - 1, 200, _headers(found))
    headers = _headers(found, **{"Content-Range": part.content_range(size)})
    return await _stream(request, found, part.start, part.end, 206, headers)


@requires(Role.supervisor, Role.auditor)
async def download(request: web.Request) -> web.StreamResponse:
    found = await _recording(request)
    if isinstance(found, web.Response):
        return found
    user = user_of(request)
    await in_db(request, svc.record_recording_view, user, found, "download", request.app[CLOCK]())
    name = f"grabacion-{found.attempt_id}.{extension_of(found.storage_key)}"
    headers = _headers(found, **{"Content-Disposition": f'attachment; filename="{name}"'})
    return await _stream(request, found, 0, (found.size_bytes or 0) - 1, 200, headers)


async def _stream(
    request: web.Request,
    ref: svc.RecordingRef,
    start: int,
    end: int,
    status: int,
    headers: dict[str, str],
) -> web.StreamResponse:
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = end - start + 1
    await response.prepare(request)
    if request.method == "HEAD":
        return response
    chunks: Iterator[bytes] = _storage(request).iter_range(ref.storage_key, start, end)
    try:
        while chunk := await asyncio.to_thread(next, chunks, b""):
            await response.write(chunk)
    except ConnectionResetError:  # the player went away (a seek, a closed tab): normal
        return response
    finally:
        chunks_close = getattr(chunks, "close", None)
        if chunks_close is not None:
            await asyncio.to_thread(chunks_close)
    await response.write_eof()
    return response


async def _hold_action(request: web.Request, action: str) -> web.StreamResponse:
    user = user_of(request)
    ref = await in_db(request, svc.load_recording, int(request.match_info["recording_id"]))
    if ref is None:
        raise web.HTTPNotFound()
    form = await request.post()
    reason = str(form.get("reason", ""))
    now = request.app[CLOCK]()
    try:
        if action == "hold":
            await in_db(request, _set, ref.attempt_id, reason, user.actor, now)
        else:
            await in_db(request, _release, ref.attempt_id, reason, user.actor, now)
    except NoRecording:
        raise web.HTTPNotFound() from None
    except HoldError as exc:
        log.info("legal %s refused for recording %s: %s", action, ref.id, exc)
        return await _render_attempt(request, ref.attempt_id, error=_hold_error(exc), status=400)
    raise web.HTTPFound(f"/attempts/{ref.attempt_id}?{urlencode({'done': action})}")


# What a redirect after a hold may ask the page to confirm (?done=code): never words
# from the URL, so a crafted link cannot speak in the console's own voice.
DONE = {
    "hold": N_("La grabación quedó bajo retención legal."),
    "release": N_("Se levantó la retención legal."),
}


def _done(request: web.Request) -> str | None:
    done = DONE.get(request.query.get("done", ""))
    return gettext_(done) if done else None


HOLD_ERRORS = {
    "reason_required": N_("Escriba el motivo de la retención legal."),
    "reason_too_long": N_("El motivo es demasiado largo (máximo 500 caracteres)."),
    "purged": N_("La grabación ya fue eliminada; no hay archivo que retener."),
    "not_held": N_("La grabación no está bajo retención legal."),
}


def _hold_error(exc: HoldError) -> str:
    return gettext_(HOLD_ERRORS.get(exc.code, HOLD_ERRORS["not_held"]))


def _set(engine: Any, attempt_id: int, reason: str, actor: str, now: Any) -> None:
    set_hold(engine, attempt_id, reason=reason, actor=actor, now=now)


def _release(engine: Any, attempt_id: int, reason: str, actor: str, now: Any) -> None:
    release_hold(engine, attempt_id, actor=actor, now=now, reason=reason)


@requires(Role.auditor)
async def hold(request: web.Request) -> web.StreamResponse:
    return await _hold_action(request, "hold")


@requires(Role.auditor)
async def release(request: web.Request) -> web.StreamResponse:
    return await _hold_action(request, "release")
