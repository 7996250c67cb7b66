"""The debtor's self-service portal: mobile-first pages in Spanish and English, reached
from a signed short-lived link (`/p/<token>`, outreach/links.py) or by reference at
`/p`, and nothing about the debt before the identity check (selfservice/identity.py).
Thin: parse, call selfservice/debtor_actions.py, render. Every page that shows the
account is a `pii_view` audit entry; every action a debtor-initiated ledger entry.

The portal's session is a row in SQL (selfservice/portal_sessions.py) whose random id
the console's encrypted cookie carries (``portal``: the account and that id); it ends
20 minutes after the debtor's last page or form, an hour after the check at the latest,
and at "Salir" for every copy of the cookie. Supervisors see the tasks the portal opens (disputes) at /supervisor/tasks.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import re
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session
from redis.exceptions import RedisError
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from compliance.debtor_time import debtor_zones
from console import verify_lock
from console.code_labels import plan_status_label
from console.contact_labels import CHANNEL_LABELS
from console.debtor_locale import DateTyped, DebtorLocale, console_locale, debtor_locale
from console.i18n import N_, gettext_
from console.keys import CALLBACK_CHECKER, CLOCK, COMPLIANCE, ENGINE, LANG, REDIS, SETTINGS
from console.money import MoneyError, MoneyFormat, money_format, parse_amount
from console.params import id_or_404
from console.payment_plans import INTERVAL_LABELS
from console.payment_webhook_views import payment_provider
from console.portal_blocks import account_blocks, account_line, block_line
from console.portal_chat_glance import AgentReply, agent_replied_last, when_label
from console.security import new_csrf_token
from console.supervisor_views import plan_scope
from console.webutil import in_db, reader_zone, requires, user_of
from outreach.links import LinkError, verify
from selfservice import debtor_actions as da
from selfservice import identity as idc
from selfservice import portal_sessions
from selfservice.payment_links import (
    PaymentLinkError,
    ProviderUnavailable,
    TooManyLinks,
    create_link,
)
from store.audit import append as audit_append
from store.db import transaction
from store.models import Account, Role, SupervisorTask

log = logging.getLogger(__name__)

MAX_FIELD = 2000  # characters of any one form field read
SESSION_KEY = "portal"
TOKEN = r"[A-Za-z0-9_-]{20,80}"
DISPUTE_LABELS = {
    "denies": N_("No reconozco esta deuda"),
    "paid": N_("Ya la pagué"),
    "proof": N_("Quiero ver los documentos que la respaldan"),
}
DONE_MESSAGES = {
    "promise": N_("Su promesa de pago quedó registrada."),
    "plan": N_("Su plan de pagos quedó registrado."),
    "plan_pending": N_(
        "Su plan pasa de lo que se aprueba en automático: un supervisor lo revisará."
    ),
    "callback": N_("Le llamaremos a la hora elegida."),
    "dispute": N_("Registramos su disputa: no le llamaremos mientras la revisamos."),
    "opt_out": N_("Registramos su baja: no le contactaremos más por ese medio."),
    "opt_in": N_("Registramos su autorización: podremos contactarle de nuevo por ese medio."),
}
OPT_OUT_CHANNELS = ("call", "sms", "whatsapp", "email", "visit", "letter")
PORTAL_LOCKED_LABEL = N_(
    "Acceso al portal bloqueado por intentos fallidos. Desbloquee solo tras confirmar la "
    "identidad del deudor por teléfono."
)
VERIFY_LOCKED_LABEL = N_(
    "Verificación de identidad en llamadas y chats bloqueada por respuestas equivocadas. "
    "Desbloquee solo tras confirmar la identidad del deudor por otra vía."
)


class PortalUnavailable(Exception):
    """The portal's secrets are not configured: it fails closed."""


def _secret(encoded: str) -> bytes:
    if not encoded:
        raise PortalUnavailable("portal_link_secret is not set")
    try:
        key = base64.b64decode(encoded + "==", validate=False)
    except (binascii.Error, ValueError) as exc:
        raise PortalUnavailable("portal_link_secret is not base64") from exc
    if len(key) < 32:
        raise PortalUnavailable("portal_link_secret is shorter than 32 bytes")
    return key


