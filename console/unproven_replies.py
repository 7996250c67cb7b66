"""Supervisors: the inbound e-mails whose sender the receiving mail server did not prove
(`reply_unproven` audit entries, outreach/channels/delivery.py), for a person to read.

Such a mail acts on no account (its From: may be anyone's), yet it may be a debtor whose
server lacks DMARC asking to be left alone or disputing the debt: it is listed here until
a supervisor marks it handled (one row per entry, audited), then in the handled list.
The lists are personal data: each page shown is a `pii_view` audit entry. Who sent a
mail and what it said are kept in `unproven_reply_texts`, the supervisor's note in
`unproven_replies_handled` (their audit entries hold a digest of each), deleted
`retention` after it was handled (purge_texts, hourly); the handled list says so."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import Engine, delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError

from console.debtor_locale import console_locale
from console.i18n import gettext_
from console.keys import CLOCK, ENGINE, SETTINGS
from console.params import ParamError, id_or_404, parse_id
from console.supervisor_views import plan_scope
from console.users import CurrentUser
from console.webutil import in_db, reader_zone, requires, user_of
from outreach.channels.delivery import UNPROVEN_KIND, storable
from store.audit import append as audit_append
from store.audit import said_digest
from store.db import transaction
from store.models import AuditEntry, Role, UnprovenReplyHandled, UnprovenReplyText, User

log = logging.getLogger(__name__)

HANDLED_KIND = "reply_unproven_handled"
PAGE_SIZE = 50
# The open ones are counted up to this many; beyond it the page says "more than".
COUNT_CAP = 1000
EXCERPT_CHARS = 500
MAX_NOTE_CHARS = 500
PATH = "/supervisor/unproven-mail"
HANDLED_PATH = PATH + "/handled"
PII_PAGE = "unproven_mail"
PII_PAGE_HANDLED = "unproven_mail_handled"
PURGE_KIND = "unproven_reply_texts_purged"
PURGE_EVERY_SECONDS = 3600


def may_read(user: CurrentUser) -> bool:
    """These mails name no account, so no campaign: only a supervisor over every
    campaign (or an admin) reads them, never one tied to a single campaign."""
    return plan_scope(user) is None


def _received(payload: dict[str, Any], written: datetime) -> datetime:
    """When the listener received it (the payload's instant), else when it was kept."""
    raw = payload.get("received_at")
    if isinstance(raw, str):
        try:
            at = datetime.fromisoformat(raw[:40])
        except ValueError:
            return written
        if at.tzinfo is not None:
            return at
    return written


def _text(payload: dict[str, Any], key: str, limit: int) -> str | None:
    value = payload.get(key)
    return value[:limit] if isinstance(value, str) else None


def open_replies(engine: Engine, before: int | None,
                 reader: CurrentUser) -> tuple[list[dict[str, Any]], int, bool]:  # fmt: skip
    """One page (newest first, ids below `before`) of the entries nobody handled yet,
    their count (at most COUNT_CAP + 1), and whether older ones remain. A page that
    shows any is the reader's `pii_view`, naming the entries, in the same transaction."""
    return _replies(engine, before, reader, handled=False)


def handled_replies(engine: Engine, before: int | None,
                    reader: CurrentUser) -> tuple[list[dict[str, Any]], int, bool]:  # fmt: skip
    """open_replies for the entries a supervisor handled: who did, when, their note,
    and, once purge_texts deleted the words, when (None where a value is gone)."""
    return _replies(engine, before, reader, handled=True)


def _replies(engine: Engine, before: int | None, reader: CurrentUser,
             handled: bool) -> tuple[list[dict[str, Any]], int, bool]:  # fmt: skip
    # The page joins the handled rows itself: the subquery correlates the entry only.
    done = exists().where(UnprovenReplyHandled.entry_id == AuditEntry.id).correlate(AuditEntry)
    which = (AuditEntry.kind == UNPROVEN_KIND, done if handled else ~done)
    page = (
        select(AuditEntry, UnprovenReplyText, UnprovenReplyHandled, User.username)
        .outerjoin(UnprovenReplyText, UnprovenReplyText.entry_id == AuditEntry.id)
        .outerjoin(UnprovenReplyHandled, UnprovenReplyHandled.entry_id == AuditEntry.id)
        .outerjoin(User, User.id == UnprovenReplyHandled.handled_by)
        .where(*which)
    )
    if before is not None:
        page = page.where(AuditEntry.id < before)
    with transaction(engine) as session:
        count = session.scalar(select(func.count()).select_from(
            select(AuditEntry.id).where(*which).limit(COUNT_CAP + 1).subquery()))  # fmt: skip
        entries = list(session.execute(page.order_by(AuditEntry.id.desc()).limit(PAGE_SIZE + 1)))
        rows = [_row(*found) for found in entries[:PAGE_SIZE]]
        if rows:
            fields = ["address", "subject", "text"] + (["note"] if handled else [])
            audit_append(session, "pii_view",
                         {"page": PII_PAGE_HANDLED if handled else PII_PAGE,
                          "entries": [r["id"] for r in rows], "fields": fields},
                         actor=reader.actor, subject=None)  # fmt: skip
    return rows, int(count or 0), len(entries) > PAGE_SIZE


def _row(entry: AuditEntry, said: UnprovenReplyText | None,
         done: UnprovenReplyHandled | None, handler: str | None) -> dict[str, Any]:  # fmt: skip
    """What the page shows of one entry; None for a value purge_texts deleted."""
    try:
        payload = json.loads(entry.payload)
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    # Entries written before the words (0033) or the address (0035) had their own table
    # carry them in the payload, for ever.
    address = said.address if said else None
    subject = said.subject[:300] if said else _text(payload, "subject", 300)
    text = said.text[: EXCERPT_CHARS + 1] if said else _text(payload, "text", EXCERPT_CHARS + 1)
    return {
        "id": entry.id,
        "address": address if address is not None else _text(payload, "address", 254),
        "subject": subject,
        "excerpt": None if text is None
                   else text[:EXCERPT_CHARS] + ("…" if len(text) > EXCERPT_CHARS else ""),
        "why": _text(payload, "why", 200) or "",
        "received_at": _received(payload, entry.created_at),
        "handled_at": done.handled_at if done else None,
        "handled_by": handler or "",
        "note": done.note if done else None,
        "purged_at": done.words_purged_at if done else None,
    }  # fmt: skip


def purge_texts(engine: Engine, now: datetime, retention: timedelta) -> int:
    """Delete who sent the mails handled more than `retention` ago, what they said and
    the supervisor's note (their audit entries keep a digest of each), marking each
    mail purged now; one audit entry per purge that deleted any. Open ones are kept: a
    person has yet to read them. Returns how many mails were purged."""
    cutoff = now - retention
    due = select(UnprovenReplyHandled.entry_id).where(UnprovenReplyHandled.handled_at < cutoff)
    with transaction(engine) as session:
        texts = session.execute(
            delete(UnprovenReplyText).where(UnprovenReplyText.entry_id.in_(due))
        ).rowcount  # type: ignore[attr-defined]
        mails = session.execute(
            update(UnprovenReplyHandled)
            .where(
                UnprovenReplyHandled.handled_at < cutoff,
                UnprovenReplyHandled.words_purged_at.is_(None),
            )
            .values(note=None, words_purged_at=now)
        ).rowcount  # type: ignore[attr-defined]
        if texts or mails:
            audit_append(session, PURGE_KIND, {"mails": mails, "texts": texts,
                                               "handled_before": cutoff.isoformat()},
                         actor="system", subject=None, now=now)  # fmt: skip
        return int(mails or 0)


async def purge_texts_ctx(app: web.Application) -> AsyncIterator[None]:
    """purge_texts at start and every hour, in a worker thread."""
    retention = timedelta(days=app[SETTINGS].unproven_reply_retention_days)  # 1 or more

    async def loop() -> None:
        while True:
            try:
                await asyncio.to_thread(purge_texts, app[ENGINE], app[CLOCK](), retention)
            except Exception:  # a store outage: the next round retries
                log.warning("purging the texts of unproven mails failed", exc_info=True)
            await asyncio.sleep(PURGE_EVERY_SECONDS)

    task = asyncio.create_task(loop(), name="unproven-texts-purge")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def mark_handled(engine: Engine, entry_id: int, user: CurrentUser, note: str,
                 now: datetime) -> str:  # fmt: skip
    """'done', 'missing' (no such entry) or 'already' (someone handled it first)."""
    try:
        with transaction(engine) as session:
            entry = session.get(AuditEntry, entry_id)
            if entry is None or entry.kind != UNPROVEN_KIND:
                return "missing"
            if session.get(UnprovenReplyHandled, entry_id) is not None:
                return "already"
            session.add(UnprovenReplyHandled(entry_id=entry_id, handled_at=now,
                                             handled_by=user.id, note=note))  # fmt: skip
            session.flush()  # the primary key: two supervisors at once, one wins
            # The note may name the debtor or what they said: kept in the row (purged
            # with the mail's words), its digest in the entry kept for ever.
            audit_append(session, HANDLED_KIND, {"entry_id": entry_id,
                                                 **said_digest("note", note)},
                         actor=user.actor, subject=f"audit:{entry_id}", now=now)  # fmt: skip
            return "done"
    except IntegrityError:
        return "already"


def _query(zone: ZoneInfo | None, **more: Any) -> str:
    pairs = {**({"tz": zone.key} if zone else {}), **more}
    return f"?{urlencode(pairs, safe='/')}" if pairs else ""


@requires(Role.supervisor)
async def unproven_page(request: web.Request) -> web.StreamResponse:
    return await _page(request, handled=False)


@requires(Role.supervisor)
async def handled_page(request: web.Request) -> web.StreamResponse:
    return await _page(request, handled=True)


async def _page(request: web.Request, handled: bool) -> web.StreamResponse:
    zone = reader_zone(request)
    raw_before = request.query.get("before")
    try:
        before = parse_id(raw_before, "before") if raw_before is not None else None
    except ParamError:
        raise web.HTTPBadRequest(text=gettext_("Página inválida.")) from None
    shown = zone or ZoneInfo("UTC")  # before the browser has said its zone (or without JS)
    words = console_locale()
    allowed = may_read(user_of(request))
    rows: list[dict[str, Any]] = []
    count, more = 0, False
    if allowed:
        listing = handled_replies if handled else open_replies
        rows, count, more = await in_db(request, listing, before, user_of(request))
    for row in rows:
        row["at"] = words.stamp(row["received_at"], (shown,))
        row["handled"] = words.stamp(row["handled_at"], (shown,))
        row["purged"] = words.stamp(row["purged_at"], (shown,))
    return aiohttp_jinja2.render_template("supervisor_unproven.html", request, {
        "allowed": allowed, "replies": rows, "count": count, "handled": handled,
        "count_capped": count > COUNT_CAP, "count_cap": COUNT_CAP,
        "zone_label": words.zone_name(shown), "tz_query": _query(zone),
        "older": _query(zone, before=rows[-1]["id"]) if more and rows else "",
        "max_note": MAX_NOTE_CHARS, "list_path": HANDLED_PATH if handled else PATH,
        "retention_days": request.app[SETTINGS].unproven_reply_retention_days,
    })  # fmt: skip


@requires(Role.supervisor)
async def unproven_done(request: web.Request) -> web.StreamResponse:
    entry_id = id_or_404(request.match_info["entry_id"])
    zone = reader_zone(request)  # a bad zone refused before anything is written
    user = user_of(request)
    if not may_read(user):
        raise web.HTTPNotFound()
    form = await request.post()
    note = storable(str(form.get("note", ""))).strip()  # a column, not JSON: no NUL
    if len(note) > MAX_NOTE_CHARS:
        raise web.HTTPBadRequest(text=gettext_(
            "La nota es demasiado larga: escriba como máximo 500 caracteres."))  # fmt: skip
    result = await in_db(request, mark_handled, entry_id, user, note, request.app[CLOCK]())
    if result == "missing":
        raise web.HTTPNotFound()
    if result == "already":
        raise web.HTTPConflict(text=gettext_("Otra persona ya marcó este correo como atendido."))
    raise web.HTTPSeeOther(PATH + _query(zone))


def setup_routes(app: web.Application) -> None:
    app.router.add_get(PATH, unproven_page)
    app.router.add_get(HANDLED_PATH, handled_page)
    app.router.add_post(PATH + "/{entry_id}/done", unproven_done)
