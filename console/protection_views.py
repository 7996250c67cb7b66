"""Supervisor: mark a protected person (deceased, minor, insolvency) or a number that
reaches someone else (compliance/protection.py); audited, and the dialer is told to drop
the account and hang up its ringing call (the next check of every process already
refuses it: the fact is in SQL)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import Engine, select

from compliance.protection import (
    PROTECTIONS,
    ProtectionChange,
    ProtectionError,
    mark_third_party_number,
    protect_account,
    protection_reason,
)
from console.i18n import gettext_
from console.keys import CLOCK, REDIS
from console.params import ParamError, parse_id
from console.recording_service import may_see_campaign
from console.supervisor_views import render_supervisor
from console.users import CurrentUser
from console.webutil import in_db, requires, user_of
from dialer.messages import Notifier, StopAccount
from store.db import transaction
from store.models import Campaign, Role
from store.number_validity import MAX_REASON, PhoneChange, ReactivationError, reactivate

MAX_FIELD = 100


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/supervisor/protection", protection_change)
    app.router.add_post("/supervisor/third-party-number", third_party_number)
    app.router.add_post("/supervisor/phones/{phone_id}/reactivate", reactivate_phone)


def _protect(
    engine: Engine, user: CurrentUser, ref: str, protection: str | None, evidence: str,
    now: datetime,
) -> tuple[ProtectionChange, str]:  # fmt: skip
    with transaction(engine) as session:
        change = protect_account(session, ref, protection, evidence, actor=user.actor, now=now,
                                 may_change=lambda c: may_see_campaign(user, c))  # fmt: skip
        return change, _campaign_name(session, change.campaign_id)


def _third_party(
    engine: Engine, user: CurrentUser, ref: str, number: str, now: datetime
) -> tuple[ProtectionChange, str]:
    with transaction(engine) as session:
        change = mark_third_party_number(session, ref, number, actor=user.actor, now=now,
                                         may_change=lambda c: may_see_campaign(user, c))  # fmt: skip
        return change, _campaign_name(session, change.campaign_id)


def _reactivate(
    engine: Engine, user: CurrentUser, phone_id: int, reason: str, now: datetime
) -> PhoneChange:
    with transaction(engine) as session:
        return reactivate(session, phone_id, reason, actor=user.actor, now=now,
                          may_change=lambda c: may_see_campaign(user, c))  # fmt: skip


def _campaign_name(session: object, campaign_id: int | None) -> str:
    if campaign_id is None:
        return ""
    return session.scalar(select(Campaign.name).where(Campaign.id == campaign_id)) or ""  # type: ignore[attr-defined]


async def _field(request: web.Request, name: str) -> str:
    form = await request.post()
    return str(form.get(name, "")).strip()[: MAX_FIELD + 1]


@requires(Role.supervisor)
async def protection_change(request: web.Request) -> web.StreamResponse:
    """Set or clear an account's protection (by its reference), with its evidence."""
    user = user_of(request)
    ref = await _field(request, "account")
    wanted = await _field(request, "protection")
    evidence = await _field(request, "evidence")
    if wanted not in (*PROTECTIONS, "none"):
        return await render_supervisor(request, error=gettext_("Protección desconocida."),
                                       status=400)  # fmt: skip
    protection = None if wanted == "none" else wanted
    try:
        change, campaign = await in_db(request, _protect, user, ref, protection, evidence,
                                       request.app[CLOCK]())  # fmt: skip
    except (LookupError, PermissionError):
        # Another campaign's account is answered as one that does not exist: "not your
        # campaign" told a supervisor tied to one campaign which references the others hold.
        return await render_supervisor(request, error=gettext_("Esa cuenta no existe."),
                                       status=404)  # fmt: skip
    except ProtectionError:
        return await render_supervisor(
            request, error=gettext_("La referencia de la evidencia es demasiado larga."),
            status=400,
        )  # fmt: skip
    reason = protection_reason(protection)
    if change.changed and reason is not None:
        await Notifier(request.app[REDIS]).send(StopAccount(change.account_id, reason, campaign))
    return _back(request, "protected" if protection else "saved")


@requires(Role.supervisor)
async def third_party_number(request: web.Request) -> web.StreamResponse:
    """Mark one of an account's numbers as a third party's (never contacted on it)."""
    user = user_of(request)
    ref = await _field(request, "account")
    number = await _field(request, "number")
    try:
        change, campaign = await in_db(request, _third_party, user, ref, number,
                                       request.app[CLOCK]())  # fmt: skip
    except (LookupError, PermissionError):  # another campaign's: as one that does not exist
        return await render_supervisor(
            request, error=gettext_("Esa cuenta no existe o no tiene ese número."), status=404
        )
    except ProtectionError:
        return await render_supervisor(request, error=gettext_("Ese número no es válido."),
                                       status=400)  # fmt: skip
    if change.changed:
        await Notifier(request.app[REDIS]).send(
            StopAccount(change.account_id, "third_party", campaign)
        )
    return _back(request, "third_party")


@requires(Role.supervisor)
async def reactivate_phone(request: web.Request) -> web.StreamResponse:
    """Bring back a number marked invalid, with the supervisor's reason (audited): the
    next refill may dial it again, the checks deciding as for any number."""
    user = user_of(request)
    try:
        phone_id = parse_id(request.match_info["phone_id"], "phone_id")
    except ParamError:
        raise web.HTTPNotFound() from None
    form = await request.post()
    reason = str(form.get("reason", ""))[: MAX_REASON * 4]  # bounded before it is read
    try:
        await in_db(request, _reactivate, user, phone_id, reason, request.app[CLOCK]())
    except LookupError:  # another campaign's number: as one that does not exist
        return await render_supervisor(request, error=gettext_("Ese número no existe."),
                                       status=404)  # fmt: skip
    except ReactivationError:
        return await render_supervisor(
            request,
            error=gettext_("Escriba el motivo de la reactivación (hasta 300 caracteres)."),
            status=400,
        )
    return _back(request, "reactivated", "invalid-phones")


def _back(request: web.Request, done: str, anchor: str = "protection") -> web.StreamResponse:
    query = urlencode({"campaign": request.query.get("campaign", ""), "done": done})
    raise web.HTTPFound(f"/supervisor?{query}#{anchor}")