def _keys(request: web.Request) -> tuple[bytes, bytes]:
    settings = request.app[SETTINGS]
    try:
        return _secret(settings.portal_link_secret), idc.identity_key(settings.portal_identity_key)
    except (PortalUnavailable, idc.IdentityError) as exc:
        log.warning("self-service portal unavailable: %s", exc)
        raise web.HTTPServiceUnavailable(
            text=gettext_(N_("El portal no está disponible."))
        ) from exc


def _render(request: web.Request, template: str, context: dict[str, Any],
            status: int = 200) -> web.Response:  # fmt: skip
    response = aiohttp_jinja2.render_template(template, request, context, status=status)
    response.headers["Cache-Control"] = "no-store"  # personal data: never cached
    response.headers["Referrer-Policy"] = "no-referrer"  # the link's token stays here
    return response


def _field(form: Any, name: str) -> str:
    value = form.get(name, "")
    if not isinstance(value, str):
        raise web.HTTPBadRequest(text=gettext_(N_("Formulario no válido.")))
    if len(value) > MAX_FIELD:
        raise web.HTTPRequestEntityTooLarge(MAX_FIELD, len(value),
                                            text=gettext_(N_("Un campo es demasiado largo.")))  # fmt: skip
    return value


# ---- the way in --------------------------------------------------------------------


async def entry(request: web.Request) -> web.StreamResponse:
    """/p: the reference and the identity answer (for a debtor without a link)."""
    _keys(request)
    return _render(request, "portal_entry.html",
                   {"mode": "reference", "ended": request.query.get("ended") == "1"})  # fmt: skip


async def entry_post(request: web.Request) -> web.StreamResponse:
    _link_secret, key = _keys(request)
    form = await request.post()
    ref = _field(form, "ref").strip()[: idc.MAX_REFERENCE + 1]
    answer = _field(form, "digits")
    now = request.app[CLOCK]()
    account_id = await in_db(request, _account_by_ref, ref) if ref else None
    # The anonymous path's own row: a stranger holding a letter (the reference is on
    # it) locks this way in, not the debtor's links nor the agents' check.
    gate = idc.entry_gate(account_id) if account_id is not None else "entry:unknown"
    try:
        verdict = await _of_account(request, account_id, _check, gate, account_id, answer, key,
                                    request.remote or "unknown", now)  # fmt: skip
    except idc.IdentityError:
        return _render(request, "portal_entry.html", {"mode": "reference", "ref": ref[:64],
                       "error": gettext_(N_("Escriba los 4 últimos dígitos de su documento."))},
                       status=400)  # fmt: skip
    except _AccountGone:
        return _no_match(request, ref)  # deleted since it was looked up: as an unknown one
    if verdict.throttled:
        return _render(request, "portal_entry.html", {"mode": "reference",
                       "error": gettext_(N_("Demasiados intentos; espere unos minutos."))},
                       status=429)  # fmt: skip
    if not verdict.verified or account_id is None:
        return _no_match(request, ref)
    try:
        return await _enter(request, account_id, gate, now)
    except _AccountGone:
        return _no_match(request, ref)


def _no_match(request: web.Request, ref: str) -> web.Response:
    """The same answer for an unknown reference, a wrong answer and a lock: the page
    never says whether a reference exists."""
    return _render(request, "portal_entry.html", {"mode": "reference", "ref": ref[:64],
                   "error": gettext_(N_("Los datos no coinciden, o el acceso en línea a esa "
                                        "cuenta quedó bloqueado por seguridad tras varios "
                                        "intentos fallidos. Llámenos: lo desbloqueamos en "
                                        "cuanto confirmemos su identidad."))},
                   status=403)  # fmt: skip


async def link(request: web.Request) -> web.StreamResponse:
    """/p/<token>: the identity question, or why the link cannot be used."""
    secret, _key = _keys(request)
    now = request.app[CLOCK]()
    token = request.match_info["token"]
    try:
        account_id = verify(token, secret, now)
    except LinkError as exc:
        return _invalid(request, exc)
    if not await in_db(request, _account_exists, account_id):
        return _gone(request)
    locked = await in_db(request, idc.link_locked, token, account_id, now)
    if locked is not None:
        mode = "account_locked" if locked == "account" else "locked"
        return _render(request, "portal_entry.html", {"mode": mode}, status=403)
    return _render(request, "portal_entry.html", {"mode": "link", "token": token})


async def link_post(request: web.Request) -> web.StreamResponse:
    secret, key = _keys(request)
    now = request.app[CLOCK]()
    token = request.match_info["token"]
    try:
        account_id = verify(token, secret, now)
    except LinkError as exc:
        return _invalid(request, exc)
    if not await in_db(request, _account_exists, account_id):
        return _gone(request)  # before any answer is counted: there is nothing to open
    form = await request.post()
    answer = _field(form, "digits")
    gate = idc.link_gate(token)
    try:
        verdict = await _of_account(request, account_id, _check, gate, account_id, answer, key,
                                    request.remote or "unknown", now)  # fmt: skip
    except idc.IdentityError:
        return _render(request, "portal_entry.html", {"mode": "link", "token": token,
                       "error": gettext_(N_("Escriba los 4 últimos dígitos de su documento."))},
                       status=400)  # fmt: skip
    except _AccountGone:
        return _gone(request)  # deleted since the look-up above: the same page
    if verdict.locked:
        # A new link does not help while the account's reference is locked: call us.
        mode = "account_locked" if verdict.account_locked else "locked"
        return _render(request, "portal_entry.html", {"mode": mode}, status=403)
    if verdict.throttled:
        return _render(request, "portal_entry.html", {"mode": "link", "token": token,
                       "error": gettext_(N_("Demasiados intentos; espere unos minutos."))},
                       status=429)  # fmt: skip
    if not verdict.verified:
        error = gettext_(N_("Los dígitos no coinciden. Le quedan {n} intentos.")).replace(
            "{n}", str(verdict.tries_left)
        )
        return _render(request, "portal_entry.html", {"mode": "link", "token": token,
                       "error": error}, status=400)  # fmt: skip
    try:
        return await _enter(request, account_id, gate, now)
    except _AccountGone:
        return _gone(request)


def _invalid(request: web.Request, exc: LinkError) -> web.Response:
    expired = "expired" in str(exc)
    message = (N_("Este enlace ya venció. Pida uno nuevo o entre con su número de cuenta.")
               if expired else N_("Este enlace no es válido."))  # fmt: skip
    return _render(request, "portal_entry.html", {"mode": "invalid", "error": gettext_(message)},
                   status=410 if expired else 400)  # fmt: skip


def _gone(request: web.Request) -> web.Response:
    """A link signed by us for an account deleted since: nothing to ask nor to show."""
    return _render(request, "portal_entry.html", {"mode": "gone"}, status=410)


def _account_exists(engine: Engine, account_id: int) -> bool:
    with transaction(engine) as session:
        return session.get(Account, account_id) is not None


class _AccountGone(Exception):
    """The account was deleted after it was looked up: a row of it was refused."""


async def _of_account(request: web.Request, account_id: int | None, fn: Any, *args: Any) -> Any:
    """in_db for a unit of work that writes rows of the account (a gate row, a session).
    An account deleted after the handler looked it up fails it on a foreign key: that
    is the account gone (_AccountGone), not a service down (the 503 of any other
    IntegrityError)."""
    try:
        return await in_db(request, fn, *args)
    except IntegrityError:
        if account_id is None or await in_db(request, _account_exists, account_id):
            raise
        raise _AccountGone from None


def _account_by_ref(engine: Engine, ref: str) -> int | None:
    if len(ref) > idc.MAX_REFERENCE:
        return None
    with transaction(engine) as session:
        return session.scalar(select(Account.id).where(Account.external_ref == ref))


def _check(engine: Engine, gate: str, account_id: int | None, answer: str, key: bytes,
           client: str, now: datetime) -> idc.Verdict:  # fmt: skip
    return idc.check(engine, gate=gate, account_id=account_id, answer=answer, key=key,
                     client=client, now=now)  # fmt: skip


async def _enter(request: web.Request, account_id: int, gate: str, now: datetime) -> web.Response:
    session = await get_session(request)
    old = session.get(SESSION_KEY)
    if isinstance(old, dict) and isinstance(old.get("s"), str):
        await in_db(request, portal_sessions.end, old["s"], now)  # one session per browser
    sid = await _of_account(request, account_id, portal_sessions.start, account_id, now)
    debtor = da.Debtor(account_id, "portal", session=sid, client=request.remote or "")
    try:
        await _of_account(request, account_id, da.record_contact, debtor, "identified", now,
                          {"gate": gate[:5]})  # fmt: skip
    except da.ActionError as exc:
        if exc.field != "account":
            raise
        raise _AccountGone from None  # deleted since the session began (its row with it)
    session[SESSION_KEY] = {"a": account_id, "s": sid}
    # A new CSRF token with the new standing, as the console's login does: a token read
    # before the check (a page left open on a shared computer, a cookie planted in the
    # browser) is worth nothing inside.
    session["csrf"] = new_csrf_token()
    raise web.HTTPSeeOther("/p/cuenta")


async def _debtor(request: web.Request, *, activity: bool = True) -> da.Debtor:
    """The verified debtor of this browser session; to the way in when none, idle or
    old. `activity`: this request is something the debtor did (it keeps the session
    going); a poll is not."""
    session = await get_session(request)
    state = session.get(SESSION_KEY)
    now = request.app[CLOCK]()
    live = (
        isinstance(state, dict)
        and isinstance(state.get("a"), int)
        and isinstance(state.get("s"), str)
        and await in_db(request, portal_sessions.resolve, state["s"], state["a"], now, activity)
    )
    if not live:
        session.pop(SESSION_KEY, None)
        raise web.HTTPSeeOther("/p?ended=1")
    assert isinstance(state, dict)
    return da.Debtor(int(state["a"]), "portal", session=str(state["s"])[:64],
                     client=request.remote or "")  # fmt: skip


async def leave(request: web.Request) -> web.StreamResponse:
    """The debtor leaves ("Salir"): the session ends in SQL, so a copy of the cookie is worth nothing now."""
    session = await get_session(request)
    state = session.pop(SESSION_KEY, None)
    if isinstance(state, dict) and isinstance(state.get("s"), str):
        await in_db(request, portal_sessions.end, state["s"], request.app[CLOCK]())
    raise web.HTTPSeeOther("/p?ended=1")


# ---- the account -------------------------------------------------------------------


async def account(request: web.Request) -> web.StreamResponse:
    debtor = await _debtor(request)
    done = request.query.get("ok", "")
    return await _account_page(request, debtor, message=DONE_MESSAGES.get(done))


async def _account_page(
    request: web.Request, debtor: da.Debtor, *, message: str | None = None,
    errors: dict[str, str] | None = None, status: int = 200, section: str = "",
    payment_url: str = "",
) -> web.Response:  # fmt: skip
    now = request.app[CLOCK]()
    engine = request.app[ENGINE]
    blocked = await account_blocks(request.app[COMPLIANCE], debtor.account_id, now)
    summary = await asyncio.to_thread(da.summary, engine, debtor.account_id, now, blocked)
    slots: list[datetime] = []
    if summary.status == "active":
        slots = await asyncio.to_thread(da.callback_slots, engine, debtor.account_id, now,
                                        request.app[CALLBACK_CHECKER])  # fmt: skip
    docs_open = await asyncio.to_thread(da.documents_open, engine, debtor.account_id)
    reply = await asyncio.to_thread(agent_replied_last, engine, debtor.account_id, now)
    docs = await asyncio.to_thread(da.documents, engine, debtor.account_id) if docs_open else []
    await asyncio.to_thread(_pii_view, engine, debtor, "portal_account", now)
    shown = debtor_locale(summary.country, request.get(LANG, "es"))
    whole, covered = account_line(summary.blocked)
    return _render(request, "portal_account.html",
                   {"a": _view(summary, slots, shown), "docs_open": docs_open,
                    "chat_reply": _reply_view(reply, summary, request.get(LANG, "es")),
                    "docs": [{"id": d.id, "title": d.title, "size": shown.size(d.size_bytes)}
                             for d in docs],
                    "message": gettext_(message) if message else "", "errors": errors or {},
                    "section": section, "dispute_labels": DISPUTE_LABELS,
                    "online_pay": payment_provider(request.app) is not None,
                    "payment_url": payment_url,
                    "channels": [(c, CHANNEL_LABELS[c], c in summary.opted_out,
                                  block_line(summary.blocked[c]) if c in summary.blocked
                                  and c not in summary.opted_out and c not in covered else "")
                                 for c in OPT_OUT_CHANNELS],
                    "account_blocked": whole,
                    "reopenable": summary.reopenable},
                   status=status)  # fmt: skip


def _reply_view(reply: AgentReply | None, s: da.Summary, lang: str) -> dict[str, str] | None:
    """An agent's answer waiting in the chat: quoted on the account page with its time
    on the debtor's clock, so it is not found only by opening the chat."""
    if reply is None:
        return None
    zones = debtor_zones(s.timezone, s.country, None, None)
    zone = zones[0].key if zones else "UTC"
    return {"text": reply.text, "when": when_label(reply.at, zone, s.country, lang)}


def _view(s: da.Summary, slots: list[datetime], shown: DebtorLocale) -> dict[str, Any]:
    """The account as the page shows it: money in the account's notation and currency,
    dates and times in the debtor's language and locale, times in their zone (named)."""
    money = money_format(s.country, s.currency)
    zones = debtor_zones(s.timezone, s.country, None, None)
    zone = zones[0] if zones else ZoneInfo("UTC")
    return {
        "name": s.debtor_name,
        "ref": s.external_ref,
        "status": s.status,
        "active": s.status == "active" and s.balance > 0,
        "disputed": s.disputed,
        "balance": money.show(s.balance),
        "balance_plain": money.typed(s.balance),
        "due_date": shown.day(s.due_date) if s.due_date else "",
        "breakdown": [
            (k.removeprefix("desglose_").replace("_", " ").capitalize(), _money_or_text(money, v))
            for k, v in s.breakdown
        ],  # fmt: skip
        "promises": [
            {"amount": money.show(a), "due": shown.day(d)} for _i, a, d in s.open_promises
        ],
        "plans": [
            {
                "status": st,
                "status_label": plan_status_label(st),  # "Rechazado", never "rejected"
                "total": money.show(t),
                "n": n,
                "first": shown.day(s.plan_first_due[i]) if i in s.plan_first_due else "",
            }
            for i, st, t, n in s.plans
        ],  # fmt: skip
        "options": [
            {
                "id": o.id,
                "n": o.instalments,
                "interval": INTERVAL_LABELS[o.interval],
                "first": shown.day(o.first_date),
                "amount": money.show(o.amount),
                "total": money.show(o.total),
                "supervisor": o.needs_supervisor,
            }
            for o in s.plan_options
        ],  # fmt: skip
        "intervals": [(i, INTERVAL_LABELS[i]) for i in s.plan_limits.get("intervals", [])],
        "max_instalments": s.plan_limits.get("max_instalments", 0),
        "first_min": s.today.isoformat(),
        "first_max": s.plan_limits["first_date_max"].isoformat() if s.plan_limits else "",
        "promise_max": (s.today + timedelta(days=s.promise_max_days)).isoformat(),
        # The same range in words, beside each date input.
        "promise_hint": shown.allowed_days(s.today, s.today + timedelta(days=s.promise_max_days)),
        "first_hint": shown.allowed_days(s.today, s.plan_limits["first_date_max"])
        if s.plan_limits
        else "",
        "today": s.today.isoformat(),
        "zone": shown.zone_name(zone),
        "date_pattern": shown.date_pattern,
        "slots": [(at.isoformat(), shown.moment(at, zone)) for at in slots],
        "callbacks": [shown.moment(at, zone) for at in s.callbacks],
        "instructions": s.payment_instructions,
        "opted_out": sorted(s.opted_out),
    }


def _money_or_text(money: Any, value: str) -> str:
    """A breakdown amount in the account's currency; any other text as given."""
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return value
    return money.show(amount) if amount.is_finite() else value


def _pii_view(engine: Engine, debtor: da.Debtor, what: str, now: datetime) -> None:
    with transaction(engine) as session:
        audit_append(session, "pii_view",
                     {"account_id": debtor.account_id, "purpose": what, "by": "debtor",
                      "session": debtor.session[:8]},
                     actor=debtor.actor, subject=f"account:{debtor.account_id}", now=now)  # fmt: skip


async def _act(request: web.Request, debtor: da.Debtor, section: str, call: Any,
               *args: Any, **kwargs: Any) -> web.StreamResponse:  # fmt: skip
    """Run one action; its error re-renders the page (400) naming the field."""
    try:
        result: da.ActionResult = await asyncio.to_thread(call, request.app[ENGINE], debtor,
                                                          *args, **kwargs)  # fmt: skip
    except da.ActionError as exc:
        text = gettext_(exc.message)
        for key, value in exc.fills.items():
            text = text.replace("{" + key + "}", value)
        return await _account_page(request, debtor, errors={section: text}, status=400,
                                   section=section)  # fmt: skip
    with contextlib.suppress(RedisError, OSError):
        # SQL already says it; the hopper follows now (or at its next refill).
        await da.notify_dialer(request.app[REDIS], result)
    done = (
        "plan_pending" if result.action == "plan" and result.status == "pending" else result.action
    )
    raise web.HTTPSeeOther(f"/p/cuenta?ok={quote(done)}#{section}")


def _country_of(engine: Engine, account_id: int) -> str:
    with transaction(engine) as session:
        country = session.scalar(select(Account.country).where(Account.id == account_id))
        if country is None:
            raise web.HTTPNotFound()
        return str(country)


def _money_of(engine: Engine, account_id: int) -> MoneyFormat:
    with transaction(engine) as session:
        account = session.get(Account, account_id)
        if account is None:
            raise web.HTTPNotFound()
        return money_format(account.country, account.currency)


async def _typed_day(request: web.Request, debtor: da.Debtor, raw: str) -> date | str:
    """The day as typed: ISO from a date picker, else the debtor's notation (dd/mm/aaaa),
    or why it cannot be read as one day (translated)."""
    country = await asyncio.to_thread(_country_of, request.app[ENGINE], debtor.account_id)
    shown = debtor_locale(country, request.get(LANG, "es"))
    try:
        return shown.read_day(raw)
    except DateTyped as exc:
        return exc.render(gettext_)


async def _typed(request: web.Request, debtor: da.Debtor, raw: str) -> Decimal | str:
    """The amount as typed in the account's notation (1,500.00 in MXN, 1.500,00 in
    COP), or why it cannot be read (translated)."""
    fmt = await asyncio.to_thread(_money_of, request.app[ENGINE], debtor.account_id)
    try:
        return parse_amount(raw[:40], fmt)
    except MoneyError as exc:
        return exc.render(gettext_)


async def promise(request: web.Request) -> web.StreamResponse:
    debtor = await _debtor(request)
    form = await request.post()
    amount = await _typed(request, debtor, _field(form, "amount"))
    if isinstance(amount, str):
        return await _account_page(request, debtor, status=400, section="promise",
                                   errors={"promise": amount})  # fmt: skip
    due = await _typed_day(request, debtor, _field(form, "due"))
    if isinstance(due, str):
        return await _account_page(request, debtor, status=400, section="promise",
                                   errors={"promise": due})  # fmt: skip
    return await _act(request, debtor, "promise", da.make_promise, amount, due,
                      request.app[CLOCK]())  # fmt: skip


async def plan(request: web.Request) -> web.StreamResponse:
    debtor = await _debtor(request)
    form = await request.post()
    now = request.app[CLOCK]()
    option = _field(form, "option")
    if option and option != "custom":
        return await _act(request, debtor, "plan", da.choose_plan_option, option, now)
    count = _field(form, "instalments").strip()
    if not count.isascii() or not count.isdigit() or len(count) > 3:  # "²" is no int
        return await _account_page(request, debtor, status=400, section="plan",
                                   errors={"plan": gettext_(N_("Elija el número de pagos y la "
                                                               "fecha del primero."))})  # fmt: skip
    first = await _typed_day(request, debtor, _field(form, "first_date"))
    if isinstance(first, str):
        return await _account_page(request, debtor, status=400, section="plan",
                                   errors={"plan": first})  # fmt: skip
    return await _act(request, debtor, "plan", da.choose_plan, instalments=int(count),
                      interval=_field(form, "interval")[:20], first_date=first, now=now)  # fmt: skip


async def callback(request: web.Request) -> web.StreamResponse:
    debtor = await _debtor(request)
    form = await request.post()
    when = _instant(_field(form, "when"))
    if when is None:
        return await _account_page(request, debtor, status=400, section="callback",
                                   errors={"callback": gettext_(N_("Elija una hora."))})  # fmt: skip
    return await _act(request, debtor, "callback", da.request_callback, when,
                      request.app[CLOCK](), request.app[CALLBACK_CHECKER])  # fmt: skip


async def dispute(request: web.Request) -> web.StreamResponse:
    debtor = await _debtor(request)
    form = await request.post()
    return await _act(request, debtor, "dispute", da.open_dispute, _field(form, "kind")[:20],
                      _field(form, "text"), request.app[CLOCK]())  # fmt: skip


async def opt_out(request: web.Request) -> web.StreamResponse:
    debtor = await _debtor(request)
    form = await request.post()
    channel = _field(form, "channel")[:20]
    return await _act(request, debtor, "channels", da.opt_out,
                      None if channel == "all" else channel, request.app[CLOCK](),
                      _field(form, "text"))  # fmt: skip


async def opt_in(request: web.Request) -> web.StreamResponse:
    """The debtor authorises again a channel they stopped here (their choice of
    channels); a stop they did not ask for here stays (the page says to call)."""
    debtor = await _debtor(request)
    form = await request.post()
    return await _act(request, debtor, "channels", da.opt_in, _field(form, "channel")[:20],
                      request.app[CLOCK](), _field(form, "text"))  # fmt: skip


async def pay(request: web.Request) -> web.StreamResponse:
    """A payment link for an amount (the provider's page takes the card, never us); the
    page then shows the way to it (a link: the form's own target stays this site)."""
    debtor = await _debtor(request)
    provider = payment_provider(request.app)
    if provider is None:
        raise web.HTTPNotFound()
    form = await request.post()
    amount = await _typed(request, debtor, _field(form, "amount"))
    if isinstance(amount, str):
        return await _account_page(request, debtor, status=400, section="pay",
                                   errors={"pay": amount})  # fmt: skip
    now = request.app[CLOCK]()
    try:
        link = await create_link(request.app[ENGINE], provider, debtor.account_id, amount,
                                 actor=debtor.actor, now=now,
                                 hours=request.app[SETTINGS].payment_link_hours,
                                 audit=audit_append)  # fmt: skip
    except TooManyLinks:
        return await _account_page(request, debtor, status=429, section="pay", errors={
            "pay": gettext_(N_("Ya pidió muchos enlaces de pago en la última hora; use el último "
                               "que recibió o inténtelo más tarde."))})  # fmt: skip
    except PaymentLinkError:
        return await _account_page(request, debtor, status=400, section="pay", errors={
            "pay": gettext_(N_("Escriba un monto mayor que cero y no mayor que su saldo."))})  # fmt: skip
    except ProviderUnavailable:
        return await _account_page(request, debtor, status=503, section="pay", errors={
            "pay": gettext_(N_("El servicio de pagos no responde; inténtelo en unos minutos."))})  # fmt: skip
    await asyncio.to_thread(da.record_contact, request.app[ENGINE], debtor, "payment_link", now,
                            {"link_id": link.id, "amount": str(link.amount)})  # fmt: skip
    return await _account_page(request, debtor, section="pay", payment_url=link.url)


async def download(request: web.Request) -> web.StreamResponse:
    debtor = await _debtor(request)
    doc_id = id_or_404(request.match_info["doc_id"])
    engine = request.app[ENGINE]
    if not await asyncio.to_thread(da.documents_open, engine, debtor.account_id):
        raise web.HTTPNotFound()
    try:
        info, data = await asyncio.to_thread(da.document, engine, debtor.account_id, doc_id)
    except LookupError:
        raise web.HTTPNotFound() from None
    await asyncio.to_thread(_pii_view, engine, debtor, f"portal_document:{info.id}",
                            request.app[CLOCK]())  # fmt: skip
    return web.Response(body=data, content_type=info.content_type, headers={
        "Content-Disposition": f'attachment; filename="{info.filename}"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})  # fmt: skip


_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?([+-]\d{2}:\d{2}|Z)")


def _instant(raw: str) -> datetime | None:
    """An aware instant (the slots' values carry their offset); None otherwise."""
    text = raw.strip()[:40]
    if not _INSTANT.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


# ---- supervisors: the tasks the portal opens ----------------------------------------


@requires(Role.supervisor)
async def tasks(request: web.Request) -> web.StreamResponse:
    zone = reader_zone(request)
    shown = zone or ZoneInfo("UTC")  # before the browser has said its zone (or without JS)
    words = console_locale()
    rows = await in_db(request, da.open_tasks, plan_scope(user_of(request)))
    for row in rows:
        locks = {idc.PORTAL_LOCK_TASK: PORTAL_LOCKED_LABEL,
                 verify_lock.VERIFY_LOCK_TASK: VERIFY_LOCKED_LABEL}  # fmt: skip
        row["unlock"] = row["kind"] in locks
        row["dispute_label"] = gettext_(
            locks.get(row["kind"])
            or DISPUTE_LABELS.get(row["dispute_kind"], N_("Otro motivo"))
        )  # fmt: skip
        row["at"] = words.stamp(row["created_at"], (shown,))
    # The zone said once, by its city, above the list (console/debtor_locale.py).
    return aiohttp_jinja2.render_template("supervisor_tasks.html", request, {
        "tasks": rows, "zone": shown.key, "zone_label": words.zone_name(shown),
        "tz_query": f"?tz={quote(zone.key, safe='/')}" if zone else ""})  # fmt: skip


@requires(Role.supervisor)
async def task_done(request: web.Request) -> web.StreamResponse:
    task_id = id_or_404(request.match_info["task_id"])
    zone = reader_zone(request)  # a bad zone refused before anything is closed
    user = user_of(request)
    done = await in_db(request, _close_task, task_id, user.id, user.actor,
                       plan_scope(user), request.app[CLOCK]())  # fmt: skip
    if not done:
        raise web.HTTPNotFound()
    raise web.HTTPSeeOther(
        "/supervisor/tasks" + (f"?tz={quote(zone.key, safe='/')}" if zone else "")
    )


def _close_task(engine: Engine, task_id: int, user_id: int, actor: str,
                scope: set[int] | None, now: datetime) -> bool:  # fmt: skip
    with transaction(engine) as session:
        task = session.get(SupervisorTask, task_id, with_for_update=True)
        if (
            task is None
            or task.status != "open"
            or (scope is not None and task.campaign_id not in scope)
        ):
            return False
        if task.kind == idc.PORTAL_LOCK_TASK:
            # The debtor was identified another way (a call): their reference opens again
            # (the shared row and the anonymous path's).
            idc.unlock_account_in(session, task.account_id, actor, now, user_id)
        elif task.kind == verify_lock.VERIFY_LOCK_TASK:
            # The same for the identity questions an agent asks on calls and in chats.
            verify_lock.unlock_in(session, task.account_id, actor, now, user_id)
        task.status, task.done_at, task.done_by = "done", now, user_id
        audit_append(session, "supervisor_task", {"task_id": task.id, "kind": task.kind,
                                                  "account_id": task.account_id, "status": "done"},
                     actor=actor, subject=f"account:{task.account_id}", now=now)  # fmt: skip
        return True


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/p", entry)
    app.router.add_post("/p", entry_post)
    app.router.add_get("/p/cuenta", account)
    app.router.add_post("/p/cuenta/promesa", promise)
    app.router.add_post("/p/cuenta/plan", plan)
    app.router.add_post("/p/cuenta/llamada", callback)
    app.router.add_post("/p/cuenta/disputa", dispute)
    app.router.add_post("/p/cuenta/canales", opt_out)
    app.router.add_post("/p/cuenta/canales/autorizar", opt_in)
    app.router.add_post("/p/cuenta/pago", pay)
    app.router.add_get("/p/cuenta/documentos/{doc_id}", download)
    app.router.add_post("/p/salir", leave)
    app.router.add_get("/p/{token:" + TOKEN + "}", link)
    app.router.add_post("/p/{token:" + TOKEN + "}", link_post)
    app.router.add_get("/supervisor/tasks", tasks)
    app.router.add_post("/supervisor/tasks/{task_id}/done", task_done)
